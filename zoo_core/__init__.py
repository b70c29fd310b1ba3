"""zoo: compose TensorFlow/Keras training runs from named, pluggable parts.

The public API for plugin authors is :class:`Component` and :data:`hookimpl`,
and :class:`Range` and :class:`Choice` to declare a parameter's allowed values;
see docs/plugins.md. Importing this package never imports TensorFlow.
"""

from zoo_core.components import Choice, Component, Range
from zoo_core.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["Choice", "Component", "Range", "hookimpl", "__version__"]
