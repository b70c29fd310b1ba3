"""StopAtSafePoint: Ctrl-C or SIGTERM stops training where nothing is half written."""

from __future__ import annotations

from typing import Any

import keras


class StopAtSafePoint(keras.callbacks.Callback):
    """Turns a pending stop request (Ctrl-C, SIGTERM) into KeyboardInterrupt at a safe point.

    ``stops`` is the command's zoo_core.training.signals.StopRequests. At each
    epoch's start it makes a first signal wait (``defer_until_committed``);
    mid-epoch it raises after the current call into TensorFlow returns (the
    partial epoch is lost); when the request arrives in an epoch's last steps
    it waits for the epoch end, after the Checkpointer has committed that
    epoch (and told ``stops``, so a signal during the callbacks after the
    checkpoint stops at once): it comes last (zoo_core.training.callbacks.order).
    """

    def __init__(self, stops: Any, steps: int) -> None:
        super().__init__()
        self.stops = stops
        self.steps = steps

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._check()
        self.stops.defer_until_committed()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if batch + 1 < self.steps:
            self._check()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._check()

    def _check(self) -> None:
        error = self.stops.pending()
        if error is not None:
            raise error
