"""Training a run: the Python API behind ``zoo run``, ``train``, ``resume``, ``evaluate`` and ``export``.

The modules, in the order a run uses them:

- ``runner``: :func:`train` and :func:`resume`, end to end; ``session``: the :class:`RunSession` its steps share.
- ``prepare``: check settings, load the data, set up TensorFlow, build the model, load a checkpoint.
- ``parameter_checks``: exporters and callbacks check their parameters before any work (one dry run).
- ``threads``: the architecture built once, before the runtime starts, to size the thread pools
  (multiply-adds: ``macs``, zoo's one counter, which ``zoo bench`` reports too).
- ``native_logs``: TensorFlow's native log lines, hidden.
- ``validation_split``: the validation split and its class-balance warnings.
- ``strategy``: the :class:`Strategy` protocol the runner hands around (``distribute`` implements it).
- ``fit``: the input, the callbacks, ``model.fit``; ``input_pipeline``: each epoch's batches;
  ``execution``: steps per call into TensorFlow; ``loop``: the in-graph loop inside ``fit``.
- ``callbacks/``: the callback contract, zoo's own callbacks and the one table of their order.
- ``checkpointing``: committing a checkpoint, loading one (its format: zoo_core.runs.checkpoint).
- ``signals``: SIGINT/SIGTERM/SIGHUP become a clean stop at a safe point.
- ``resume_changes``: what ``zoo resume --set`` may change, and the record of a changed cluster shape.
- ``completion``: after fit: metrics, model, plots, exports, report.
- ``finished_runs``: ``zoo evaluate`` and ``zoo export`` on a finished run.
- ``distribute``: mirrored and multi-worker training (a leaf: it never imports the runner).
"""

from zoo_core.training.completion import RunOutcome
from zoo_core.training.finished_runs import evaluate, export
from zoo_core.training.runner import resume, train
from zoo_core.training.signals import RunInterrupted

__all__ = ["RunInterrupted", "RunOutcome", "evaluate", "export", "resume", "train"]
