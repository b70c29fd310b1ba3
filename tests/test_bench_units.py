"""zoo_core.bench's pure parts: multiply-adds per layer, the Pareto front, labels, settings that differ.

No training: a few small Keras models are built (not trained) for model_macs.
"""

from __future__ import annotations

import math

import pytest

from zoo_core.bench.compare import setting_differences
from zoo_core.training.macs import layer_macs, model_macs
from zoo_core.bench.pareto import pareto_front
from zoo_core.bench.plot import label_offsets
from zoo_core.bench.targets import model_labels


@pytest.mark.parametrize("kind, config, inputs, output, expected", [
    ("Dense", {"units": 64}, [(None, 784)], (None, 64), 784 * 64),
    ("Dense", {"units": 8}, [(None, 5, 3)], (None, 5, 8), 5 * 3 * 8),  # applied per position
    ("Conv2D", {"kernel_size": (3, 3)}, [(None, 28, 28, 1)], (None, 26, 26, 16), 26 * 26 * 16 * 9 * 1),
    ("Conv2D", {"kernel_size": [5, 5], "groups": 2}, [(None, 12, 12, 8)], (None, 8, 8, 4), 8 * 8 * 4 * 25 * 8 // 2),
    ("Conv2D", {"kernel_size": (3, 3), "data_format": "channels_first"}, [(None, 4, 10, 10)], (None, 6, 8, 8),
     6 * 8 * 8 * 9 * 4),
    ("DepthwiseConv2D", {"kernel_size": (3, 3), "depth_multiplier": 1}, [(None, 14, 14, 32)], (None, 14, 14, 32),
     14 * 14 * 32 * 9),
    ("SeparableConv2D", {"kernel_size": (3, 3), "depth_multiplier": 1}, [(None, 14, 14, 32)], (None, 14, 14, 64),
     14 * 14 * 32 * 9 + 14 * 14 * 32 * 64),
    ("MaxPooling2D", {"pool_size": (2, 2)}, [(None, 26, 26, 16)], (None, 13, 13, 16), 13 * 13 * 16 * 4),
    ("AveragePooling2D", {"pool_size": [3, 3]}, [(None, 9, 9, 4)], (None, 3, 3, 4), 3 * 3 * 4 * 9),
    ("GlobalAveragePooling2D", {}, [(None, 7, 7, 64)], (None, 64), 7 * 7 * 64),
    ("BatchNormalization", {}, [(None, 13, 13, 16)], (None, 13, 13, 16), 13 * 13 * 16),
    ("Add", {}, [(None, 7, 7, 8), (None, 7, 7, 8)], (None, 7, 7, 8), 7 * 7 * 8),
    ("Add", {}, [(None, 10)] * 3, (None, 10), 20),
    ("Flatten", {}, [(None, 28, 28)], (None, 784), 0),
    ("Dropout", {"rate": 0.2}, [(None, 64)], (None, 64), 0),
    ("InputLayer", {}, [(None, 28, 28)], (None, 28, 28), 0),
])
def test_layer_macs_of_known_layers(kind, config, inputs, output, expected) -> None:
    assert layer_macs(kind, config, inputs, output) == expected


def test_an_unknown_layer_kind_is_not_guessed() -> None:
    assert layer_macs("MyAttention", {}, [(None, 10, 16)], (None, 10, 16)) is None


def test_model_macs_of_an_mlp_is_the_sum_of_its_dense_layers() -> None:
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="softmax")])
    assert model_macs(model) == (784 * 32 + 32 * 10, [])


def test_model_macs_of_a_small_residual_cnn_counted_by_hand() -> None:
    keras = pytest.importorskip("keras")
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)                        # 12*12*8 * 9*1
    x = keras.layers.BatchNormalization()(x)                                      # 12*12*8
    y = keras.layers.DepthwiseConv2D(3, padding="same")(x)                        # 12*12*8 * 9
    y = keras.layers.SeparableConv2D(8, 3, padding="same")(y)                     # 12*12*8*9 + 12*12*8*8
    x = keras.layers.Add()([x, y])                                                # 12*12*8
    x = keras.layers.MaxPooling2D(2)(x)                                           # 6*6*8 * 4
    x = keras.layers.GlobalAveragePooling2D()(x)                                  # 6*6*8
    outputs = keras.layers.Dense(10, activation="softmax")(x)                     # 8*10
    model = keras.Model(inputs, outputs)
    expected = (12 * 12 * 8 * 9 + 12 * 12 * 8 + 12 * 12 * 8 * 9 + (12 * 12 * 8 * 9 + 12 * 12 * 8 * 8)
                + 12 * 12 * 8 + 6 * 6 * 8 * 4 + 6 * 6 * 8 + 8 * 10)
    assert model_macs(model) == (expected, [])


def test_model_macs_walks_into_a_nested_model_and_names_layers_it_cannot_count() -> None:
    keras = pytest.importorskip("keras")
    inner = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8)], name="inner")
    inputs = keras.Input((4, 16))
    x = keras.layers.MultiHeadAttention(num_heads=1, key_dim=4, name="attention")(inputs, inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16)(x)
    outputs = inner(x)
    total, uncounted = model_macs(keras.Model(inputs, outputs))
    assert total == 64 * 16 + 16 * 8
    assert uncounted == ["attention (MultiHeadAttention)"]


def test_pareto_front_keeps_what_nothing_beats_cheapest_first() -> None:
    costs = [10.0, 2.0, 5.0, 2.0, 50.0, 5.0, 1.0]
    accuracies = [0.99, 0.95, 0.97, 0.94, 0.99, 0.97, 0.90]
    # 3 is dominated by 1 (same cost, less accurate), 5 duplicates 2, 4 costs more than 0 for the same accuracy
    assert pareto_front(costs, accuracies) == [6, 1, 2, 0]


def test_pareto_front_edge_cases() -> None:
    assert pareto_front([], []) == []
    assert pareto_front([3.0], [0.5]) == [0]
    assert pareto_front([1.0, math.nan, 2.0], [0.5, 0.99, None]) == [0]  # missing figures are left out
    assert pareto_front([1.0, 2.0, 3.0], [0.9, 0.8, 0.7]) == [0]  # the cheapest is also the best
    with pytest.raises(ValueError):
        pareto_front([1.0], [0.5, 0.6])


def test_model_labels_are_the_recipe_unless_two_runs_share_it() -> None:
    assert model_labels([("mnist-cnn-20261130-101010-aaaaaa", "mnist-cnn"),
                         ("mnist-mlp-20261130-101010-bbbbbb", "mnist-mlp"),
                         ("mnist-mlp-20261130-111111-cccccc", "mnist-mlp"),
                         ("mnist-mlp-20261130-101010-bbbbbb", "mnist-mlp")]) == [
        "mnist-cnn", "mnist-mlp@bbbbbb", "mnist-mlp@cccccc", "mnist-mlp@bbbbbb"]
    assert model_labels([("a-x", "r"), ("b-x", "r")]) == ["a-x", "b-x"]  # same suffix: the whole ids


def test_label_offsets_never_overlap_for_points_on_top_of_each_other() -> None:
    texts = ["tflite", "tflite-float16", "tflite-dynamic", "tflite-int8"]
    offsets = label_offsets([(100.0, 100.0)] * 4, texts)
    assert len({dy for _, dy in offsets}) == 4
    assert label_offsets([(0.0, 0.0), (900.0, 0.0)], ["a", "b"]) == [(5.0, 4.0), (5.0, 4.0)]  # far apart: unmoved


def test_setting_differences_split_differing_and_identical_keys_in_order() -> None:
    differ, same = setting_differences([{"epochs": "1", "seed": "42", "architecture.hidden": "[16]"},
                                        {"epochs": "2", "seed": "42", "architecture.hidden": "[16]", "extra": "x"}])
    assert differ == [("epochs", ["1", "2"]), ("extra", ["–", "x"])]
    assert same == [("seed", "42"), ("architecture.hidden", "[16]")]
