"""The engine's choices: calls into TensorFlow, threads, and the per-epoch input stream."""

from __future__ import annotations

import numpy as np
import pytest

from zoo_core.training import engine


@pytest.mark.parametrize("steps", [1, 7, 141, 1687, 1688, 2000])
@pytest.mark.parametrize("live", [False, True])
def test_steps_per_execution_always_divides_the_epoch(steps: int, live: bool) -> None:
    chosen = engine.choose_steps_per_execution(steps, 0, live, engine.estimate_step_seconds(109_386, 32))
    assert steps % chosen == 0


def test_small_model_runs_large_chunks_and_a_live_bar_gets_about_ten_updates() -> None:
    step = engine.estimate_step_seconds(109_386, 32)  # the tutorial MLP at batch 32
    quiet = engine.choose_steps_per_execution(1688, 0, False, step)
    live = engine.choose_steps_per_execution(1688, 0, True, step)
    assert quiet >= 422 and quiet * step <= 2 * engine.MAX_SECONDS_PER_CALL
    assert 1688 // live in range(5, 17)


def test_large_model_keeps_each_call_short() -> None:
    step = engine.estimate_step_seconds(25_000_000, 256)  # a ResNet-50-sized model
    assert engine.choose_steps_per_execution(1000, 0, False, step) == 1


def test_explicit_setting_is_rounded_to_a_divisor() -> None:
    assert engine.choose_steps_per_execution(1000, 64, False) in (50, 100, 40, 125)
    assert engine.choose_steps_per_execution(1000, 100, False) == 100
    assert engine.choose_steps_per_execution(10, 5000, False) == 10


def test_split_validation_holds_out_the_last_part_as_keras_does() -> None:
    x, y = np.arange(100).reshape(100, 1), np.arange(100)
    split = engine.split_validation(x, y, 0.1)
    assert len(split.x_train) == 90 and split.y_val.tolist() == list(range(90, 100))
    assert engine.split_validation(x, y, 0.0).x_val is None


def test_each_epoch_visits_every_example_once_in_its_own_order() -> None:
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10)
    stream, steps = engine.training_dataset(x, y, batch_size=4, seed=7, shuffle=True, first_epoch=0, epochs=3)
    batches = [labels.numpy().tolist() for _, labels in stream]
    assert steps == 3 and len(batches) == 9  # 4 + 4 + 2 per epoch, nothing carried over
    epochs = [sum(batches[i * 3:(i + 1) * 3], []) for i in range(3)]
    assert all(sorted(order) == list(range(10)) for order in epochs)
    assert epochs[0] != epochs[1]
    resumed, _ = engine.training_dataset(x, y, batch_size=4, seed=7, shuffle=True, first_epoch=2, epochs=3)
    assert sum((labels.numpy().tolist() for _, labels in resumed), []) == epochs[2]
