"""WeightSnapshots: a sample of each layer's kernel before training and after each epoch (the weight plots)."""

from __future__ import annotations

import math

import keras
import numpy as np


class WeightSnapshots(keras.callbacks.Callback):
    """Keeps a sample of each layer's kernel before training and after each epoch."""

    def __init__(self, max_values: int = 20_000) -> None:
        super().__init__()
        self.max_values = max_values
        self.snapshots: list[dict[str, np.ndarray]] = []

    def snapshot(self) -> None:
        """Record the current kernels (call once before training)."""
        layers: dict[str, np.ndarray] = {}
        for layer in self.model.layers:
            kernel = getattr(layer, "kernel", None)
            if kernel is None:
                continue
            values = np.asarray(keras.ops.convert_to_numpy(kernel)).ravel()
            if values.size > self.max_values:
                values = values[:: math.ceil(values.size / self.max_values)]
            layers[layer.name] = values
        self.snapshots.append(layers)

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not self.snapshots:
            self.snapshot()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.snapshot()
