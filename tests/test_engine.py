"""The engine's choices: calls into TensorFlow, threads, and the per-epoch input stream."""

from __future__ import annotations

import numpy as np
import pytest

from zoo_core.training import execution, input_pipeline, validation_split


@pytest.mark.parametrize("steps", [1, 7, 141, 1687, 1688, 2000])
@pytest.mark.parametrize("live", [False, True])
def test_steps_per_execution_always_divides_the_epoch(steps: int, live: bool) -> None:
    chosen = execution.choose_steps_per_execution(steps, 0, live, execution.estimate_step_seconds(109_386, 32))
    assert steps % chosen == 0


def test_small_model_runs_large_chunks_and_a_live_bar_gets_about_ten_updates() -> None:
    step = execution.estimate_step_seconds(109_386, 32)  # the tutorial MLP at batch 32
    quiet = execution.choose_steps_per_execution(1688, 0, False, step)
    live = execution.choose_steps_per_execution(1688, 0, True, step)
    assert quiet >= 422 and quiet * step <= 2 * execution.MAX_SECONDS_PER_CALL
    assert 1688 // live in range(5, 17)


def test_large_model_keeps_each_call_short() -> None:
    step = execution.estimate_step_seconds(25_000_000, 256)  # a ResNet-50-sized model
    assert execution.choose_steps_per_execution(1000, 0, False, step) == 1


def test_explicit_setting_is_rounded_to_a_divisor() -> None:
    assert execution.choose_steps_per_execution(1000, 64, False) in (50, 100, 40, 125)
    assert execution.choose_steps_per_execution(1000, 100, False) == 100
    assert execution.choose_steps_per_execution(10, 5000, False) == 10


def test_split_validation_holds_out_the_last_part_as_keras_does() -> None:
    x, y = np.arange(100).reshape(100, 1), np.arange(100)
    split = validation_split.split_validation(x, y, 0.1)
    assert len(split.x_train) == 90 and split.y_val.tolist() == list(range(90, 100))
    assert validation_split.split_validation(x, y, 0.0).x_val is None


def test_each_epoch_visits_every_example_once_in_its_own_order() -> None:
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10)
    stream, steps = input_pipeline.training_dataset(x, y, batch_size=4, seed=7, shuffle=True, first_epoch=0, epochs=3)
    batches = [labels.numpy().tolist() for _, labels in stream]
    assert steps == 3 and len(batches) == 9  # 4 + 4 + 2 per epoch, nothing carried over
    epochs = [sum(batches[i * 3:(i + 1) * 3], []) for i in range(3)]
    assert all(sorted(order) == list(range(10)) for order in epochs)
    assert epochs[0] != epochs[1]
    resumed, _ = input_pipeline.training_dataset(x, y, batch_size=4, seed=7, shuffle=True, first_epoch=2, epochs=3)
    assert sum((labels.numpy().tolist() for _, labels in resumed), []) == epochs[2]


# -- the validation split on class-sorted data ------------------------------------------------

NAMES = ["a", "b", "c"]


def sorted_labels(per_class: int = 30) -> np.ndarray:
    """Labels of a class-sorted dataset: 30 of class 0, then 30 of class 1, then 30 of class 2."""
    return np.repeat(np.arange(3), per_class)


def test_last_split_of_sorted_data_is_one_class_and_is_warned_about_with_counts() -> None:
    y = sorted_labels()
    x = np.arange(len(y), dtype=np.float32).reshape(-1, 1)
    split = validation_split.split_validation(x, y, 0.2)
    assert sorted(set(split.y_val.tolist())) == [2] and len(split.y_val) == 18
    found = validation_split.split_warnings(y, split, NAMES, "last", shuffle=True)
    assert len(found) == 2
    assert "sorted by class" in found[0] and "--set validation=stratified" in found[0]
    assert "validation part (18 examples" in found[1] and "2 class(es): a: 0, b: 0, c: 18" in found[1]


def test_stratified_split_holds_out_every_class_with_the_seed() -> None:
    y = sorted_labels()
    x = np.arange(len(y), dtype=np.float32).reshape(-1, 1)
    split = validation_split.split_validation(x, y, 0.2, "stratified", seed=7)
    assert validation_split.class_counts(split.y_val, NAMES) == {"a": 6, "b": 6, "c": 6}
    assert validation_split.class_counts(split.y_train, NAMES) == {"a": 24, "b": 24, "c": 24}
    assert sorted(split.x_train[:, 0].tolist() + split.x_val[:, 0].tolist()) == list(range(90))  # a partition
    assert split.x_train[:, 0].tolist() == sorted(split.x_train[:, 0].tolist())  # the data's order is kept
    again = validation_split.split_validation(x, y, 0.2, "stratified", seed=7)
    other = validation_split.split_validation(x, y, 0.2, "stratified", seed=8)
    assert again.x_val.tolist() == split.x_val.tolist() and other.x_val.tolist() != split.x_val.tolist()
    found = validation_split.split_warnings(y, split, NAMES, "stratified", shuffle=True)
    assert len(found) == 1 and "sorted by class" in found[0] and "stratified" in found[0]  # the order only


def test_a_small_class_keeps_one_example_on_each_side() -> None:
    y = np.array([0] * 50 + [1] * 2 + [2] * 48)
    split = validation_split.split_validation(np.zeros((100, 1)), y, 0.1, "stratified", seed=1)
    assert validation_split.class_counts(split.y_val, NAMES) == {"a": 5, "b": 1, "c": 5}
    assert validation_split.class_counts(split.y_train, NAMES)["b"] == 1


def test_shuffled_data_gives_no_warning_and_a_missing_training_class_does() -> None:
    rng = np.random.default_rng(0)
    y = rng.permutation(sorted_labels())
    split = validation_split.split_validation(np.zeros((90, 1)), y, 0.1)
    assert validation_split.split_warnings(y, split, NAMES, "last", shuffle=True) == []
    only_two = np.array([0, 1] * 20)
    found = validation_split.split_warnings(only_two, validation_split.split_validation(np.zeros((40, 1)), only_two, 0.1), NAMES,
                                  "last", shuffle=True)
    assert found == ["the training part has no examples of 1 class(es): a: 18, b: 18, c: 0; use more data "
                     "(max_train_samples takes the first N examples) or a dataset with every class"]


def test_sorted_means_one_block_per_class() -> None:
    assert validation_split.sorted_by_class(np.array([0, 0, 1, 1, 2]))
    assert validation_split.sorted_by_class(np.array([2, 2, 0, 0, 1]))  # blocks in any order
    assert not validation_split.sorted_by_class(np.array([0, 1, 0, 1]))
    assert not validation_split.sorted_by_class(np.array([1, 1, 1]))  # one class: nothing to mix
