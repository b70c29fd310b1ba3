"""The input pipeline of a streaming dataset (zoo_core.data.StreamingDataset): files decoded as they are read.

Each epoch visits the training files in the order of
:func:`~zoo_core.training.input_pipeline.epoch_order` (fixed by seed and
epoch, as for arrays: a resumed run sees the batches of an uninterrupted
one), decodes them in parallel (order kept), batches them, passes each
training batch through :func:`training_batch` and scales it to the model's
input in float32; prefetching overlaps all that with the step. Nothing holds
the decoded set, unless the dataset's ``cache`` asks for it: ``memory``
keeps the raw examples (e.g. uint8 pixels) decoded once, ``disk`` keeps
them in a file of the run directory, memory-mapped.

Under a tf.distribute strategy each worker decodes only its replicas'
slices of every global batch (input_pipeline._replica_stream): disjoint
shards covering the epoch, the global batch as in a one-process run.

:class:`InputMeter` times how long training waited on the pipeline.
Everything here imports TensorFlow; nothing on the CLI fast path imports it.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import tensorflow as tf

from zoo_core.data import DatasetInfo, StreamingDataset
from zoo_core.errors import DataError
from zoo_core.training.augmentation import augment, step_seed
from zoo_core.training.freezing import follow_trainable
from zoo_core.training.input_pipeline import _replica_stream, epoch_order, epoch_steps

#: Examples per batch when zoo predicts or validates on streamed data (bounded memory, whatever the set's size).
EVALUATION_BATCH = 128
#: Batches decoded ahead of the one training (or evaluation) uses: a fixed number keeps memory bounded (an
#: AUTOTUNE buffer may grow as the run goes on; a batch of 32 128x128 RGB images is 6 MB as float32).
AHEAD = 2


def training_batch(raw: Any, dataset: StreamingDataset, seed: int, global_step: Any, offset: Any = 0,
                   total: Any = None) -> Any:
    """A training batch of raw examples (e.g. uint8 pixels) as float32 values in their raw range, before scaling.

    The one place every training batch passes: the dataset's augmentation
    (zoo_core.training.augmentation) changes it here, on the raw values,
    with the draws of its global step (``epoch * steps_per_epoch + step``)
    and the run's seed, so that a resumed run is exact; never validation,
    test or exported inputs. A replica's slice of the step's batch of
    ``total`` examples starts at ``offset``.
    """
    values = tf.cast(raw, tf.float32)
    augmentation = dataset.augmentation
    if augmentation is None or not augmentation.changes_anything():
        return values
    return augment(values, augmentation, step_seed(seed, global_step), tuple(dataset.info.raw_value_range),
                   offset, total)


def scaled(values: Any, info: DatasetInfo) -> Any:
    """Model input from raw values: ``values * scale + offset``, then the per-feature step, in float32.

    The arithmetic of zoo_core.data.scale_examples, so a streamed example
    equals its in-memory twin.
    """
    values = tf.cast(values, tf.float32) * tf.constant(info.scale, tf.float32) + tf.constant(info.offset, tf.float32)
    if info.feature_mean is not None and info.feature_std is not None:
        values = (values - tf.constant(info.feature_mean, tf.float32)) / tf.constant(info.feature_std, tf.float32)
    return tf.cast(values, info.input_dtype)


def training_stream(dataset: StreamingDataset, files: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                    shuffle: bool, first_epoch: int, epochs: int, tf_strategy: Any = None,
                    cache_dir: Path | None = None) -> tuple[Any, int]:
    """A tf.data stream of all remaining epochs' batches ``(model input, label)``, and the steps per epoch.

    ``files`` and ``labels`` are the training part (after the validation
    split); ``cache_dir`` is where ``cache = "disk"`` writes its file.
    """
    count, info = len(files), dataset.info
    steps = epoch_steps(count, batch_size, tf_strategy)
    raw_of = _raw_examples(dataset, files, cache_dir)
    label_tensor, file_tensor = tf.constant(labels), tf.constant(files)
    decode_one = _decode_function(dataset)

    def order(epoch: Any) -> Any:
        return epoch_order(count, seed, shuffle, epoch)

    def gather(indices: Any, global_step: Any, offset: Any = 0, total: Any = None) -> Any:
        inputs = scaled(training_batch(raw_of(indices), dataset, seed, global_step, offset, total), info)
        return inputs, tf.gather(label_tensor, indices)

    if tf_strategy is not None:
        return _replica_stream(tf_strategy, order, gather, count, batch_size, steps, first_epoch, epochs), steps

    def epoch_batches(epoch: Any) -> Any:
        indices = tf.data.Dataset.from_tensor_slices(order(epoch))
        if dataset.cache == "none" and dataset.decode_batch is None:  # decoded one by one, several at a time
            examples = indices.map(lambda index: (decode_one(file_tensor[index]), label_tensor[index]),
                                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size)
            return examples.enumerate().map(
                lambda step, batch: (scaled(training_batch(batch[0], dataset, seed, epoch * steps + step), info),
                                     batch[1]))
        return indices.batch(batch_size).enumerate().map(lambda step, batch: gather(batch, epoch * steps + step),
                                                         num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    stream = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_batches).prefetch(AHEAD)
    return stream, steps


def evaluation_stream(dataset: StreamingDataset, files: np.ndarray, labels: np.ndarray | None = None,
                      batch_size: int = EVALUATION_BATCH) -> Any:
    """``files`` in order, decoded in parallel and scaled, in batches (with ``labels``: ``(input, label)`` pairs)."""
    examples = _decoded_batches(dataset, files, batch_size).map(lambda raw: scaled(raw, dataset.info))
    if labels is not None:
        examples = tf.data.Dataset.zip(examples, tf.data.Dataset.from_tensor_slices(labels).batch(batch_size))
    return examples.prefetch(AHEAD)


def predict_probabilities(model: Any, dataset: StreamingDataset, files: np.ndarray) -> np.ndarray:
    """The model's class probabilities for ``files``, decoded and predicted one batch at a time.

    Not ``model.predict``: it gathers ``steps_per_execution`` batches of
    inputs before each call, memory that grows with the test set.
    """
    with data_errors():
        parts = [np.asarray(model.predict_on_batch(batch)) for batch in evaluation_stream(dataset, files)]
    return np.concatenate(parts) if parts else np.zeros((0, dataset.info.num_classes), np.float32)


def decoded_examples(dataset: StreamingDataset, files: np.ndarray) -> np.ndarray:
    """``files`` decoded and scaled, all of them, as one array (for what must hold a set whole: ``zoo bench``)."""
    with data_errors():
        parts = [batch.numpy() for batch in evaluation_stream(dataset, files)]
    return np.concatenate(parts) if parts else np.zeros((0, *tuple(dataset.info.input_shape)), dataset.info.input_dtype)


def _decode_function(dataset: StreamingDataset) -> Any:
    """The dataset's decode, its result checked to have ``info.input_shape`` (a clear error, not a later one)."""
    shape = tuple(dataset.info.input_shape)
    return lambda file: tf.ensure_shape(dataset.decode(file), shape)


def _decode_batch_function(dataset: StreamingDataset) -> Any:
    """The dataset's decode_batch, its result checked to be examples of ``info.input_shape``."""
    shape = tuple(dataset.info.input_shape)
    return lambda files: tf.ensure_shape(dataset.decode_batch(files), (None, *shape))


def _decoded_batches(dataset: StreamingDataset, files: np.ndarray, batch_size: int) -> Any:
    """``files`` in order, decoded to raw examples of ``info.input_shape`` several at a time, in batches."""
    entries = tf.data.Dataset.from_tensor_slices(tf.constant(files))
    if dataset.decode_batch is not None:
        return entries.batch(batch_size).map(_decode_batch_function(dataset), num_parallel_calls=tf.data.AUTOTUNE,
                                             deterministic=True)
    return entries.map(_decode_function(dataset), num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True).batch(batch_size)


def _raw_examples(dataset: StreamingDataset, files: np.ndarray, cache_dir: Path | None) -> Any:
    """``raw_of(indices)``: the raw examples of a batch of indices into ``files``, decoded or from the cache."""
    if dataset.cache == "none" and dataset.decode_batch is not None:
        file_tensor, decode_batch = tf.constant(files), _decode_batch_function(dataset)
        return lambda indices: decode_batch(tf.gather(file_tensor, indices))
    if dataset.cache == "none":  # under a strategy: each replica's slice of a batch
        file_tensor, decode_one = tf.constant(files), _decode_function(dataset)
        spec = tf.TensorSpec(tuple(dataset.info.input_shape), _raw_dtype(dataset, files))
        return lambda indices: tf.map_fn(decode_one, tf.gather(file_tensor, indices), fn_output_signature=spec,
                                         parallel_iterations=16)
    cached = cached_examples(dataset, files, cache_dir)
    if dataset.cache == "memory":
        held = tf.constant(cached)
        return lambda indices: tf.gather(held, indices)
    return lambda indices: tf.ensure_shape(tf.numpy_function(lambda chosen: np.asarray(cached[chosen]), [indices],
                                                             tf.as_dtype(cached.dtype), stateful=False),
                                           (None, *cached.shape[1:]))


def _raw_dtype(dataset: StreamingDataset, files: np.ndarray) -> Any:
    return _decoded_batches(dataset, files[:1], 1).element_spec.dtype


def cached_examples(dataset: StreamingDataset, files: np.ndarray, cache_dir: Path | None = None) -> np.ndarray:
    """Every raw example of ``files`` decoded once (not scaled): in memory, or (``disk``) in ``cache_dir``,
    memory-mapped."""
    shape = (len(files), *tuple(dataset.info.input_shape))
    dtype = _raw_dtype(dataset, files).as_numpy_dtype
    if dataset.cache == "disk":
        if cache_dir is None:
            raise DataError("cache = \"disk\" needs the run directory for its file")
        cache_dir.mkdir(parents=True, exist_ok=True)
        array = np.lib.format.open_memmap(cache_dir / "train.npy", mode="w+", dtype=dtype, shape=shape)
    else:
        array = np.empty(shape, dtype)
    start = 0
    with data_errors():
        for batch in _decoded_batches(dataset, files, EVALUATION_BATCH).prefetch(2):
            array[start:start + len(batch)] = batch.numpy()
            start += len(batch)
    if dataset.cache == "disk":
        array.flush()
    return array


def remove_cache(cache_dir: Path) -> None:
    """Delete the disk cache of a run once it has trained (it is rebuilt, identical, by a resume)."""
    shutil.rmtree(cache_dir, ignore_errors=True)


# -- errors and waits ----------------------------------------------------------------------

_DATA_ERROR = re.compile(r"DataError: (.+?)(?:\n|$)")


def data_error(error: BaseException) -> DataError | None:
    """The DataError a decode function raised inside the pipeline (TensorFlow wraps it in its own error), if any."""
    if isinstance(error, DataError):
        return error
    found = _DATA_ERROR.search(str(getattr(error, "message", None) or error))
    if not isinstance(error, tf.errors.OpError) or found is None:
        return None
    return DataError(found.group(1).strip(),
                     hint="replace or delete the file and start the run again (the check before training reads "
                          "headers only; a file damaged further in is found when it is first decoded)")


@contextlib.contextmanager
def data_errors() -> Iterator[None]:
    """Re-raise a decode function's DataError from inside the pipeline as itself (exit code 2, no traceback)."""
    try:
        yield
    except Exception as error:
        better = data_error(error)
        if better is None or better is error:
            raise
        raise better from None


class InputMeter:
    """How long training waited on the input pipeline: the time spent in ``next(iterator)``, against all time."""

    def __init__(self) -> None:
        self.waited = 0.0
        self.batches = 0

    def next_batch(self, iterator: Any) -> Any:
        """``next(iterator)``, timed."""
        start = time.perf_counter()
        batch = next(iterator)
        self.waited += time.perf_counter() - start
        self.batches += 1
        return batch


def install_train_function(model: Any, meter: InputMeter) -> None:
    """Make ``model.fit`` take each of a call's ``steps_per_execution`` batches with a timed ``next(iterator)``.

    The steps are the model's own ``train_step`` in one compiled function, as
    zoo_core.training.loop does for arrays, traced again when the trainable
    weights change (a layer unfrozen: zoo_core.training.freezing).
    """
    def make() -> Any:
        @tf.function
        def train_batch(x: Any, y: Any) -> Any:
            model.train_step((x, y))
            return model.get_metrics_result()

        def train_function(iterator: Any) -> Any:
            logs = None
            for _ in range(int(model.steps_per_execution)):
                logs = train_batch(*meter.next_batch(iterator))
            return logs

        return train_function

    model.train_function = follow_trainable(model, make)
