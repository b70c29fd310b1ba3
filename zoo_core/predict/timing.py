"""Timing a model call: the latency figure of predictors and exporters' verification."""

from __future__ import annotations

import time
from typing import Any, Callable


def median_latency_us(call: Callable[[], Any], repeats: int = 200, warmup: int = 5) -> float:
    """Median wall time of ``call()`` in microseconds over ``repeats`` calls (after ``warmup``)."""
    import statistics  # not at the top: zoo list imports this package (through the tflite plugin)

    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000.0
