"""Measuring one model with its own runtime: accuracy on the test set, latency, throughput, size.

Latency is the median wall time of one image (batch 1) over ``repeat``
calls after a warm-up; throughput is images per second at batch 1,000 (the
median of :data:`BATCH_REPEATS` calls; a smaller test set is repeated to fill
the batch). The accuracy of an artifact is checked against the Keras
model's answers with the thresholds its exporter verified it with.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from zoo_core.export import THRESHOLD_CHECKS, compare_probabilities, failed_thresholds

#: Images per call for the throughput figure.
THROUGHPUT_BATCH = 1000
#: Timed calls at batch 1,000 (after one warm-up call).
BATCH_REPEATS = 5
#: Untimed single-image calls before the latency is timed.
WARMUP = 20


def measure(predictor: Any, x: Any, y: Any, reference: Any, repeat: int) -> dict[str, Any]:
    """Accuracy, agreement with ``reference`` (the Keras model's probabilities), latency and throughput.

    Returns ``accuracy``, ``keras_accuracy``, ``delta_vs_keras`` (artifact
    minus Keras, a fraction), ``accuracy_drop``, ``argmax_agreement``,
    ``max_abs_diff``, ``latency_us`` and ``images_per_second``.
    """
    figures = compare_probabilities(predictor.predict(x), reference, y)
    figures["delta_vs_keras"] = figures["accuracy"] - figures["keras_accuracy"]
    figures["latency_us"] = latency_us(predictor, x, repeat)
    figures["images_per_second"] = images_per_second(predictor, x)
    return figures


def latency_us(predictor: Any, x: Any, repeat: int) -> float:
    """Median microseconds for one image, over ``repeat`` calls after :data:`WARMUP` untimed ones."""
    predictor.latency_us(x[:1], repeats=WARMUP)
    return float(predictor.latency_us(x[:1], repeats=repeat))


def images_per_second(predictor: Any, x: Any) -> float:
    """Images per second at batch :data:`THROUGHPUT_BATCH` (the median of :data:`BATCH_REPEATS` timed calls)."""
    import numpy as np

    batch = x[:THROUGHPUT_BATCH]
    if len(batch) < THROUGHPUT_BATCH:
        batch = np.resize(batch, (THROUGHPUT_BATCH, *batch.shape[1:]))
    predictor.predict(batch)  # warm-up: a TFLite interpreter resizes its tensors here
    times = []
    for _ in range(BATCH_REPEATS):
        start = time.perf_counter()
        predictor.predict(batch)
        times.append(time.perf_counter() - start)
    return THROUGHPUT_BATCH / max(statistics.median(times), 1e-9)


def check(figures: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """The exporter's verification thresholds that the full test set misses (empty: as promised)."""
    known = {key: float(value) for key, value in thresholds.items()
             if key in THRESHOLD_CHECKS and isinstance(value, (int, float))}  # a plugin's own keys: not checked
    return failed_thresholds(figures, known)
