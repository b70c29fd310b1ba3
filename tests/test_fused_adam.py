"""The fused Adam kernel behind the built-in ``adam`` and ``adamw``: the same update as Keras', a plain Keras optimizer.

plugins/zoo_plugins/optimizers/_fused_adam.py replaces only the optimizer instance's
``update_step``; these tests hold it to Keras' own Adam on the same
gradients, check where it must fall back to Keras, and that what it saves
is a plain Keras Adam that loads without zoo.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from zoo_plugins.optimizers._fused_adam import use_fused_kernel  # noqa: E402
from zoo_plugins.optimizers.keras_optimizers import adam, adamw  # noqa: E402


def _weights_after_steps(optimizer: object, steps: int = 25, seed: int = 3,
                         scale: float = 1.0) -> tuple[list[np.ndarray], object]:
    """Weights of a small two-layer model after ``steps`` updates with fixed, seeded gradients (of size ``scale``)."""
    rng = np.random.default_rng(seed)
    variables = [keras.Variable(rng.normal(size=shape).astype("float32"), name=f"w{index}")
                 for index, shape in enumerate([(20, 8), (8,), (8, 3)])]
    for _ in range(steps):
        gradients = [tf.constant((scale * rng.normal(size=v.shape)).astype("float32")) for v in variables]
        optimizer.apply_gradients(zip(gradients, variables))
    return [v.numpy() for v in variables], optimizer


def _in_graph(optimizer: object, steps: int = 25) -> list[np.ndarray]:
    """As :func:`_weights_after_steps`, but each update inside a ``tf.function`` (as in training)."""
    rng = np.random.default_rng(3)
    variables = [keras.Variable(rng.normal(size=shape).astype("float32")) for shape in [(20, 8), (8,), (8, 3)]]
    optimizer.build(variables)
    apply = tf.function(lambda gradients: optimizer.apply_gradients(zip(gradients, variables)))
    for _ in range(steps):
        apply([tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables])
    return [v.numpy() for v in variables]


def test_fused_adam_is_the_default_and_stays_a_plain_keras_adam() -> None:
    optimizer = adam()
    assert type(optimizer) is keras.optimizers.Adam
    assert "_backend_update_step" in vars(optimizer)  # the instance's own, fused
    assert "_backend_update_step" not in vars(adam(fused=False))
    assert optimizer.get_config() == keras.optimizers.Adam().get_config() | {"name": optimizer.name}


@pytest.mark.parametrize("learning_rate", [0.001, 0.05])
def test_fused_update_matches_keras_adam_to_float32_rounding(learning_rate: float) -> None:
    fused, fused_optimizer = _weights_after_steps(adam(learning_rate=learning_rate))
    plain, plain_optimizer = _weights_after_steps(adam(learning_rate=learning_rate, fused=False))
    assert int(fused_optimizer.iterations.numpy()) == int(plain_optimizer.iterations.numpy()) == 25
    # The kernel's 1 - beta_2 is float32's 1 - 0.999f = 0.00100005, Keras' the float64 0.001:
    # 5e-5 apart, so after 25 steps the weights differ from the fourth digit on, no sooner.
    assert any(not np.array_equal(got, want) for got, want in zip(fused, plain))  # the kernel really ran
    for got, want in zip(fused, plain):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5 * learning_rate / 0.001)
    # The moments too: the same slot variables, updated alike.
    for got, want in zip(fused_optimizer.variables, plain_optimizer.variables):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-4, atol=1e-6)


def _steps_taken(optimizer: object, scale: float) -> list[np.ndarray]:
    """How far each weight moved in 25 steps on gradients of size ``scale``."""
    start, _ = _weights_after_steps(adam(fused=False), steps=0)
    end, _ = _weights_after_steps(optimizer, scale=scale)
    return [after - before for after, before in zip(end, start)]


@pytest.mark.parametrize("scale", [1e-7, 1e-6])
def test_fused_update_matches_keras_where_epsilon_matters(scale: float) -> None:
    """Gradients about epsilon's size (1e-7): Adam's step m / (sqrt(v) + epsilon) is then epsilon's as much as g's.

    With gradients of size 1 epsilon changes nothing a test can see; here a
    kernel that used 10 × epsilon would take steps about 5 times shorter
    (1e-7) or 2 times shorter (1e-6).
    """
    epsilon = keras.optimizers.Adam().epsilon
    fused = _steps_taken(adam(), scale)
    plain = _steps_taken(adam(fused=False), scale)
    other_epsilon = _steps_taken(adam(fused=False, epsilon=10 * epsilon), scale)
    for got, want, wrong in zip(fused, plain, other_epsilon):
        assert np.abs(want - wrong).max() > 0.2 * np.abs(want).max()  # epsilon really matters at this size
        # The kernel's 1 - beta_2 (5e-5 of itself off Keras', see above) moves a step by about 1e-4 of itself.
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_fused_update_in_a_tf_function_matches_eager() -> None:
    for got, want in zip(_in_graph(adam()), _weights_after_steps(adam())[0]):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_adamw_decay_is_still_applied_with_the_fused_kernel() -> None:
    fused, _ = _weights_after_steps(adamw(weight_decay=0.1, learning_rate=0.01))
    plain, _ = _weights_after_steps(adamw(weight_decay=0.1, learning_rate=0.01, fused=False))
    undecayed, _ = _weights_after_steps(adam(learning_rate=0.01))
    for got, want, other in zip(fused, plain, undecayed):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-4)
        assert np.abs(got - other).max() > 1e-3  # decay made a difference


def test_amsgrad_falls_back_to_keras_bit_for_bit() -> None:
    fused, _ = _weights_after_steps(adam(amsgrad=True))
    plain, _ = _weights_after_steps(adam(amsgrad=True, fused=False))
    for got, want in zip(fused, plain):
        np.testing.assert_array_equal(got, want)


def test_a_sparse_gradient_falls_back_to_keras() -> None:
    """An embedding's gradient is tf.IndexedSlices, which the dense kernel cannot take."""
    results = []
    for fused in (True, False):
        table = keras.Variable(np.arange(12, dtype="float32").reshape(4, 3))
        optimizer = adam(learning_rate=0.1, fused=fused)
        gradient = tf.IndexedSlices(tf.ones([2, 3]), tf.constant([0, 2]), tf.constant([4, 3]))
        optimizer.apply_gradients([(gradient, table)])
        results.append(table.numpy())
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], np.arange(12, dtype="float32").reshape(4, 3))


def test_under_a_distribution_strategy_keras_does_the_update() -> None:
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    results = []
    for fused in (True, False):
        with strategy.scope():
            weight = keras.Variable(np.linspace(-1, 1, 6, dtype="float32"))
            optimizer = adam(learning_rate=0.1, fused=fused)
        for step in range(3):
            gradient = tf.constant(np.cos(np.arange(6, dtype="float32") + step))
            strategy.run(lambda: optimizer.apply_gradients([(gradient, weight)]))
        results.append(weight.numpy())
    np.testing.assert_array_equal(results[0], results[1])  # bit for bit: Keras' own update ran


def test_a_model_keras_trained_with_it_loads_in_plain_keras(tmp_path: Path) -> None:
    """The saved optimizer is keras.optimizers.Adam: a server without zoo loads the model, optimizer and all."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer=use_fused_kernel(keras.optimizers.Adam()), loss="mse")
    model.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    assert config["compile_config"]["optimizer"]["module"] == "keras.optimizers"
    script = ("import sys, keras; m = keras.models.load_model(sys.argv[1]); "
              "assert 'zoo_plugins' not in sys.modules; print(type(m.optimizer).__name__, int(m.optimizer.iterations))")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["Adam", "2"]
