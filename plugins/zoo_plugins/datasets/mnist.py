"""Built-in dataset: MNIST handwritten digits, carried inside the package.

The Keras-layout ``mnist.npz`` (x_train, y_train, x_test, y_test) ships beside
this module so that training needs no network. Point the dataset at
another copy with its ``path`` parameter or ``ZOO_MNIST_PATH``: a Keras-layout
``.npz`` file, or a folder holding the four original IDX ``.gz`` files.
``classes`` keeps some digits only (relabelled 0..k-1 in the order given) and
``per_class`` a few training images of each: the small data of a fine-tuning
recipe (README "Fine-tuning").
"""

from __future__ import annotations

import gzip
import os
import struct
import zipfile
from pathlib import Path
from typing import Annotated, Any

from zoo_core import Component, Range, hookimpl
from zoo_core.augmentation import (RandomBrightness, RandomContrast, RandomFlip, RandomRotation, RandomTranslation,
                                   RandomZoom)
from zoo_core.errors import DataError

PACKAGED = Path(__file__).parent / "mnist.npz"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

#: The fewest training images of a digit in MNIST (digit 5): the most ``per_class`` can ask for.
FEWEST_PER_DIGIT = 5421

Digits = Annotated[list[Annotated[int, Range(0, 9)]], Range(high=10)]
PerClass = Annotated[int, Range(0, FEWEST_PER_DIGIT)]


def mnist(path: str = "", classes: Digits = (), per_class: PerClass = 0, random_flip: RandomFlip = "none",
          random_rotation: RandomRotation = 0.0, random_zoom: RandomZoom = 0.0,
          random_translation: RandomTranslation = 0.0, random_contrast: RandomContrast = 0.0,
          random_brightness: RandomBrightness = 0.0) -> Any:
    """MNIST: 70,000 28x28 grayscale digits (60,000 train, 10,000 test), scaled to [0, 1].

    Args:
        path: a Keras-layout mnist.npz, or a folder with the four IDX .gz files;
            empty: $ZOO_MNIST_PATH if set, else the copy packaged with zoo.
        classes: the digits to keep, relabelled 0..k-1 in this order (class names are the digits); empty: all ten.
        per_class: training images of each kept digit, the first ones in the file's order (0: all); the test set
            keeps every test image of those digits.
        random_flip: flip training images at random: none, horizontal (left-right), vertical or both.
        random_rotation: turn training images at random by up to this fraction of a full turn (0.03: ±11°).
        random_zoom: scale training images at random by up to this fraction (0.1: 90% to 110%).
        random_translation: shift training images at random by up to this fraction of their height and width.
        random_contrast: change the contrast of training images at random by up to this fraction.
        random_brightness: shift the brightness of training images at random by up to this fraction of the pixel range.
    """
    import numpy as np

    from zoo_core.augmentation import Augmentation
    from zoo_core.data import Dataset, DatasetInfo

    source = Path(path or os.environ.get("ZOO_MNIST_PATH", "") or PACKAGED)
    arrays = read_idx_folder(source) if source.is_dir() else read_npz(source)
    check_arrays(arrays, source)
    digits = _check_classes(list(classes))
    if digits != list(range(10)) or per_class:
        arrays = select_digits(arrays, digits, per_class, source)
    info = DatasetInfo(
        name="mnist",
        input_shape=(28, 28),
        num_classes=len(digits),
        class_names=[str(digit) for digit in digits],
        input_dtype="float32",
        value_range=(0.0, 1.0),
        raw_value_range=(0.0, 255.0),
        scale=1.0 / 255.0,
        offset=0.0,
        image=True,
        channels=1,
        description="MNIST handwritten digits (LeCun, Cortes and Burges), 28x28 grayscale, "
                    "white digit on black, pixels scaled from 0..255 to 0..1.",
    )
    return Dataset(
        x_train=arrays["x_train"].astype(np.float32) / np.float32(255.0),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"].astype(np.float32) / np.float32(255.0),
        y_test=arrays["y_test"].astype(np.int64),
        info=info,
        augmentation=Augmentation(random_flip, random_rotation, random_zoom, random_translation, random_contrast,
                                  random_brightness),
    )


def _check_classes(classes: list[int]) -> list[int]:
    """The digits to keep (all ten when none are given); a ConfigError for a digit given twice."""
    from zoo_core.errors import ConfigError

    twice = sorted({digit for digit in classes if classes.count(digit) > 1})
    if twice:
        raise ConfigError(f"dataset mnist: classes names digit {twice[0]} more than once ({classes})",
                          hint="e.g. --set 'dataset.classes=[5, 6, 7, 8, 9]'", key="classes")
    return classes or list(range(10))


def select_digits(arrays: dict[str, Any], digits: list[int], per_class: int, source: Path) -> dict[str, Any]:
    """Only the images of ``digits``, labelled by their place in ``digits``; at most ``per_class`` training
    images of each (the first ones, in the file's order, which stays)."""
    import numpy as np

    chosen = {}
    for split in ("train", "test"):
        labels = arrays[f"y_{split}"]
        keep = []
        for digit in digits:
            where = np.flatnonzero(labels == digit)
            if split == "train" and per_class:
                if len(where) < per_class:
                    raise DataError(f"MNIST data in '{source}' has {len(where)} training images of digit {digit}, "
                                    f"fewer than per_class ({per_class})",
                                    hint=f"--set dataset.per_class={len(where)} or fewer")
                where = where[:per_class]
            keep.append(where)
        index = np.sort(np.concatenate(keep))
        relabel = np.zeros(10, dtype=np.int64)
        relabel[digits] = np.arange(len(digits))
        chosen[f"x_{split}"], chosen[f"y_{split}"] = arrays[f"x_{split}"][index], relabel[labels[index]]
    if len(chosen["y_test"]) == 0:
        raise DataError(f"MNIST data in '{source}' has no test images of digits {digits}")
    return chosen


def read_npz(path: Path) -> dict[str, Any]:
    """Read a Keras-layout mnist.npz, with a clear error for a missing or damaged file."""
    import numpy as np

    if not path.is_file():
        raise DataError(f"MNIST file '{path}' does not exist",
                        hint="pass a Keras-layout mnist.npz or a folder of IDX .gz files as dataset.path")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in IDX_FILES if key not in data.files]
            if missing:
                raise DataError(f"MNIST file '{path}' has no array {missing[0]!r} (it has {', '.join(data.files) or 'none'})",
                                hint="use the Keras layout: x_train, y_train, x_test, y_test")
            return {key: data[key] for key in IDX_FILES}
    except DataError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise DataError(f"MNIST file '{path}' is truncated or corrupt ({type(error).__name__}: {error})",
                        hint="download it again, or remove dataset.path to use the copy packaged with zoo") from None


def read_idx_folder(folder: Path) -> dict[str, Any]:
    """Read the four original MNIST IDX .gz files from a folder."""
    arrays = {}
    for key, name in IDX_FILES.items():
        file = folder / name
        if not file.is_file():
            raise DataError(f"MNIST folder '{folder}' has no file {name}",
                            hint=f"it needs {', '.join(IDX_FILES.values())}")
        arrays[key] = read_idx(file)
    return arrays


def read_idx(path: Path) -> Any:
    """Read one gzipped IDX file (unsigned bytes) into a numpy array."""
    import numpy as np

    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(f"'{path}' is not a readable gzip file ({error})") from None
    if len(raw) < 4:
        raise DataError(f"'{path}' is truncated: {len(raw)} bytes")
    zero, dtype_code, ndim = raw[0] << 8 | raw[1], raw[2], raw[3]
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
        raise DataError(f"'{path}' is not an IDX file of unsigned bytes (header {raw[:4].hex()})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"'{path}' is truncated in its header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(f"'{path}' holds {len(raw) - header} bytes of data, expected {expected} for shape {shape}",
                        hint="the file is truncated or corrupt; download it again")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def check_arrays(arrays: dict[str, Any], source: Path) -> None:
    """Refuse arrays that are not MNIST-shaped: (n, 28, 28) uint8 images, labels 0..9."""
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        where = f"MNIST data in '{source}' ({split} split)"
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(f"{where}: images have shape {images.shape}, expected (n, 28, 28)")
        if images.dtype.kind not in "ui" or images.size and (images.min() < 0 or images.max() > 255):
            raise DataError(f"{where}: images must be 0..255 integers, got dtype {images.dtype}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(f"{where}: {labels.shape[0] if labels.ndim else 0} labels for {images.shape[0]} images")
        if labels.dtype.kind not in "ui" or labels.size and (labels.min() < 0 or labels.max() > 9):
            raise DataError(f"{where}: labels must be integers 0..9")
        if images.shape[0] == 0:
            raise DataError(f"{where}: no examples")


@hookimpl
def register_datasets() -> list[Component]:
    return [Component("mnist", mnist)]
