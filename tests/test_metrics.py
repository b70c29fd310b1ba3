"""zoo_core.reporting.metrics: hand-computed values, agreement with scikit-learn, and the metrics.json schema."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from zoo_core.reporting.metrics import METRIC_KEYS, classification_metrics

NAMES = ["cat", "dog", "bird"]
# true:      0  0  0  1  1  2
# predicted: 0  0  1  1  2  2
Y_TRUE = np.array([0, 0, 0, 1, 1, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2])


def probabilities_for(predicted: np.ndarray, classes: int, confidence: float = 0.7) -> np.ndarray:
    """Rows whose argmax is ``predicted``, summing to one."""
    rows = np.full((len(predicted), classes), (1 - confidence) / (classes - 1))
    rows[np.arange(len(predicted)), predicted] = confidence
    return rows


@pytest.fixture
def tiny() -> dict:
    return classification_metrics(Y_TRUE, probabilities_for(Y_PRED, 3), NAMES, loss=0.5)


def test_hand_computed_accuracy_and_confusion_matrix(tiny):
    assert tiny["accuracy"] == pytest.approx(4 / 6)
    assert tiny["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert tiny["samples"] == 6
    assert tiny["loss"] == 0.5


def test_hand_computed_per_class(tiny):
    # precision: cat 2/2, dog 1/2, bird 1/2; recall: cat 2/3, dog 1/2, bird 1/1
    expected = [
        {"class": 0, "name": "cat", "precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3},
        {"class": 1, "name": "dog", "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
        {"class": 2, "name": "bird", "precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1},
    ]
    assert len(tiny["per_class"]) == 3
    for got, want in zip(tiny["per_class"], expected):
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert got[key] == pytest.approx(value), (want["name"], key)


def test_hand_computed_averages(tiny):
    assert tiny["precision_macro"] == pytest.approx(2 / 3)
    assert tiny["recall_macro"] == pytest.approx(13 / 18)
    assert tiny["f1_macro"] == pytest.approx(59 / 90)
    # weighted by support 3, 2, 1
    assert tiny["precision_weighted"] == pytest.approx(4.5 / 6)
    assert tiny["recall_weighted"] == pytest.approx(4 / 6)
    assert tiny["f1_weighted"] == pytest.approx(61 / 90)


def test_schema_is_exact_and_json_ready(tiny):
    assert list(tiny) == list(METRIC_KEYS)
    assert set(METRIC_KEYS) >= {"accuracy", "loss", "precision_macro", "recall_macro", "f1_macro",
                                "per_class", "confusion_matrix"}
    text = json.dumps(tiny, allow_nan=False)
    assert json.loads(text) == tiny
    for key in METRIC_KEYS:
        if key not in ("per_class", "confusion_matrix", "samples"):
            assert type(tiny[key]) is float, key
    assert type(tiny["samples"]) is int
    assert all(type(count) is int for row in tiny["confusion_matrix"] for count in row)
    for entry in tiny["per_class"]:
        assert type(entry["class"]) is int and type(entry["support"]) is int and type(entry["name"]) is str
        assert all(type(entry[k]) is float for k in ("precision", "recall", "f1"))


def test_agrees_with_sklearn_on_random_data_with_an_absent_class():
    rng = np.random.default_rng(0)
    classes = 7
    y_true = rng.integers(0, classes - 1, 500)  # class 6 never occurs...
    probabilities = rng.dirichlet(np.ones(classes), 500)
    probabilities[:, 6] = 0.0  # ...and is never predicted
    y_pred = probabilities.argmax(axis=1)
    names = [f"c{i}" for i in range(classes)]
    metrics = classification_metrics(y_true, probabilities, names)
    labels = list(range(classes))
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    for average in ("macro", "weighted"):
        kwargs = dict(labels=labels, average=average, zero_division=0)
        assert metrics[f"precision_{average}"] == pytest.approx(precision_score(y_true, y_pred, **kwargs))
        assert metrics[f"recall_{average}"] == pytest.approx(recall_score(y_true, y_pred, **kwargs))
        assert metrics[f"f1_{average}"] == pytest.approx(f1_score(y_true, y_pred, **kwargs))
    per_class_f1 = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    assert [entry["f1"] for entry in metrics["per_class"]] == pytest.approx(list(per_class_f1))
    assert metrics["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=labels).tolist()
    absent = metrics["per_class"][6]
    assert absent == {"class": 6, "name": "c6", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert sum(entry["support"] for entry in metrics["per_class"]) == metrics["samples"] == 500


def test_two_classes_and_perfect_predictions():
    y = np.array([0, 1, 1, 0, 1])
    metrics = classification_metrics(y, probabilities_for(y, 2, 0.9), ["no", "yes"])
    assert metrics["accuracy"] == 1.0
    assert metrics["f1_macro"] == metrics["f1_weighted"] == 1.0
    assert metrics["confusion_matrix"] == [[2, 0], [0, 3]]
    assert metrics["loss"] is None


def test_one_hot_labels_are_accepted(tiny):
    one_hot = np.eye(3)[Y_TRUE]
    assert classification_metrics(one_hot, probabilities_for(Y_PRED, 3), NAMES, loss=0.5) == tiny


@pytest.mark.parametrize("loss", [float("nan"), float("inf")])
def test_non_finite_loss_is_stored_as_none(loss):
    metrics = classification_metrics(Y_TRUE, probabilities_for(Y_PRED, 3), NAMES, loss=loss)
    assert metrics["loss"] is None
    json.dumps(metrics, allow_nan=False)


def test_numpy_loss_becomes_a_python_float():
    metrics = classification_metrics(Y_TRUE, probabilities_for(Y_PRED, 3), NAMES, loss=np.float32(0.25))
    assert type(metrics["loss"]) is float and math.isclose(metrics["loss"], 0.25)


@pytest.mark.parametrize(
    "y_true, probabilities, names, message",
    [
        (Y_TRUE, probabilities_for(Y_PRED, 3), ["a", "b"], "class names"),
        (Y_TRUE[:4], probabilities_for(Y_PRED, 3), NAMES, "labels"),
        (np.array([0, 1, 3, 0, 1, 2]), probabilities_for(Y_PRED, 3), NAMES, "0..2"),
        (Y_TRUE, probabilities_for(Y_PRED, 3).ravel(), NAMES, "shape"),
        (np.array([], dtype=int), np.zeros((0, 3)), NAMES, "no test examples"),
    ],
)
def test_bad_inputs_are_refused_clearly(y_true, probabilities, names, message):
    with pytest.raises(ValueError, match=message):
        classification_metrics(y_true, probabilities, names)
