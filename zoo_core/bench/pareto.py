"""The Pareto front of (cost, accuracy) points: the models nothing else beats on both."""

from __future__ import annotations

import math
from typing import Sequence


def pareto_front(costs: Sequence[float], accuracies: Sequence[float]) -> list[int]:
    """Indices of the points no other point dominates, cheapest first.

    A point is dominated when another costs no more and is no less accurate,
    and is better in at least one of the two. Lower cost and higher accuracy
    are better; points with a missing or non-finite figure are left out. Of
    exact duplicates, the first is kept.
    """
    if len(costs) != len(accuracies):
        raise ValueError(f"{len(costs)} costs but {len(accuracies)} accuracies")
    points = [(float(cost), -float(accuracy), index) for index, (cost, accuracy) in enumerate(zip(costs, accuracies))
              if _finite(cost) and _finite(accuracy)]
    front: list[int] = []
    best = math.inf  # the lowest -accuracy (highest accuracy) seen among cheaper points
    for cost, negative_accuracy, index in sorted(points):
        if negative_accuracy < best:
            front.append(index)
            best = negative_accuracy
    return front


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
