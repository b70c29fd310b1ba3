"""The label check the conformance kit makes on both forms of a dataset (arrays and streamed files)."""

from __future__ import annotations

from typing import Any

from zoo_core.testing.results import Broken


def check_labels(dataset: Any) -> None:
    """Every label of both splits is a class index, ``0 .. info.num_classes - 1``."""
    classes = dataset.info.num_classes
    for split in ("train", "test"):
        y = getattr(dataset, f"y_{split}")
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= classes:
            raise Broken(f"y_{split} holds labels {low}..{high}, but info.num_classes is {classes}: labels must "
                         f"be 0..{classes - 1} (fix the labels, or num_classes and class_names)")
