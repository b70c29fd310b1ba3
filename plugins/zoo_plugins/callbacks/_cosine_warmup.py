"""CosineWarmup, behind the ``cosine-warmup`` callback (imported by its factory only: it imports Keras).

The rate is a function of the epoch (or the optimizer's step count), so
there is nothing to save with a checkpoint: a resumed run goes on where it
stopped.
"""

from __future__ import annotations

import math
from typing import Any

import keras

from zoo_plugins.callbacks._common import current_learning_rate


def cosine_warmup_rate(n: int, warmup: int, total: int, peak: float, minimum: float) -> float:
    """The rate of unit ``n`` (epoch or step, from 1) of ``total``: linear warm-up over ``warmup``, then cosine."""
    if n <= warmup:
        return peak * n / (warmup + 1)
    q = min(1.0, (n - warmup - 1) / max(1, total - warmup))
    return minimum + (peak - minimum) * 0.5 * (1.0 + math.cos(math.pi * q))


class CosineWarmup(keras.callbacks.Callback):
    """Sets the optimizer's learning rate from the epoch (or the optimizer's step count): nothing to save."""

    def __init__(self, context: Any, peak: float, minimum: float, warmup_epochs: int, by: str) -> None:
        super().__init__()
        self.context, self.peak, self.minimum, self.warmup_epochs, self.by = context, peak, minimum, warmup_epochs, by
        self.rates: list[float] = []

    def _set(self, n: int, warmup: int, total: int) -> None:
        rate = cosine_warmup_rate(n, warmup, total, self.peak, self.minimum)
        self.model.optimizer.learning_rate = rate
        self.rates.append(rate)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.by == "epoch":
            self._set(epoch + 1, self.warmup_epochs, self.context.epochs)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self.by == "step":
            steps = max(1, int(self.context.steps_per_epoch))
            step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) + 1
            self._set(step, self.warmup_epochs * steps, self.context.epochs * steps)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = current_learning_rate(self.model)
