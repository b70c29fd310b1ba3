"""Seeded, stratified train/test splits for the datasets that read a user's files (image-folder, csv).

Files are read in a sorted order, so their examples come sorted by class;
both splits are shuffled with the seed, so that Keras' last-part validation
split, ``max_train_samples`` and ``max_test_samples`` see every class.
Importing this module imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

from zoo_core.errors import DataError


def stratified_split(labels: Any, fraction: float, seed: int, where: str) -> tuple[Any, Any]:
    """Indices ``(train, test)``: ``fraction`` of every class (rounded, at least one) to test, both shuffled.

    A class with a single example stays in training. Raises DataError when no
    example at all would go to the test split.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = 0 if len(members) < 2 else min(max(int(round(len(members) * fraction)), 1), len(members) - 1)
        test.append(members[:count])
        train.append(members[count:])
    test_indices = np.concatenate(test)
    if not len(test_indices):
        raise DataError(f"{where}: too few examples for a test split ({len(labels)} in all, one per class)",
                        hint="give more examples per class, or a separate test file/folder as test_path")
    return rng.permutation(np.concatenate(train)), rng.permutation(test_indices)


def shuffled(count: int, seed: int) -> Any:
    """The indices ``0..count-1`` in a seeded random order."""
    import numpy as np

    return np.random.default_rng(seed).permutation(count)
