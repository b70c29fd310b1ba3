"""Checkpointer: at each epoch end, commit a checkpoint, then history.csv, then the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import keras

from zoo_core.training.callbacks.components import Built, checkpoint_extra
from zoo_core.training.callbacks.history_writer import HistoryWriter
from zoo_core.training.callbacks.weight_snapshots import WeightSnapshots
from zoo_core.training.checkpointing import save_checkpoint


class Checkpointer(keras.callbacks.Callback):
    """At each epoch end: commit a checkpoint, then rewrite history.csv, then record the epoch in the manifest.

    The checkpoint holds the callback components' states and, when one of
    them stopped training early, why (``stopped_early``, in the manifest
    too). See zoo_core.training.checkpointing for what a checkpoint holds and
    why a kill at any moment leaves a consistent one.
    """

    def __init__(self, directory: Path, history: HistoryWriter, weights: WeightSnapshots, components: list[Built],
                 manifest: Any, epochs: int, committed: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self.committed = committed  #: called once the epoch is recorded: a stop need not wait any more
        self.directory = directory
        self.history = history
        self.weights = weights
        self.components = components
        self.manifest = manifest
        self.epochs = epochs

    def commit_start(self) -> None:
        """The checkpoint of a run that has none yet: no epoch done, nothing of the callbacks to save."""
        save_checkpoint(self.directory, self.model, 0, [], self.weights.snapshots, {"callbacks": {}})

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        done = epoch + 1
        extra = checkpoint_extra(self.components, done, self.epochs, bool(getattr(self.model, "stop_training", False)))
        save_checkpoint(self.directory, self.model, done, self.history.rows, self.weights.snapshots, extra)
        self.history.write()
        stopped = {"stopped_early": extra["stopped_early"]} if "stopped_early" in extra else {}
        self.manifest.update(epochs_done=done, **stopped)
        self.committed()
