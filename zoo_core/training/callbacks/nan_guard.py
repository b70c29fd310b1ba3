"""NaNGuard: stop training at once when the loss is NaN or infinite."""

from __future__ import annotations

import math

import keras


class NonFiniteLoss(Exception):
    """Raised by NaNGuard; the runner turns it into a clear failed run."""

    def __init__(self, epoch: int, batch: int | None, value: float) -> None:
        super().__init__(f"loss became {value} in epoch {epoch + 1}" + (f" (batch {batch + 1})" if batch is not None else ""))
        self.epoch = epoch


class NaNGuard(keras.callbacks.Callback):
    """Stops training at once when the loss is NaN or infinite."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._check(logs, batch)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._check(logs, None, epoch)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def _check(self, logs: dict | None, batch: int | None, epoch: int | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLoss(epoch if epoch is not None else getattr(self, "_epoch", 0), batch, float(loss))
