"""StopAtSafePoint: Ctrl-C or SIGTERM stops training where nothing is half written."""

from __future__ import annotations

from typing import Callable

import keras


class StopAtSafePoint(keras.callbacks.Callback):
    """Turns a pending stop request (Ctrl-C, SIGTERM) into KeyboardInterrupt at a safe point.

    ``pending()`` returns the exception to raise, or None. Mid-epoch it raises
    after the current call into TensorFlow returns (the partial epoch is
    lost); when the request arrives in an epoch's last steps it waits for the
    epoch end, after the Checkpointer has committed that epoch: it comes
    last (zoo_core.training.callbacks.order).
    """

    def __init__(self, pending: Callable[[], BaseException | None], steps: int) -> None:
        super().__init__()
        self.pending = pending
        self.steps = steps

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if batch + 1 < self.steps:
            self._check()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._check()

    def _check(self) -> None:
        error = self.pending()
        if error is not None:
            raise error
