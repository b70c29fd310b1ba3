"""The in-graph training loop inside Keras ``fit``: one call into TensorFlow runs many steps, validation is one call.

Keras' own multi-step loop (``steps_per_execution``) pulls every batch from a
tf.data iterator through an ``Optional`` and a ``tf.cond`` per step, and its
validation pass (``fit(validation_data=...)``) runs ``evaluate`` with its
callbacks and iterator each epoch. For a small model these cost more than
the arithmetic (benchmarks/NOTES.md has the figures). Here, for a run
without a tf.distribute strategy:

- the stream fed to ``fit`` holds only example indices, one block per call
  (``steps_per_execution`` batches of a stateless permutation seeded by
  (seed, epoch): the very batches of zoo's earlier per-batch pipeline, so
  resume and determinism are unchanged);
- ``model.train_function`` (which ``fit`` calls once per block) gathers each
  batch from the training tensor in the graph and calls the model's own
  ``train_step`` in a ``tf.range`` loop: a custom ``train_step`` still works,
  and ``fit`` still drives callbacks, progress, checkpoints and stops;
- :class:`Validation` evaluates the validation split in one compiled call at
  each epoch end with the model's own ``test_step``, and puts ``val_*``
  figures in the epoch's logs before any other callback reads them.

Everything here imports TensorFlow; nothing on the CLI fast path imports it.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo_core.training.engine import epoch_order


def index_blocks(count: int, batch_size: int, steps_per_execution: int, seed: int, shuffle: bool,
                 first_epoch: int, epochs: int) -> Any:
    """A tf.data stream of index blocks: each holds the examples of ``steps_per_execution`` batches, in order.

    ``steps_per_execution`` divides the epoch's steps, so an epoch is a whole
    number of blocks (the last block's last batch may be short, as the
    epoch's last batch is).
    """
    block = batch_size * steps_per_execution
    return (tf.data.Dataset.range(first_epoch, epochs)
            .flat_map(lambda epoch: tf.data.Dataset.from_tensor_slices(epoch_order(count, seed, shuffle, epoch))
                      .batch(block))
            .prefetch(2))


def install_train_function(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
    """Make ``model.fit`` train each index block in one call: batches gathered in the graph, ``train_step`` each.

    ``fit`` keeps ``model.train_function`` while the model is not compiled
    again; it calls it with the iterator of :func:`index_blocks`.
    """
    features, labels = tf.constant(x), tf.constant(y)
    size = tf.constant(batch_size, tf.int64)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
    def train_block(block: Any) -> Any:
        count = tf.shape(block, out_type=tf.int64)[0]
        for step in tf.range((count + size - 1) // size):
            batch = block[step * size: (step + 1) * size]
            model.train_step((tf.gather(features, batch), tf.gather(labels, batch)))
        return model.get_metrics_result()

    def train_function(iterator: Any) -> Any:
        return train_block(next(iterator))

    model.train_function = train_function


class Validation(keras.callbacks.Callback):
    """At each epoch end: the validation figures (``val_loss``, ``val_accuracy``...) in one call into TensorFlow.

    Runs the model's ``test_step`` over the validation split in batches of
    ``batch_size`` inside one ``tf.function``, after resetting the model's
    metrics (as ``fit``'s own validation does, once the epoch's training
    figures are in the logs). Put it first among the callbacks: the others
    read its figures from the logs.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
        super().__init__()
        self._data = (x, y)
        self._batch_size = batch_size
        self._evaluate: Any = None

    def _compile(self) -> Any:
        model, (x, y) = self.model, self._data
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
