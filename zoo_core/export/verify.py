"""Verification: compare an artifact's answers with the Keras model's, against thresholds.

``compare_with_keras`` only duck-types the predictor it is given (anything
with ``predict(x)`` and ``latency_us(example, repeats=)``, e.g. a
``zoo_core.predict`` predictor).
"""

from __future__ import annotations

from typing import Any

from zoo_core.data import Dataset
from zoo_core.errors import ExportError
from zoo_core.export.types import ExportContext


#: Test examples decoded at a time when a streamed test set is verified.
STREAMED_PART = 1000


def verification_slice(dataset: Dataset, samples: int) -> tuple[Any, Any]:
    """The test examples an exporter verifies on: the first ``samples`` (0: all)."""
    if samples < 0:
        raise ExportError(f"verify_samples must be 0 (all) or positive, got {samples}")
    if samples == 0:
        return dataset.x_test, dataset.y_test
    return dataset.x_test[:samples], dataset.y_test[:samples]


def keras_probabilities(model: Any, x: Any, batch_size: int | None = None) -> Any:
    """The Keras model's class probabilities for ``x`` (inference mode, in batches of ``batch_size``; None: as
    zoo_core.predict runs them, fewer examples at once for a large input), as numpy."""
    import keras
    import numpy as np

    from zoo_core.predict.predictors import batch_size as default_batch_size

    size = batch_size or default_batch_size(tuple(x.shape[1:]))
    parts = [keras.ops.convert_to_numpy(model(x[start:start + size], training=False))
             for start in range(0, len(x), size)]
    return np.concatenate(parts).astype(np.float32)


def compare_probabilities(probabilities: Any, reference: Any, labels: Any) -> dict[str, Any]:
    """Verification figures of an artifact's probabilities against the Keras model's (``reference``).

    Returns ``accuracy``, ``keras_accuracy``, ``accuracy_drop`` (Keras minus
    artifact), ``max_abs_diff``, ``argmax_agreement`` and ``samples``.
    """
    import numpy as np

    probabilities = np.asarray(probabilities, dtype=np.float32)
    reference = np.asarray(reference, dtype=np.float32)
    if probabilities.shape != reference.shape:
        raise ExportError(f"the exported model answered with shape {probabilities.shape}, "
                          f"the Keras model with {reference.shape}")
    predicted, expected = probabilities.argmax(axis=1), reference.argmax(axis=1)
    accuracy = float(np.mean(predicted == labels))
    keras_accuracy = float(np.mean(expected == labels))
    return {
        "accuracy": accuracy,
        "keras_accuracy": keras_accuracy,
        "accuracy_drop": keras_accuracy - accuracy,
        "max_abs_diff": float(np.max(np.abs(probabilities - reference))) if probabilities.size else 0.0,
        "argmax_agreement": float(np.mean(predicted == expected)),
        "samples": int(len(labels)),
    }


#: How each threshold key is checked against the figure of the same meaning.
THRESHOLD_CHECKS: dict[str, tuple[str, str]] = {
    "max_abs_diff": ("max_abs_diff", "<="),
    "min_argmax_agreement": ("argmax_agreement", ">="),
    "max_accuracy_drop": ("accuracy_drop", "<="),
}


def compare_with_keras(predictor: Any, context: ExportContext, verify_samples: int,
                       latency_repeats: int = 200) -> dict[str, Any]:
    """Verification figures of a reloaded artifact: run ``predictor`` (e.g. a ``zoo_core.predict``
    predictor) on the test set, compare with the Keras model, and time one image."""
    import numpy as np

    x, y = verification_slice(context.dataset, verify_samples)
    if isinstance(x, np.ndarray):
        answers, reference = predictor.predict(x), keras_probabilities(context.model, x)
    else:  # a streamed test set (zoo_core.data.Examples): decoded a part at a time, never whole
        parts = [(predictor.predict(chunk), keras_probabilities(context.model, chunk))
                 for chunk in (x[start:start + STREAMED_PART] for start in range(0, len(x), STREAMED_PART))]
        answers, reference = (np.concatenate([np.asarray(part[side]) for part in parts]) for side in (0, 1))
    figures = compare_probabilities(answers, reference, y)
    figures["latency_us"] = predictor.latency_us(x[:1], repeats=latency_repeats)
    return figures


def failed_thresholds(figures: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """The thresholds that ``figures`` miss, in words (empty: verification passed).

    Threshold keys: ``max_abs_diff`` (largest probability difference),
    ``min_argmax_agreement`` (share of equal top classes), ``max_accuracy_drop``
    (Keras accuracy minus artifact accuracy, as a fraction).
    """
    failures = []
    for key, limit in thresholds.items():
        figure, operator = THRESHOLD_CHECKS[key]
        value = figures[figure]
        passed = value <= limit if operator == "<=" else value >= limit
        if not passed:
            failures.append(f"{figure} = {value:.6g}, needs {operator} {limit:.6g}")
    return failures


def describe_figures(figures: dict[str, Any]) -> str:
    """One line of verification figures for messages, e.g. ``accuracy 0.9812, max_abs_diff 3.1e-07, ...``."""
    shown = []
    for key in ("accuracy", "keras_accuracy", "max_abs_diff", "argmax_agreement", "samples"):
        if key in figures:
            value = figures[key]
            shown.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    return ", ".join(shown)


def verification_error(what: str, failures: list[str], figures: dict[str, Any]) -> ExportError:
    """The ExportError for a verification that did not pass: what failed and all figures."""
    return ExportError(
        f"{what}: verification failed ({'; '.join(failures)}); nothing was written. "
        f"Figures: {describe_figures(figures)}",
        hint="the exported model answers differently from the Keras model; "
             "try another variant (e.g. quantize=none) or more calibration samples",
    )
