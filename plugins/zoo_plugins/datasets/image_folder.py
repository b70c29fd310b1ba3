"""Built-in dataset: your own images, one sub-folder per class (the layout of Keras' image_dataset_from_directory).

::

    [datasets.flowers]
    component = "image-folder"
    path = "data/flowers"          # data/flowers/daisy/*.jpg, data/flowers/tulip/*.jpg ...
    image_size = [64, 64]
    color = "rgb"
    random_flip = "horizontal"     # augmentation of the training batches (never of tests or exports)
    random_rotation = 0.05

The images stream: zoo decodes each batch's files as it trains (pixels stay
uint8 until the batch is scaled), so memory does not grow with the folder.
Before that, every file's header is read (a file that is not an image, or of
another size, is named before any work). Reading the folder, the headers and
the pixels is in :mod:`zoo_plugins.datasets._image_files`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from zoo_core import Component, Range, hookimpl
from zoo_core.augmentation import (RandomBrightness, RandomContrast, RandomFlip, RandomRotation, RandomTranslation,
                                   RandomZoom)
from zoo_core.errors import DataError
from zoo_plugins.datasets._common import NAMED, some

TestSplit = Annotated[float, Range(0, 1, low_open=True, high_open=True)]
ImageSize = Annotated[list[Annotated[int, Range(1, 4096)]], Range(high=2)]


def image_folder(path: str = "", test_path: str = "", test_split: TestSplit = 0.2,
                 image_size: ImageSize = [],  # noqa: B006 - never changed; [] is how config.toml writes it
                 color: Literal["grayscale", "rgb"] = "grayscale", skip_bad: bool = False, seed: int = 42,
                 cache: Literal["none", "memory", "disk"] = "none", random_flip: RandomFlip = "none",
                 random_rotation: RandomRotation = 0.0, random_zoom: RandomZoom = 0.0,
                 random_translation: RandomTranslation = 0.0, random_contrast: RandomContrast = 0.0,
                 random_brightness: RandomBrightness = 0.0) -> Any:
    """Your own images: a folder with one sub-folder of image files per class, read as training goes.

    PNG, JPEG, WebP, TIFF, BMP and GIF files are read; pixels are scaled to
    [0, 1]. Class names are the sub-folder names, sorted. Files that are not images
    (README, .DS_Store, hidden files) are ignored, with a warning. Both
    splits are shuffled with the seed. ``zoo predict`` on the run's models
    takes image files of any size and colour: they are turned upright (EXIF
    orientation), converted and resized as here.

    Args:
        path: the folder of class sub-folders (path/CLASS/*.png); relative to the working directory; required.
        test_path: a separate test folder with the same layout and classes; empty: split off test_split.
        test_split: fraction of each class held out for testing (seeded), when there is no test_path.
        image_size: [height, width] to resize every image to; empty: the size of the first image, and
            every image must have it.
        color: "grayscale" (one channel) or "rgb" (three).
        skip_bad: skip unreadable or corrupt images (counted in the run's manifest) instead of failing.
        seed: seed of the test split and of the order of the examples.
        cache: "none": decode the images every epoch (flat memory); "memory": keep their pixels (uint8) once
            decoded, as fast as arrays; "disk": keep them in a file of the run directory until training ends.
        random_flip: flip training images at random: none, horizontal (left-right), vertical or both.
        random_rotation: turn training images at random by up to this fraction of a full turn (0.05: ±18°).
        random_zoom: scale training images at random by up to this fraction (0.1: 90% to 110%).
        random_translation: shift training images at random by up to this fraction of their height and width.
        random_contrast: change the contrast of training images at random by up to this fraction.
        random_brightness: shift the brightness of training images at random by up to this fraction of the pixel range.
    """
    from zoo_core.augmentation import Augmentation
    from zoo_core.data import StreamingDataset
    from zoo_plugins.datasets._image_files import pixel_decoder
    from zoo_plugins.datasets._splits import shuffled, stratified_split

    where = "dataset image-folder"
    _check_parameters(path, image_size, where)
    size = (image_size[1], image_size[0]) if image_size else None  # Pillow's (width, height)
    train, test, names = _listings(path, test_path, where)
    ignored = train.ignored + (test.ignored if test else [])
    if ignored:
        _warn(f"{where}: ignored {len(ignored)} file(s) that are not images ({some(ignored)})")
    files, y, skipped, (width, height) = _scan(train, names, color, size, skip_bad, where)
    if test is not None:
        test_files, y_test, more, _ = _scan(test, names, color, (width, height), skip_bad, where)
        skipped += more
        train_order, test_order = shuffled(len(y), seed), shuffled(len(y_test), seed + 1)
    else:
        train_order, test_order = stratified_split(y, test_split, seed, where)
        test_files, y_test = files, y
    info = _info(path, test_path, names, color, (width, height), _record(skipped, len(ignored)), bool(image_size))
    decode = pixel_decoder(color == "rgb", (width, height), where)
    augmentation = Augmentation(random_flip, random_rotation, random_zoom, random_translation, random_contrast,
                                random_brightness)
    return StreamingDataset(files[train_order], y[train_order], test_files[test_order], y_test[test_order],
                            decode, info, cache=cache, augmentation=augmentation)


def _check_parameters(path: str, image_size: list[int], where: str) -> None:
    """A DataError for a missing folder or an image size that is not [height, width]."""
    if not path:
        raise DataError(f"{where}: no folder given (its parameter path is empty)",
                        hint="set path to a folder with one sub-folder of images per class: path = \"data/digits\" "
                             "in the dataset's registry.toml entry, or --set dataset.path=data/digits")
    if len(image_size) == 1:
        raise DataError(f"{where}: image_size must be [height, width], got {image_size}",
                        hint="e.g. --set 'dataset.image_size=[28, 28]', or [] for the size of the images")


def _info(path: str, test_path: str, names: list[str], color: str, size: tuple[int, int],
          extra: dict[str, Any], resized: bool) -> Any:
    """The DatasetInfo of a folder of ``size`` (width, height) images in ``color``, classes ``names``;
    ``resized``: every image was resized to ``size``, whatever its proportions."""
    from zoo_core.data import DatasetInfo

    width, height = size
    return DatasetInfo(
        name="image-folder", input_shape=(height, width, 3) if color == "rgb" else (height, width),
        num_classes=len(names), class_names=names, image=True, channels=3 if color == "rgb" else 1, resized=resized,
        description=f"Images from '{path}'" + (f" (test: '{test_path}')" if test_path else "")
                    + f", {width}x{height} {color}, pixels scaled from 0..255 to 0..1.",
        extra=extra)


def _listings(path: str, test_path: str, where: str) -> tuple[Any, Any, list[str]]:
    """The training folder's and the test folder's (None) images, and the class names; DataError for a training
    folder of one class or a test folder with a class the training folder lacks."""
    from zoo_plugins.datasets._image_files import list_folder

    train = list_folder(Path(path), where, "path")
    names = sorted(set(train.classes))
    if len(names) < 2:
        raise DataError(f"{where}: folder '{path}' has one class sub-folder ('{names[0]}'); a classifier needs two "
                        "or more", hint="add a sub-folder of images for every other class")
    test = list_folder(Path(test_path), where, "test_path") if test_path else None
    unknown = sorted(set(test.classes) - set(names)) if test is not None else []
    if unknown:
        raise DataError(f"{where}: test folder '{test_path}' has class folder(s) {some(unknown)} that the "
                        f"training folder '{path}' does not have (its classes: {some(names)})",
                        hint="give both folders the same class sub-folders (a model cannot predict a class "
                             "it never saw)")
    return train, test, names


def _scan(listing: Any, names: list[str], color: str, size: tuple[int, int] | None, skip_bad: bool,
          where: str) -> tuple[Any, Any, list[tuple[Path, str]], tuple[int, int]]:
    """The readable files of one folder (their headers checked, nothing decoded), their labels (int64), the
    skipped files, and the images' size ``(width, height)``."""
    import numpy as np

    from zoo_plugins.datasets._image_files import scan_images

    scanned = scan_images(listing.files, size, skip_bad, where)
    index = {name: number for number, name in enumerate(names)}
    labels = np.asarray([index[name] for name in listing.classes], dtype=np.int64)[scanned.kept]
    if scanned.bad:
        _warn(f"{where}: skipped {len(scanned.bad)} unreadable image(s) ({some([p for p, _ in scanned.bad])})")
        emptied = sorted(set(listing.classes) - {names[label] for label in set(labels.tolist())})
        if emptied:
            raise DataError(f"{where}: every image of class '{emptied[0]}' is unreadable",
                            hint="a class with no examples cannot be learnt: add readable images to it")
    files = np.asarray([str(listing.files[kept]) for kept in scanned.kept], dtype=str)
    return files, labels, scanned.bad, scanned.size


def _record(skipped: list[tuple[Path, str]], ignored: int) -> dict[str, Any]:
    """What the manifest records (in ``dataset.extra``) about files that were not used."""
    record: dict[str, Any] = {}
    if skipped:
        record["skipped_images"] = {"count": len(skipped),
                                    "first": [f"{path}: {why}" for path, why in skipped[:NAMED]]}
    if ignored:
        record["ignored_files"] = ignored
    return record


def _warn(message: str) -> None:
    print(f"zoo: warning: {message}", file=sys.stderr, flush=True)


@hookimpl
def register_datasets() -> list[Component]:
    return [Component("image-folder", image_folder)]
