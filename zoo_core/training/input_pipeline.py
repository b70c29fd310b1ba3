"""The input pipeline of a run: each epoch's batches, in an order fixed by (seed, epoch).

Why it is faster than a plain ``model.fit(x, y)`` at the same batch size:
most of an epoch of a small model is per-step overhead, not arithmetic. So
the training data lives in one tensor and each epoch's order is a stateless
permutation of indices (seeded by seed and epoch, so a resumed run sees the
same batches as an uninterrupted one). Without a tf.distribute strategy,
the in-graph loop (zoo_core.training.loop) gathers the batches itself from
these permutations; with one, :func:`training_dataset` streams them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    from zoo_core.augmentation import Augmentation


def training_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, shuffle: bool,
                     first_epoch: int, epochs: int, tf_strategy: Any = None,
                     augmentation: Augmentation | None = None,
                     value_range: tuple[float, float] = (0.0, 1.0)) -> tuple[Any, int]:
    """A tf.data stream of all remaining epochs' batches, and the steps per epoch.

    Epoch ``e`` visits the examples in a permutation fixed by ``(seed, e)``,
    so resuming at any epoch gives exactly the batches an uninterrupted run
    would have seen. With a tf.distribute strategy (``tf_strategy``) the
    stream is a distributed dataset with the same global batches
    (:func:`_replica_stream`). With an ``augmentation`` each batch is changed
    at random with the draws of its global step (zoo_core.training.augmentation).
    """
    import tensorflow as tf

    count = len(x)
    steps = epoch_steps(count, batch_size, tf_strategy)
    features, labels = tf.constant(x), tf.constant(y)

    def gather(batch: Any, global_step: Any, offset: Any, total: Any) -> Any:
        images = tf.gather(features, batch)
        if augmentation is not None:
            from zoo_core.training.augmentation import augment, step_seed

            images = augment(images, augmentation, step_seed(seed, global_step), value_range, offset, total)
        return images, tf.gather(labels, batch)

    def order(epoch: Any) -> Any:
        return epoch_order(count, seed, shuffle, epoch)

    if tf_strategy is None:
        def numbered(epoch: Any) -> Any:
            batches = tf.data.Dataset.from_tensor_slices(order(epoch)).batch(batch_size).enumerate()
            return batches.map(lambda step, batch: (batch, epoch * steps + step, tf.constant(0, tf.int64),
                                                    tf.shape(batch, out_type=tf.int64)[0]))

        stream = (tf.data.Dataset.range(first_epoch, epochs)
                  .flat_map(numbered)
                  .map(gather, num_parallel_calls=1, deterministic=True)
                  .prefetch(tf.data.AUTOTUNE))
        return stream, steps
    return _replica_stream(tf_strategy, order, gather, count, batch_size, steps, first_epoch, epochs), steps


def epoch_steps(count: int, batch_size: int, tf_strategy: Any = None) -> int:
    """Training steps per epoch: every example once, the last batch partial.

    Under a tf.distribute strategy a last batch of fewer examples than there
    are replicas is left out (some replica would get none, and batch
    normalisation fails on an empty batch): at most ``replicas - 1``
    examples of the epoch wait for the next one, which orders them anew.
    """
    steps = math.ceil(count / batch_size)
    replicas = getattr(tf_strategy, "num_replicas_in_sync", 1) if tf_strategy is not None else 1
    if steps > 1 and 0 < count % batch_size < replicas:
        steps -= 1
    return steps


def replica_multiple(count: int, tf_strategy: Any = None) -> int:
    """``count`` rounded down to a multiple of the strategy's replicas (``count`` itself without a strategy).

    Keras validates under a tf.distribute strategy by splitting each batch
    over the replicas and gathering their answers, which fails when they are
    of different sizes (25 examples over 2 replicas: "Shape mismatch in the
    collective"): validation batches and the validation part are cut to such
    multiples, leaving out at most ``replicas - 1`` examples.
    """
    replicas = getattr(tf_strategy, "num_replicas_in_sync", 1) if tf_strategy is not None else 1
    return count - count % replicas if count >= replicas else count


def epoch_order(count: int, seed: int, shuffle: bool, epoch: Any) -> Any:
    """The example indices of one epoch: a stateless permutation fixed by ``(seed, epoch)``."""
    import tensorflow as tf

    indices = tf.range(count, dtype=tf.int64)
    if shuffle:
        indices = tf.random.experimental.stateless_shuffle(indices, seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
    return indices


def _replica_stream(tf_strategy: Any, order: Callable[[Any], Any], gather: Callable[..., Any], count: int,
                    batch_size: int, steps: int, first_epoch: int, epochs: int) -> Any:
    """The distributed stream: every global step's batch, split over the replicas.

    ``batch_size`` stays the global batch: the stream comes from
    ``distribute_datasets_from_function``, whose input pipeline ``p`` yields,
    for each global step, the per-replica slices of that step's global batch
    that belong to its own replicas (split as evenly as possible). The steps,
    and the examples of each step, are those of a one-process run: every
    example is used once per epoch over all workers, and each worker reads
    only its own slices. ``gather(indices, global_step, offset, total)``
    makes the examples of a slice: its indices, its global step, and where
    it starts in the step's batch of ``total`` examples (for augmentation's
    draws).
    """
    import tensorflow as tf

    def pipeline(context: Any) -> Any:
        replicas = context.num_replicas_in_sync
        local = replicas // context.num_input_pipelines  # replicas this pipeline feeds, in order
        first = context.input_pipeline_id * local

        def epoch_slices(epoch: Any) -> Any:
            indices = order(epoch)

            def replica_slice(k: Any) -> Any:  # element k: step k // local, replica first + k % local
                replica = first + k % local
                start = (k // local) * batch_size
                size = tf.minimum(tf.constant(batch_size, tf.int64), count - start)
                offset = replica * size // replicas
                return (indices[start + offset: start + (replica + 1) * size // replicas],
                        epoch * steps + k // local, offset, size)

            return (tf.data.Dataset.range(steps * local)
                    .map(lambda k: gather(*replica_slice(k)), num_parallel_calls=1, deterministic=True))

        return tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_slices).prefetch(tf.data.AUTOTUNE)

    return tf_strategy.distribute_datasets_from_function(pipeline)


def one_hot_if_needed(loss: Any, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot encode labels for a loss that expects them (categorical cross-entropy)."""
    import keras

    wants_one_hot = getattr(loss, "zoo_one_hot_labels", False) or isinstance(
        loss, keras.losses.CategoricalCrossentropy)
    if not wants_one_hot:
        return labels
    return np.eye(num_classes, dtype=np.float32)[labels]
