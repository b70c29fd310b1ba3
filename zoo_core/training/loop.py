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
- the callback :class:`~zoo_core.training.callbacks.validation.Validation`
  evaluates the validation split in one compiled call at each epoch end
  with the model's own ``test_step``, and puts ``val_*`` figures in the
  epoch's logs before any other callback reads them.

Everything here imports TensorFlow; nothing on the CLI fast path imports it.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tensorflow as tf

from zoo_core.augmentation import Augmentation
from zoo_core.training.augmentation import augment, step_seed
from zoo_core.training.freezing import follow_trainable
from zoo_core.training.input_pipeline import epoch_order


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


def install_train_function(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int,
                           augmentation: Augmentation | None = None, seed: int = 0,
                           value_range: tuple[float, float] = (0.0, 1.0),
                           scale: Callable[[Any], Any] | None = None) -> None:
    """Make ``model.fit`` train each index block in one call: batches gathered in the graph, ``train_step`` each.

    ``fit`` keeps ``model.train_function`` while the model is not compiled
    again; it calls it with the iterator of :func:`index_blocks`. With an
    ``augmentation``, each gathered batch is changed at random first, with
    the draws of its global step (the optimizer's ``iterations``, which
    checkpoints keep) and ``seed``. The block's function is traced again
    when the trainable weights change (a layer unfrozen:
    zoo_core.training.freezing). With ``scale``, ``x`` holds raw examples (a
    streaming dataset's memory cache, e.g. uint8 pixels): each batch is cast
    to float32, changed in its raw ``value_range``, then ``scale`` makes it
    the model's input, as zoo_core.training.streaming does for a stream.
    """
    features, labels = tf.constant(x), tf.constant(y)
    size = tf.constant(batch_size, tf.int64)

    def images(batch: Any) -> Any:
        gathered = tf.gather(features, batch)
        if scale is not None:
            gathered = tf.cast(gathered, tf.float32)
        if augmentation is not None:
            gathered = augment(gathered, augmentation, step_seed(seed, model.optimizer.iterations), value_range)
        return gathered if scale is None else scale(gathered)

    def make() -> Any:
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def train_block(block: Any) -> Any:
            count = tf.shape(block, out_type=tf.int64)[0]
            for step in tf.range((count + size - 1) // size):
                batch = block[step * size: (step + 1) * size]
                model.train_step((images(batch), tf.gather(labels, batch)))
            return model.get_metrics_result()

        return lambda iterator: train_block(next(iterator))

    model.train_function = follow_trainable(model, make)


def install_keras_train_function(model: Any) -> None:
    """Keras' own train function (under a tf.distribute strategy), made again when the trainable weights change."""

    def make() -> Any:
        model.make_train_function(force=True)
        made = model.train_function
        model.train_function = follow
        return made

    follow = follow_trainable(model, make)
    model.train_function = follow
