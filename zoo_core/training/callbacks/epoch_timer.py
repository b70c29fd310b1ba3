"""EpochTimer: each epoch's wall time into the logs."""

from __future__ import annotations

import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Each epoch's wall time into ``logs["seconds"]``: from the previous epoch's end to this one's.

    So an epoch's time holds everything the training loop does once per
    epoch: the steps, validation, and the callbacks at the previous epoch's
    end (checkpoint, history.csv, manifest, progress line). The first epoch
    counts from the start of training (its time includes tracing). It comes
    before the callbacks that read the figure (zoo_core.training.callbacks.order).
    The last epoch's own checkpoint is therefore in no epoch's time (its row
    is inside that checkpoint), but in manifest.json's ``timings["training"]``;
    it is about 1 % of an epoch (tests/test_epoch_time.py).
    """

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._mark = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        if logs is not None:
            logs["seconds"] = now - self._mark
        self._mark = now
