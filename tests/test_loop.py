"""The in-graph loop (zoo_core.training.loop), the thread choice's multiply-add count (zoo_core.training.threads) and
the checkpoint's variable file: each gives what the slower way it replaced gave."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def small_model(seed: int = 3):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dropout(0.2),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(count: int = 100):
    rng = np.random.default_rng(0)
    return rng.normal(size=(count, 6)).astype(np.float32), rng.integers(0, 3, size=count).astype(np.int64)


def test_the_in_graph_loop_trains_exactly_as_the_per_batch_pipeline() -> None:
    """Same batches, same train_step, same dropout masks: the same weights and logs (a resume relies on it)."""
    from zoo_core.training import input_pipeline, loop

    x, y = data()
    batch, epochs = 16, 2
    steps = math.ceil(len(x) / batch)  # 7: the last batch has 4 examples
    before = small_model()
    stream, _ = input_pipeline.training_dataset(x, y, batch, seed=5, shuffle=True, first_epoch=0, epochs=epochs)
    before.steps_per_execution = 7
    old = before.fit(stream, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=0).history
    after = small_model()
    after.steps_per_execution = 7
    loop.install_train_function(after, x, y, batch)
    blocks = loop.index_blocks(len(x), batch, 7, seed=5, shuffle=True, first_epoch=0, epochs=epochs)
    new = after.fit(blocks, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=0).history
    for a, b in zip(before.weights, after.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)
    assert int(after.optimizer.iterations.numpy()) == epochs * steps
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(old[key], new[key], atol=1e-6)


def test_index_blocks_split_each_epoch_into_whole_calls() -> None:
    from zoo_core.training import loop

    blocks = [b.numpy() for b in loop.index_blocks(50, 4, 13, seed=1, shuffle=True, first_epoch=1, epochs=3)]
    assert [len(b) for b in blocks] == [50, 50]  # 13 steps of 4 cover an epoch of 50 in one block
    assert sorted(blocks[0]) == list(range(50)) and list(blocks[0]) != list(blocks[1])


def test_validation_in_one_call_gives_keras_evaluate_figures() -> None:
    from zoo_core.training.callbacks.validation import Validation

    model = small_model()
    x, y = data(300)
    expected = model.evaluate(x, y, batch_size=64, return_dict=True, verbose=0)
    callback = Validation(x, y, batch_size=64)
    callback.set_model(model)
    logs: dict = {"loss": 9.0}
    callback.on_epoch_end(0, logs)
    callback.on_epoch_end(1, logs)  # twice: the metrics are reset in between
    assert logs["loss"] == 9.0
    assert logs["val_loss"] == pytest.approx(expected["loss"], abs=1e-5)
    assert logs["val_accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)


def test_checkpoint_variables_round_trip_and_refuse_another_model(tmp_path: Path) -> None:
    import keras

    from zoo_core.training.checkpointing import load_variables, save_variables

    model = small_model()
    model.optimizer.build(model.trainable_variables)
    model.fit(*data(), epochs=1, verbose=0)
    save_variables(model, tmp_path / "v.npz")
    fresh = small_model(seed=9)
    fresh.optimizer.build(fresh.trainable_variables)
    load_variables(fresh, tmp_path / "v.npz")
    for a, b in zip([*model.weights, *model.optimizer.variables], [*fresh.weights, *fresh.optimizer.variables]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    other = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5), keras.layers.Dense(3)])
    other.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    other.optimizer.build(other.trainable_variables)
    with pytest.raises(ValueError, match="has shape"):
        load_variables(other, tmp_path / "v.npz")


def test_multiply_adds_are_counted_without_starting_tensorflow() -> None:
    """Dense: its kernel; a convolution: its kernel times the output's positions; the runtime can still be sized."""
    script = """
import keras, tensorflow as tf
from zoo_core.training.threads import macs_per_example
def mlp():
    return keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(128),
                             keras.layers.Dropout(0.2), keras.layers.Dense(64), keras.layers.Dense(10)])
def cnn():
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 3), keras.layers.Conv2D(64, 3),
                             keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(128),
                             keras.layers.Dense(10)])
def broken():
    raise RuntimeError("no")
print(macs_per_example(mlp), macs_per_example(cnn), macs_per_example(broken))
tf.config.threading.set_intra_op_parallelism_threads(1)  # raises once the runtime has started
print(keras.layers.Dense(2).name)  # the estimates' layers took no names
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    counts, name = done.stdout.split("\n")[:2]
    assert counts.split() == [str(784 * 128 + 128 * 64 + 64 * 10),
                              str(26 * 26 * 9 * 32 + 24 * 24 * 9 * 32 * 64 + 9216 * 128 + 128 * 10), "None"]
    assert name == "dense"
