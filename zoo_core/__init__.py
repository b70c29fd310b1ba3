"""zoo: compose TensorFlow/Keras training runs from named, pluggable parts.

The public API for plugin authors is :class:`Component` and :data:`hookimpl`,
and :class:`Range` and :class:`Choice` to declare a parameter's allowed values;
see docs/plugins.md. Importing this package never imports TensorFlow.
"""

import time

#: When zoo was first imported (time.perf_counter()): a run's "startup" phase never starts before this minus
#: the interpreter's own start-up, even in a process that ran other programs before exec'ing zoo.
IMPORTED_AT = time.perf_counter()

from zoo_core.components import Choice, Component, Range  # noqa: E402 - after the clock above
from zoo_core.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["Choice", "Component", "Range", "hookimpl", "__version__"]
