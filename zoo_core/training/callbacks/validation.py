"""Validation: the validation figures of each epoch in one call into TensorFlow (zoo's in-graph loop)."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf


class Validation(keras.callbacks.Callback):
    """At each epoch end: the validation figures (``val_loss``, ``val_accuracy``...) in one call into TensorFlow.

    Runs the model's ``test_step`` over the validation split in batches of
    ``batch_size`` inside one ``tf.function``, after resetting the model's
    metrics (as ``fit``'s own validation does, once the epoch's training
    figures are in the logs). Put it first among the callbacks: the others
    read its figures from the logs. ``stream``, a tf.data dataset of
    ``(input, label)`` batches, takes the place of ``x`` and ``y`` for a
    streaming dataset: one batch at a time is decoded (Keras' own validation
    would gather ``steps_per_execution`` batches first).
    """

    def __init__(self, x: np.ndarray | None, y: np.ndarray | None, batch_size: int, stream: Any = None) -> None:
        super().__init__()
        self._data = (x, y)
        self._batch_size = batch_size
        self._stream = stream
        self._evaluate: Any = None

    def _compile(self) -> Any:
        model, (x, y), stream = self.model, self._data, self._stream
        if stream is not None:
            @tf.function
            def evaluate_stream() -> Any:
                for batch in stream:
                    model.test_step(batch)
                return model.get_metrics_result()

            return evaluate_stream
        features, labels = tf.constant(x), tf.constant(y)
        count, size = len(x), self._batch_size
        steps = math.ceil(count / size)

        @tf.function
        def evaluate() -> Any:
            for step in tf.range(steps):
                model.test_step((features[step * size: (step + 1) * size], labels[step * size: (step + 1) * size]))
            return model.get_metrics_result()

        return evaluate

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._evaluate is None:
            self._evaluate = self._compile()
        self.model.reset_metrics()
        figures = self._evaluate()
        if logs is not None:
            logs.update({f"val_{name}": float(value) for name, value in figures.items()})
