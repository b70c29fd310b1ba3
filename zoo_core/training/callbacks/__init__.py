"""Callbacks: the contract of callback components, zoo's own Keras callbacks, and the one table of their order.

- ``context``: the contract, without TensorFlow: :class:`CallbackContext` (what a factory receives),
  :class:`RunSummary` (what ``on_run_end`` receives), :class:`ZooCallback` (what zoo reads from a callback).
- ``components``: the run's callback components (``callbacks = [...]``): built, their states saved, told the end.
- ``order``: :data:`~zoo_core.training.callbacks.order.ORDER`, the order Keras calls them all in, and the
  list of a run's callbacks built from it.
- one module per callback zoo adds to every run, named after its class: ``validation``, ``epoch_timer``,
  ``nan_guard``, ``history_writer``, ``weight_snapshots``, ``checkpointer``, ``progress``,
  ``stop_at_safe_point``.

Importing this package imports no TensorFlow; its modules with Keras classes do.
"""

from zoo_core.training.callbacks.context import CallbackContext, RunSummary, ZooCallback

__all__ = ["CallbackContext", "RunSummary", "ZooCallback"]
