"""Test-set metrics for a classifier, as plain JSON-ready values (``metrics.json``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

METRIC_KEYS = (
    "accuracy",
    "loss",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "per_class",
    "confusion_matrix",
    "samples",
)
"""The top-level keys of :func:`classification_metrics`' result, in order."""


def classification_metrics(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    class_names: list[str],
    loss: float | None = None,
) -> dict[str, Any]:
    """Accuracy, precision / recall / F1 (per class, macro, weighted) and the confusion matrix.

    Args:
        y_true: true class indices, shape ``(n,)`` (a one-hot ``(n, C)`` array is
            accepted too and reduced with ``argmax``).
        probabilities: the model's class probabilities, shape ``(n, C)``; the
            prediction is the ``argmax`` of each row.
        class_names: a display name per class; ``len(class_names) == C``.
        loss: the test loss from ``model.evaluate``, if known. A non-finite
            loss (a diverged run) is stored as ``None`` so the JSON stays valid.

    Returns:
        A dict with exactly the keys in :data:`METRIC_KEYS`. Averages are over
        all ``C`` classes (a class with no test examples counts with 0);
        ``zero_division=0`` everywhere. ``confusion_matrix[i][j]`` counts
        examples of true class ``i`` predicted as ``j``. All values are plain
        Python ``float`` / ``int`` / ``str``.
    """
    y_true, y_pred, num_classes = _check_inputs(y_true, probabilities, class_names)
    labels = list(range(num_classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    averages = {}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        averages.update({f"precision_{average}": float(p), f"recall_{average}": float(r), f"f1_{average}": float(f)})
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "loss": _finite_or_none(loss),
        **averages,
        "per_class": [
            {
                "class": index,
                "name": str(class_names[index]),
                "precision": float(precision[index]),
                "recall": float(recall[index]),
                "f1": float(f1[index]),
                "support": int(support[index]),
            }
            for index in labels
        ],
        "confusion_matrix": [[int(count) for count in row] for row in matrix],
        "samples": int(len(y_true)),
    }


def _check_inputs(
    y_true: np.ndarray, probabilities: np.ndarray, class_names: list[str]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate shapes and label range; return (true labels, predicted labels, C)."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must have shape (n, classes), got {probabilities.shape}")
    samples, num_classes = probabilities.shape
    if num_classes != len(class_names):
        raise ValueError(f"probabilities have {num_classes} columns but there are {len(class_names)} class names")
    y_true = np.asarray(y_true)
    if y_true.ndim == 2 and y_true.shape[1] == num_classes and num_classes > 1:
        y_true = np.argmax(y_true, axis=1)
    y_true = y_true.reshape(-1).astype(np.int64)
    if len(y_true) != samples:
        raise ValueError(f"{len(y_true)} labels but {samples} rows of probabilities")
    if samples == 0:
        raise ValueError("no test examples to compute metrics on")
    if y_true.min() < 0 or y_true.max() >= num_classes:
        raise ValueError(f"labels must be in 0..{num_classes - 1}, got {y_true.min()}..{y_true.max()}")
    return y_true, np.argmax(probabilities, axis=1).astype(np.int64), num_classes


def _finite_or_none(value: float | None) -> float | None:
    """``float(value)``, or ``None`` when it is missing, NaN or infinite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
