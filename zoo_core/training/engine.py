"""Training mechanics: TensorFlow set-up, the input pipeline, compile and fit.

Why it is faster than a plain ``model.fit(x, y)`` at the same batch size:
most of an epoch of a small model is per-step overhead, not arithmetic. So

- the training data lives in one tensor and each epoch's order is a stateless
  permutation of indices (seeded by seed and epoch, so a resumed run sees the
  same batches as an uninterrupted one);
- ``steps_per_execution`` runs many steps per call into TensorFlow (chosen
  from the model's size when the setting is 0);
- for small models TensorFlow's thread pools are set to one thread, which
  removes the hand-off cost between threads that dominates tiny ops.

Everything here imports TensorFlow; nothing on the CLI fast path imports it.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from zoo_core.errors import DataError, ZooError

# TensorFlow's C++ start-up chatter (CUDA probing, CPU features) is noise to
# a zoo user; an explicit TF_CPP_MIN_LOG_LEVEL still wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Below this many multiply-adds per training step, single-threaded TensorFlow
#: is faster on CPU than its thread pools (measured on 2 cores: the MNIST MLP
#: at batch 32 is ~3.5 M).
SMALL_STEP_MACS = 20_000_000


@dataclass
class TrainingData:
    """The split the model trains and validates on."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None


def configure_threads(input_features: int, batch_size: int, threads: int = 0,
                      before_start: Callable[[], None] | None = None,
                      macs_per_example: Callable[[], int | None] | None = None) -> int:
    """Import TensorFlow and set its thread pools before any op runs; return the intra-op count.

    ``threads`` > 0 is used as given. With 0, a step that is small gets one
    thread; larger ones keep TensorFlow's default (all cores). A step's size
    is ``batch_size`` × ``macs_per_example()`` (the model's multiply-adds per
    example, zoo_core.training.threads: a convolution's count far more than
    their input size suggests), or, when that is None, a guess from the
    input size (a 256-unit dense layer). ``before_start`` runs after that and
    before the runtime starts: where a tf.distribute strategy must be created
    (``Strategy.before_runtime_start``).
    """
    with quiet_native_stderr():
        import tensorflow as tf

        if threads <= 0:
            per_example = macs_per_example() if macs_per_example is not None else None
            estimated_macs = batch_size * (per_example if per_example is not None else input_features * 256)
            threads = 1 if estimated_macs < SMALL_STEP_MACS or (os.cpu_count() or 1) <= 1 else 0
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # the runtime is already initialised (e.g. a second run in one process)
        if before_start is not None:
            before_start()
        tf.config.list_logical_devices()  # start the runtime now, while its start-up chatter is hidden
    return tf.config.threading.get_intra_op_parallelism_threads()


#: What TensorFlow, TFLite and the TFLite converter write to stderr that means nothing to a zoo user: absl log
#: lines (CUDA probing, oneDNN, CPU features: ``E0000 00:00:17... cuda_platform.cc:52] failed call to cuInit``),
#: absl's start-up notice, the XNNPACK delegate notice and the quantiser's settings line.
NATIVE_NOISE = re.compile(r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
                          r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
                          r"|To enable the following instructions: .* rebuild TensorFlow"
                          r"|INFO: Created TensorFlow Lite XNNPACK delegate"
                          r"|fully_quantize: \d+, inference_type: )")


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide TensorFlow's native log lines (:data:`NATIVE_NOISE`) that C++ code writes to file descriptor 2.

    TF_CPP_MIN_LOG_LEVEL cannot silence messages logged before absl starts,
    nor TFLite's. Everything else written to stderr in the block (a
    plugin's warning, a real error) is written out when the block ends; if
    the block fails with anything but a ZooError (whose message says what
    went wrong), the hidden lines are written out too, so an import error is
    never lost. ``ZOO_DEBUG=1`` shows everything as it comes.
    """
    if os.environ.get("ZOO_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    show_all = False
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except ZooError:
            raise
        except BaseException:
            show_all = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines = sink.read().decode("utf-8", "replace").splitlines(keepends=True)
            shown = "".join(line for line in lines if show_all or not NATIVE_NOISE.match(line))
            if shown:
                sys.stderr.write(shown)
                sys.stderr.flush()


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, mode: str = "last", seed: int = 0) -> TrainingData:
    """Hold out ``fraction`` of the training data for validation.

    ``mode`` "last" holds out the last part, as Keras' validation_split does
    (on data sorted by class that part is the last class or two: see
    :func:`split_warnings`). "stratified" holds out about ``fraction`` of
    every class, chosen at random with ``seed``; both parts keep the data's
    order.
    """
    if fraction <= 0:
        return TrainingData(x, y, None, None)
    if mode == "stratified":
        held = _stratified_indices(np.asarray(y), fraction, seed)
        cut = len(x) - len(held)
    else:
        cut = int(len(x) * (1.0 - fraction))
    if cut < 1 or cut >= len(x):
        raise DataError(f"validation_split {fraction} leaves no training or no validation data for {len(x)} examples",
                        hint="use more data or a validation_split between 0 and 1 that keeps both parts non-empty")
    if mode != "stratified":
        return TrainingData(x[:cut], y[:cut], x[cut:], y[cut:])
    keep = np.ones(len(x), dtype=bool)
    keep[held] = False
    return TrainingData(x[keep], y[keep], x[held], y[held])


def _stratified_indices(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of about ``fraction`` of each class's examples (at least one of a class with two or more)."""
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        count = int(round(len(members) * fraction))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        held.append(rng.permutation(members)[:count])
    return np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)


def class_counts(y: np.ndarray | None, class_names: list[str]) -> dict[str, int]:
    """Examples per class, by class name (every class, zeros included)."""
    counts = np.bincount(np.asarray(y, dtype=np.int64).ravel(), minlength=len(class_names)) if y is not None and len(y) \
        else np.zeros(len(class_names), dtype=np.int64)
    return {str(name): int(counts[index]) for index, name in enumerate(class_names)}


def sorted_by_class(y: np.ndarray) -> bool:
    """Whether the labels come in one block per class (e.g. all 0s, then all 1s...), with at least two classes."""
    labels = np.asarray(y).ravel()
    if len(labels) < 2:
        return False
    blocks = 1 + int(np.count_nonzero(labels[1:] != labels[:-1]))
    return 1 < blocks == len(np.unique(labels))


def split_warnings(y_all: np.ndarray, split: TrainingData, class_names: list[str], mode: str,
                   shuffle: bool) -> list[str]:
    """What is wrong with the class balance of a split, with the class counts; empty when nothing is.

    Warned about: training data sorted by class, a training part or a
    validation part that misses classes.
    """
    found: list[str] = []
    train = class_counts(split.y_train, class_names)
    if sorted_by_class(y_all):
        what = ('validation = "last" holds out the last part, i.e. the last class(es) only'
                if mode == "last" and split.y_val is not None else
                "the validation part is stratified" if split.y_val is not None else "there is no validation part")
        fix = ("use --set validation=stratified, and shuffle the data in the dataset" if mode == "last"
               else "shuffle the data in the dataset")
        found.append(f"the training data is sorted by class (one block per class): {what}; "
                     + ("training shuffles every epoch" if shuffle else "shuffle = false trains class after class")
                     + f"; {fix}")
    missing = [name for name, count in train.items() if count == 0]
    if missing:
        found.append(f"the training part has no examples of {len(missing)} class(es): {_counts_text(train)}; "
                     "use more data (max_train_samples takes the first N examples) or a dataset with every class")
    if split.y_val is not None:
        val = class_counts(split.y_val, class_names)
        lacking = [name for name, count in val.items() if count == 0 and train[name] > 0]
        if lacking:
            found.append(f"the validation part ({len(split.y_val)} examples, validation = \"{mode}\") has no examples "
                         f"of {len(lacking)} class(es): {_counts_text(val)}; "
                         + ("use --set validation=stratified" if mode == "last" else "use a larger validation_split"))
    return found


def _counts_text(counts: dict[str, int], limit: int = 20) -> str:
    """'0: 12, 1: 0, ...': at most ``limit`` classes, then how many more."""
    items = [f"{name}: {count}" for name, count in counts.items()]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def training_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, shuffle: bool,
                     first_epoch: int, epochs: int, tf_strategy: Any = None) -> tuple[Any, int]:
    """A tf.data stream of all remaining epochs' batches, and the steps per epoch.

    Epoch ``e`` visits the examples in a permutation fixed by ``(seed, e)``,
    so resuming at any epoch gives exactly the batches an uninterrupted run
    would have seen. With a tf.distribute strategy (``tf_strategy``) the
    stream is a distributed dataset with the same global batches
    (:func:`_replica_stream`).
    """
    import tensorflow as tf

    count = len(x)
    steps = math.ceil(count / batch_size)
    features, labels = tf.constant(x), tf.constant(y)

    def gather(batch: Any) -> Any:
        return tf.gather(features, batch), tf.gather(labels, batch)

    def order(epoch: Any) -> Any:
        return epoch_order(count, seed, shuffle, epoch)

    if tf_strategy is None:
        stream = (tf.data.Dataset.range(first_epoch, epochs)
                  .flat_map(lambda epoch: tf.data.Dataset.from_tensor_slices(order(epoch)).batch(batch_size))
                  .map(gather, num_parallel_calls=1, deterministic=True)
                  .prefetch(tf.data.AUTOTUNE))
        return stream, steps
    return _replica_stream(tf_strategy, order, gather, count, batch_size, steps, first_epoch, epochs), steps


def epoch_order(count: int, seed: int, shuffle: bool, epoch: Any) -> Any:
    """The example indices of one epoch: a stateless permutation fixed by ``(seed, epoch)``."""
    import tensorflow as tf

    indices = tf.range(count, dtype=tf.int64)
    if shuffle:
        indices = tf.random.experimental.stateless_shuffle(indices, seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
    return indices


def _replica_stream(tf_strategy: Any, order: Callable[[Any], Any], gather: Callable[[Any], Any], count: int,
                    batch_size: int, steps: int, first_epoch: int, epochs: int) -> Any:
    """The distributed stream: every global step's batch, split over the replicas.

    ``batch_size`` stays the global batch: the stream comes from
    ``distribute_datasets_from_function``, whose input pipeline ``p`` yields,
    for each global step, the per-replica slices of that step's global batch
    that belong to its own replicas (split as evenly as possible). The steps,
    and the examples of each step, are those of a one-process run: every
    example is used once per epoch over all workers.
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
                return indices[start + replica * size // replicas: start + (replica + 1) * size // replicas]

            return tf.data.Dataset.range(steps * local).map(replica_slice)

        return (tf.data.Dataset.range(first_epoch, epochs)
                .flat_map(epoch_slices)
                .map(gather, num_parallel_calls=1, deterministic=True)
                .prefetch(tf.data.AUTOTUNE))

    return tf_strategy.distribute_datasets_from_function(pipeline)


#: Longest a single call into TensorFlow should take: signals (Ctrl-C, an
#: orchestrator's SIGTERM) and the NaN check are acted on between calls.
MAX_SECONDS_PER_CALL = 2.0


def estimate_step_seconds(parameters: int, batch_size: int) -> float:
    """A cautious guess of one training step's time on one CPU core.

    About 6 floating-point operations per parameter and example (forward and
    backward), at a conservative 10 GFLOP/s, plus a fixed per-step cost.
    """
    return 3e-4 + 6.0 * parameters * batch_size / 1e10


def choose_steps_per_execution(steps_per_epoch: int, setting: int, live_progress: bool,
                               step_seconds: float = 0.0, cap: int | None = None) -> int:
    """Training steps per call into TensorFlow; always a divisor of the epoch's steps.

    ``setting`` > 0 is used as given (rounded to a divisor). Otherwise the
    aim is as much of an epoch as fits in MAX_SECONDS_PER_CALL in one call
    (an in-graph loop: the per-step Python and dispatch overhead is gone),
    and about a tenth of an epoch when a live progress bar needs updates.

    Keras runs exactly ``steps_per_execution`` steps per call, so a value
    that does not divide the epoch would carry the last call into the next
    epoch's batches; hence the divisor nearest the aim is taken. ``cap`` is
    the strategy's limit (``Strategy.max_steps_per_execution``: 1 under
    tf.distribute, keras-team/keras#19246), None for none.
    """
    aim = float(steps_per_epoch)
    if setting > 0:
        aim = float(setting)
    else:
        if step_seconds > 0:
            aim = min(aim, MAX_SECONDS_PER_CALL / step_seconds)
        if live_progress:
            aim = min(aim, steps_per_epoch / 10)
    aim = max(1.0, aim)
    divisors = [d for d in range(1, steps_per_epoch + 1) if steps_per_epoch % d == 0 and (cap is None or d <= cap)]
    return min(divisors, key=lambda d: (abs(math.log(d / aim)), -d))


def one_hot_if_needed(loss: Any, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot encode labels for a loss that expects them (categorical cross-entropy)."""
    import keras

    wants_one_hot = getattr(loss, "zoo_one_hot_labels", False) or isinstance(
        loss, keras.losses.CategoricalCrossentropy)
    if not wants_one_hot:
        return labels
    return np.eye(num_classes, dtype=np.float32)[labels]
