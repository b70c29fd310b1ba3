"""Training a run: the Python API behind ``zoo run``, ``train``, ``resume``, ``evaluate`` and ``export``.

The modules, in the order a run uses them:

- ``prepare``: check settings, load the data, set up TensorFlow, build the model, load a checkpoint.
- ``strategy``: the :class:`Strategy` protocol the runner hands around (``distribute`` implements it).
- ``engine``: thread pools, the input pipeline, steps per call into TensorFlow.
- ``threads``: a model's multiply-adds per example, counted before TensorFlow's runtime starts.
- ``loop``: the in-graph loop inside ``fit`` (index blocks, ``train_step`` per batch, validation in one call).
- ``callbacks`` and ``progress``: zoo's Keras callbacks (history, checkpoints, NaN guard, clean stops).
- ``signals``: SIGINT/SIGTERM/SIGHUP become a clean stop at a safe point.
- ``runner``: :func:`train` and :func:`resume`, end to end.
- ``resume_changes``: what ``zoo resume --set`` may change, and the record of a changed cluster shape.
- ``finish``: after fit: metrics, model, plots, exports, report.
- ``finished_runs``: ``zoo evaluate`` and ``zoo export`` on a finished run.
- ``distribute``: mirrored and multi-worker training (a leaf: it never imports the runner).
"""

from zoo_core.training.finish import RunOutcome
from zoo_core.training.finished_runs import evaluate, export
from zoo_core.training.runner import resume, train
from zoo_core.training.signals import RunInterrupted

__all__ = ["RunInterrupted", "RunOutcome", "evaluate", "export", "resume", "train"]
