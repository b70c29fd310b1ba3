"""The validation split of the training data, and what is wrong with its class balance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo_core.errors import DataError


@dataclass
class TrainingData:
    """The split the model trains and validates on."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None



def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, mode: str = "last", seed: int = 0) -> TrainingData:
    """Hold out ``fraction`` of the training data for validation.

    ``mode`` "last" holds out the last part, as Keras' validation_split does
    (on data sorted by class that part is the last class or two: see
    :func:`split_warnings`). "stratified" holds out about ``fraction`` of
    every class, chosen at random with ``seed``; both parts keep the data's
    order.
    """
    if fraction <= 0:
        return TrainingData(x, y, None, None)
    if mode == "stratified":
        held = _stratified_indices(np.asarray(y), fraction, seed)
        cut = len(x) - len(held)
    else:
        cut = int(len(x) * (1.0 - fraction))
    if cut < 1 or cut >= len(x):
        raise DataError(f"validation_split {fraction} leaves no training or no validation data for {len(x)} examples",
                        hint="use more data or a validation_split between 0 and 1 that keeps both parts non-empty")
    if mode != "stratified":
        return TrainingData(x[:cut], y[:cut], x[cut:], y[cut:])
    keep = np.ones(len(x), dtype=bool)
    keep[held] = False
    return TrainingData(x[keep], y[keep], x[held], y[held])


def _stratified_indices(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of about ``fraction`` of each class's examples (at least one of a class with two or more)."""
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        count = int(round(len(members) * fraction))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        held.append(rng.permutation(members)[:count])
    return np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)


def class_counts(y: np.ndarray | None, class_names: list[str]) -> dict[str, int]:
    """Examples per class, by class name (every class, zeros included)."""
    counts = np.bincount(np.asarray(y, dtype=np.int64).ravel(), minlength=len(class_names)) if y is not None and len(y) \
        else np.zeros(len(class_names), dtype=np.int64)
    return {str(name): int(counts[index]) for index, name in enumerate(class_names)}


def sorted_by_class(y: np.ndarray) -> bool:
    """Whether the labels come in one block per class (e.g. all 0s, then all 1s...), with at least two classes."""
    labels = np.asarray(y).ravel()
    if len(labels) < 2:
        return False
    blocks = 1 + int(np.count_nonzero(labels[1:] != labels[:-1]))
    return 1 < blocks == len(np.unique(labels))


def split_warnings(y_all: np.ndarray, split: TrainingData, class_names: list[str], mode: str,
                   shuffle: bool) -> list[str]:
    """What is wrong with the class balance of a split, with the class counts; empty when nothing is.

    Warned about: training data sorted by class, a training part or a
    validation part that misses classes.
    """
    found: list[str] = []
    train = class_counts(split.y_train, class_names)
    if sorted_by_class(y_all):
        what = ('validation = "last" holds out the last part, i.e. the last class(es) only'
                if mode == "last" and split.y_val is not None else
                "the validation part is stratified" if split.y_val is not None else "there is no validation part")
        fix = ("use --set validation=stratified, and shuffle the data in the dataset" if mode == "last"
               else "shuffle the data in the dataset")
        found.append(f"the training data is sorted by class (one block per class): {what}; "
                     + ("training shuffles every epoch" if shuffle else "shuffle = false trains class after class")
                     + f"; {fix}")
    missing = [name for name, count in train.items() if count == 0]
    if missing:
        found.append(f"the training part has no examples of {len(missing)} class(es): {_counts_text(train)}; "
                     "use more data (max_train_samples takes the first N examples) or a dataset with every class")
    if split.y_val is not None:
        val = class_counts(split.y_val, class_names)
        lacking = [name for name, count in val.items() if count == 0 and train[name] > 0]
        if lacking:
            found.append(f"the validation part ({len(split.y_val)} examples, validation = \"{mode}\") has no examples "
                         f"of {len(lacking)} class(es): {_counts_text(val)}; "
                         + ("use --set validation=stratified" if mode == "last" else "use a larger validation_split"))
    return found


def _counts_text(counts: dict[str, int], limit: int = 20) -> str:
    """'0: 12, 1: 0, ...': at most ``limit`` classes, then how many more."""
    items = [f"{name}: {count}" for name, count in counts.items()]
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
