"""The dropout random state goes into a checkpoint and comes back exactly (what makes a resume exact).

A model with dropout is trained one epoch, checkpointed with zoo's own
``save_checkpoint``, then rebuilt from scratch (as ``zoo resume`` rebuilds it
from config.toml) and given the checkpoint's weights, optimizer state and
seed-generator states. Its next epoch must give the uninterrupted model's
weights bit for bit; without the seed-generator states, it must not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

SEED = 7


def dropout_model() -> Any:
    """A small classifier with two dropout layers, built as prepare builds a model (global seed first)."""
    import keras

    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dropout(0.5),
                              keras.layers.Dense(16, activation="relu"), keras.layers.Dropout(0.3),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    return model


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 12)).astype(np.float32), rng.integers(0, 3, size=64)


def one_epoch(model: Any) -> None:
    x, y = data()
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)


@pytest.fixture(scope="module")
def after_epoch_1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """A checkpoint after epoch 1 and the weights the same model has after epoch 2."""
    from zoo_core.training.checkpointing import save_checkpoint

    directory = tmp_path_factory.mktemp("checkpoint")
    model = dropout_model()
    one_epoch(model)
    save_checkpoint(directory, model, 1, [{"epoch": 1, "loss": 1.0}], [])
    one_epoch(model)
    return directory, model.get_weights()


def resumed_model(directory: Path, restore_seeds: bool) -> Any:
    """A fresh model with the checkpoint's weights and optimizer state (and its seed states, if asked)."""
    from zoo_core.runs.checkpoint import read_checkpoint
    from zoo_core.training.checkpointing import load_variables, restore_seed_generators

    state = read_checkpoint(directory)
    model = dropout_model()
    load_variables(model, directory / state["model"])
    if restore_seeds:
        assert restore_seed_generators(model, state["rng"]["seed_generators"]) is True
    return model


def test_the_checkpoint_holds_one_advanced_state_per_dropout_layer(after_epoch_1: tuple[Path, list]) -> None:
    from zoo_core.training.checkpointing import seed_generator_states

    directory, _ = after_epoch_1
    saved = json.loads((directory / "state.json").read_text())["rng"]["seed_generators"]
    fresh = seed_generator_states(dropout_model())
    assert len(saved) == len(fresh) == 2
    assert [s["dtype"] for s in saved] == [f["dtype"] for f in fresh]
    assert all(s["value"] != f["value"] for s, f in zip(saved, fresh))  # 4 steps of dropout moved them on


def test_a_resumed_epoch_repeats_the_uninterrupted_one_bit_for_bit(after_epoch_1: tuple[Path, list]) -> None:
    directory, expected = after_epoch_1
    model = resumed_model(directory, restore_seeds=True)
    one_epoch(model)
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_without_the_seed_states_the_resumed_epoch_differs(after_epoch_1: tuple[Path, list]) -> None:
    """The control: the dropout state matters, so the test above can fail."""
    directory, expected = after_epoch_1
    model = resumed_model(directory, restore_seeds=False)
    one_epoch(model)
    assert any(not np.array_equal(got, want) for got, want in zip(model.get_weights(), expected))


def test_states_that_do_not_fit_the_model_are_refused() -> None:
    from zoo_core.training.checkpointing import restore_seed_generators, seed_generator_states

    model = dropout_model()
    states = seed_generator_states(model)
    before = seed_generator_states(model)
    assert restore_seed_generators(model, states[:1]) is False  # one layer's state for two layers
    wrong_shape = [{**state, "value": [1, 2, 3]} for state in states]
    assert restore_seed_generators(model, wrong_shape) is False
    assert seed_generator_states(model) == before  # nothing was half-restored
