"""Dataset ``digits``: scikit-learn's bundled 8x8 handwritten digits (no network needed)."""

from __future__ import annotations

from typing import Any

#: Pixel values of the original images are integers 0..16 (16 grey levels plus black).
RAW_MAX = 16.0


def digits(test_fraction: float = 0.2, seed: int = 0) -> Any:
    """scikit-learn's 8x8 handwritten digits: 1,797 grayscale images, 10 classes, scaled to [0, 1].

    The images ship with scikit-learn (UCI optical recognition of handwritten
    digits, 16 grey levels). The train/test split is stratified by class and
    fixed by ``seed``: the same parameters always give the same split.

    Args:
        test_fraction: share of the images held out as the test set, in (0, 1).
        seed: seed of the stratified train/test split.
    """
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from zoo_core.data import Dataset, DatasetInfo
    from zoo_core.errors import ConfigError

    bunch = load_digits()
    images = bunch.images.astype(np.float32) / np.float32(RAW_MAX)  # (1797, 8, 8) in [0, 1]
    labels = bunch.target.astype(np.int64)
    classes = len(bunch.target_names)
    test_count = int(np.ceil(test_fraction * len(labels)))
    if not 0.0 < test_fraction < 1.0 or not classes <= test_count <= len(labels) - classes:
        raise ConfigError(f"dataset digits: test_fraction must leave at least one image of each of the "
                          f"{classes} classes in both splits, got {test_fraction}",
                          hint="e.g. --set dataset.test_fraction=0.2")
    if not 0 <= seed < 2**32:
        raise ConfigError(f"dataset digits: seed must be in [0, 2**32), got {seed}")
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=seed)
    info = DatasetInfo(
        name="digits",
        input_shape=(8, 8),
        num_classes=classes,
        class_names=[str(name) for name in bunch.target_names],
        input_dtype="float32",
        value_range=(0.0, 1.0),
        raw_value_range=(0.0, RAW_MAX),
        scale=1.0 / RAW_MAX,
        offset=0.0,
        image=True,
        channels=1,
        description="scikit-learn's optical recognition of handwritten digits (UCI): 8x8 grayscale, "
                    "pixel values 0..16 scaled to 0..1; stratified train/test split.",
    )
    return Dataset(np.ascontiguousarray(x_train), y_train, np.ascontiguousarray(x_test), y_test, info)
