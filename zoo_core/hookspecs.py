"""The hooks a zoo plugin can implement: one per kind of component.

Each hook takes no arguments and returns an iterable of
:class:`zoo_core.Component` specs. A plugin module implements a hook by
defining a function of the same name decorated with ``@zoo_core.hookimpl``.
Keep the module light: import TensorFlow inside the factories, never at the
top, so that ``zoo list`` stays fast.
"""

from __future__ import annotations

from typing import Iterable

import pluggy

from zoo_core.components import KIND_TABLE, Component

hookspec = pluggy.HookspecMarker("zoo")
hookimpl = pluggy.HookimplMarker("zoo")

#: Which component kind each hook registers (from the one table of kinds).
HOOK_KINDS: dict[str, str] = {kind.hook: kind.name for kind in KIND_TABLE}


@hookspec
def register_datasets() -> Iterable[Component]:
    """Register datasets.

    Each factory takes the dataset's parameters as keyword arguments and
    returns a ``zoo_core.data.Dataset``: ``x_train``, ``y_train``, ``x_test``,
    ``y_test`` as numpy arrays (labels are integer class indices) and a
    ``DatasetInfo`` with the input shape, number of classes, class names and
    the input contract (dtype, value range, how raw inputs are normalised);
    or, for data decoded as training reads it, a
    ``zoo_core.data.StreamingDataset``: the files (or records) of each split,
    their labels, a ``decode(file)`` function and the ``DatasetInfo``.
    """


@hookspec
def register_architectures() -> Iterable[Component]:
    """Register model architectures.

    Each factory is called as ``factory(input_shape, num_classes, **params)``
    with the shape of one input example and the number of classes from the
    dataset, and returns an uncompiled ``keras.Model`` whose output is the
    class probabilities (shape ``(batch, num_classes)``, rows sum to one).
    """


@hookspec
def register_optimizers() -> Iterable[Component]:
    """Register optimizers.

    Each factory takes the optimizer's parameters (learning rate and so on)
    as keyword arguments and returns a new ``keras.optimizers.Optimizer``.
    """


@hookspec
def register_losses() -> Iterable[Component]:
    """Register losses.

    Each factory takes the loss's parameters as keyword arguments and returns
    a ``keras.losses.Loss`` that compares integer class labels with the
    model's probabilities. A loss that wants one-hot labels instead sets the
    attribute ``zoo_one_hot_labels = True`` on the object it returns, and zoo
    one-hot encodes the dataset's labels for it.
    """


@hookspec
def register_exporters() -> Iterable[Component]:
    """Register exporters.

    Each factory is called as ``factory(context, **params)`` with a
    ``zoo_core.export.ExportContext`` (the trained model, the dataset, the
    destination directory and metadata) and returns a
    ``zoo_core.export.ExportResult``. An exporter writes to a temporary place,
    verifies what it wrote with the runtime that will run it, and only then
    moves it into ``context.destination``; on failure it leaves nothing there.
    """


@hookspec
def register_callbacks() -> Iterable[Component]:
    """Register callbacks: what takes part in how a run trains (early stopping, schedules, trackers).

    Each factory is called as ``factory(context, **params)`` with a
    ``zoo_core.training.callbacks.CallbackContext`` (run directory and id,
    recipe, the resolved config, settings, dataset info, ``is_chief``,
    ``initial_epoch``, the committed ``history`` and this callback's saved
    ``state``) once per process that trains the run, after the run directory
    exists, and returns a new ``keras.callbacks.Callback``. Check the
    parameters at the top of the factory and raise ``ConfigError`` there:
    zoo calls it once before any work to find such mistakes. Optional, on
    the returned callback: ``zoo_state()`` returns a JSON-serialisable dict
    saved with every checkpoint and handed back as ``context.state`` on
    resume; ``on_run_end(summary)`` is called once the run ends, with a
    ``RunSummary`` (status, test metrics, paths of plots, report and
    exports); ``zoo_stop_reason`` (a string) says why it stopped training;
    ``zoo_after_checkpoint = True`` runs its ``on_epoch_end`` after the
    epoch's checkpoint is committed (for trackers: an epoch a kill makes
    repeat is then never logged twice). Under multi-worker training only the
    chief (``context.is_chief``) may write to trackers.
    """
