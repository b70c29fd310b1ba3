"""zoo: compose TensorFlow/Keras training runs from named, pluggable parts.

The public API for plugin authors is :class:`Component` and :data:`hookimpl`;
see docs/plugins.md. Importing this package never imports TensorFlow.
"""

from zoo_core.components import Component
from zoo_core.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["Component", "hookimpl", "__version__"]
