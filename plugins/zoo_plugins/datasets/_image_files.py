"""Reading a folder of class sub-folders of images (the image-folder dataset): the layout, then the pixels.

The layout is that of Keras' ``image_dataset_from_directory``: one
sub-folder per class (its name is the class name), holding image files, in
nested folders too. Files that are not images (README, .DS_Store, any hidden
file) are ignored and counted. Every image's header is read first, in a
thread pool (:func:`scan_images`); the pixels are decoded as training reads
them (:func:`pixel_decoder`), with Pillow, exactly as ``zoo predict`` prepares
an image: 16-bit images scaled to 8 bits and converted to the colour mode by
zoo_core.predict.images (the one place for both), then resized with Lanczos
if their size differs. Only regular files are
opened (a FIFO named like an image would block forever: it is an unreadable
image); links are followed, a link loop is named (zoo_plugins.datasets._common).

Importing this module imports neither numpy nor Pillow.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo_core.errors import DataError
from zoo_plugins.datasets._common import NotRegularFile, kind, open_regular, path_mode

#: The suffixes read as images (those Keras' image_dataset_from_directory reads).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
#: Images per task of the thread pool that reads the headers.
CHUNK = 512
LAYOUT = "a folder with one sub-folder per class, holding that class's images (e.g. digits/0/a.png, digits/1/b.png)"


@dataclass
class Listing:
    """The images of a folder: their files and class names, in a sorted order, and the files ignored."""

    files: list[Path]
    classes: list[str]  #: the class (sub-folder) name of each file
    ignored: list[Path] = field(default_factory=list)


def is_image(name: str) -> bool:
    """A file name zoo reads as an image: an image suffix, not hidden."""
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def list_folder(root: Path, where: str, parameter: str) -> Listing:
    """The class sub-folders of ``root`` and their images; DataError for a layout zoo cannot learn from.

    ``where`` starts messages, ``parameter`` names the dataset parameter that
    gave the folder (for hints).
    """
    _check_root(root, where, parameter)
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError as error:
        raise DataError(f"{where}: cannot list folder '{root}' ({error.strerror or error})",
                        hint="check that you may read the folder") from None
    kinds = {entry.name: _entry_mode(entry, where) for entry in entries}
    folders = [entry for entry in entries if _is_folder(kinds[entry.name]) and not entry.name.startswith(".")]
    loose = [Path(entry.path) for entry in entries if not _is_folder(kinds[entry.name])]
    if not folders:
        images = [path for path in loose if is_image(path.name)]
        found = f"{len(images)} image(s) directly in it" if images else "nothing zoo can read"
        raise DataError(f"{where}: folder '{root}' has no class sub-folders ({found})",
                        hint=f"{parameter} must be {LAYOUT}; move each class's images into a folder named after it")
    listing = Listing([], [], ignored=loose)
    for folder in folders:
        _check_not_above(Path(folder.path), root, where)
        images, ignored = _images_under(Path(folder.path))
        if not images:
            raise DataError(f"{where}: class folder '{folder.path}' holds no images "
                            f"({len(ignored)} other file(s))" if ignored else
                            f"{where}: class folder '{folder.path}' is empty",
                            hint="a class with no examples cannot be learnt: add PNG/JPEG images to it, "
                                 "or remove the folder")
        listing.files += images
        listing.classes += [folder.name] * len(images)
        listing.ignored += ignored
    return listing


def _entry_mode(entry: os.DirEntry, where: str) -> int | None:
    """``st_mode`` of an entry of the top folder, links followed: a link loop or a link to nothing is refused
    by name, unless the entry is hidden (hidden entries are ignored: None)."""
    if not entry.name.startswith("."):
        return path_mode(Path(entry.path), where)
    try:
        return os.stat(entry.path).st_mode
    except OSError:
        return None


def _is_folder(mode: int | None) -> bool:
    return mode is not None and stat.S_ISDIR(mode)


def _check_root(root: Path, where: str, parameter: str) -> None:
    """DataError unless ``root`` is an existing folder (a link to one is fine; a link loop is named)."""
    mode = path_mode(root, where)
    if mode is None:
        raise DataError(f"{where}: folder '{root}' does not exist",
                        hint=f"set {parameter} to {LAYOUT} (a relative path is read from the working directory)")
    if not stat.S_ISDIR(mode):
        extra = "; for a CSV table use dataset = \"csv\"" if root.suffix.lower() == ".csv" else ""
        raise DataError(f"{where}: '{root}' is {'a file' if stat.S_ISREG(mode) else kind(mode)}, not a folder",
                        hint=f"set {parameter} to {LAYOUT}{extra}")


def _check_not_above(folder: Path, root: Path, where: str) -> None:
    """DataError for a class folder that is (a link to) the folder itself or one above it: a link loop, whose
    images would be read again as another class."""
    target, top = os.path.realpath(folder), os.path.realpath(root)
    if top == target or top.startswith(target.rstrip(os.sep) + os.sep):
        raise DataError(f"{where}: class folder '{folder}' is a link to '{target}', which holds the folder '{root}' "
                        "itself (a link loop)", hint=f"remove the link; {LAYOUT}")


def _images_under(folder: Path) -> tuple[list[Path], list[Path]]:
    """``(images, other files)`` anywhere under ``folder``, sorted; hidden folders are skipped."""
    images: list[Path] = []
    ignored: list[Path] = []
    for parent, folders, names in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(names):
            (images if is_image(name) else ignored).append(Path(parent) / name)
    return images, ignored


# -- headers, then pixels -----------------------------------------------------------------


@dataclass
class Scanned:
    """The images of a file list whose headers could be read, and those that could not."""

    kept: list[int]  #: the index (in the file list) of each readable image
    bad: list[tuple[Path, str]]  #: (file, why) of each image skipped
    size: tuple[int, int]  #: ``(width, height)`` every kept image has or is resized to


def scan_images(files: list[Path], size: tuple[int, int] | None, skip_bad: bool, where: str) -> Scanned:
    """Read every image's header (in a thread pool): what it is, how large; nothing is decoded.

    Without ``size`` every image must have the size of the first readable
    one; a different one is a DataError naming the file. A file that is not
    an image Pillow reads (or, for PNG, whose chunks fail their checksums) is
    a DataError naming the file, or, with ``skip_bad``, skipped and listed in
    :attr:`Scanned.bad`.
    """
    chunks = [range(start, min(start + CHUNK, len(files))) for start in range(0, len(files), CHUNK)]
    workers = max(min(8, os.cpu_count() or 1, len(chunks)), 1)
    results = _in_pool(workers, chunks, lambda chunk, stop: _scan_chunk(files, chunk, stop))
    found = [item for chunk_results in results for item in chunk_results]
    bad: list[tuple[int, str]] = []
    expected, first_index = size, None
    for index, header, why in found:
        if header is None:
            if not skip_bad:
                raise DataError(f"{where}: cannot read image '{files[index]}' ({why})", hint=_bad_hint())
            bad.append((index, why))
            continue
        if expected is None:
            expected, first_index = header, index
        elif size is None and header != expected:
            raise DataError(f"{where}: image '{files[index]}' is {header[0]}x{header[1]} pixels, but the first image "
                            f"'{files[first_index]}' is {expected[0]}x{expected[1]}: the images have different sizes",
                            hint="set image_size = [height, width] (e.g. --set 'dataset.image_size=[28, 28]') "
                                 "to resize every image to one size")
    if expected is None:
        raise DataError(f"{where}: none of the {len(files)} images can be read", hint=_bad_hint())
    skipped = {index for index, _ in bad}
    return Scanned([index for index in range(len(files)) if index not in skipped],
                   [(files[index], why) for index, why in bad], expected)


def _scan_chunk(files: list[Path], chunk: range, stop: threading.Event) -> list[tuple[int, Any, str]]:
    """``(index, (width, height) or None, why not)`` of ``files[chunk]``; returns early once ``stop`` is set."""
    found = []
    for index in chunk:
        if stop.is_set():
            break
        try:
            found.append((index, read_header(files[index]), ""))
        except _Unreadable as error:
            found.append((index, None, str(error)))
    return found


def pixel_decoder(rgb: bool, size: tuple[int, int], where: str) -> Any:
    """``decode(file) -> uint8 tensor``: one image's pixels, converted and resized as :func:`read_image` does.

    For zoo_core.data.StreamingDataset: it runs Pillow through
    ``tf.numpy_function`` (in the input pipeline's threads: Pillow decodes
    without Python's lock), so training sees the pixels ``zoo predict``
    prepares. An image that cannot be decoded is a DataError naming it.
    """
    import numpy as np

    mode = "RGB" if rgb else "L"
    shape = (size[1], size[0], 3) if rgb else (size[1], size[0])

    def pixels(file: Any) -> Any:
        path = Path(os.fsdecode(file.item() if hasattr(file, "item") else file))  # bytes in a pipeline
        try:
            image = read_image(path, mode, size)
        except _Unreadable as error:
            raise DataError(f"{where}: cannot read image '{path}' ({error})") from None
        return np.asarray(image, dtype=np.uint8).reshape(shape)

    def decode(file: Any) -> Any:
        import tensorflow as tf  # here, not in the factory: zoo imports TensorFlow later, its start-up logs hushed

        return tf.ensure_shape(tf.numpy_function(pixels, [file], tf.uint8, stateful=False), shape)

    return decode


def _in_pool(workers: int, chunks: list[range], work: Any) -> list[Any]:
    """``[work(chunk, stop) for chunk in chunks]`` in a thread pool that never outlives an interruption.

    If this thread stops waiting (Ctrl-C, SIGTERM, an error), ``stop`` is set,
    so each worker ends after its current image, chunks not started are
    cancelled, and this thread leaves without waiting for them.
    """
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zoo-images")
    try:
        results = list(pool.map(lambda chunk: work(chunk, stop), chunks))
    except BaseException:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def _bad_hint() -> str:
    return ("replace or delete the file, or set skip_bad = true (--set dataset.skip_bad=true) to skip "
            "unreadable images (their number is recorded in the run's manifest)")


class _Unreadable(Exception):
    """An image file Pillow cannot read (the message says why)."""


def read_image(path: Path, mode: str, size: tuple[int, int] | None) -> Any:
    """The image in ``path`` converted to ``mode`` ("L" or "RGB") and, if ``size`` differs, resized (Lanczos).

    The same steps as ``zoo predict`` (zoo_core.predict.inputs) takes, so a
    model sees the same pixels in training and in prediction; a 16-bit image
    is scaled to 0..255 first (zoo_core.predict.images).
    """
    from PIL import Image

    from zoo_core.predict.images import DepthError, convert_image

    handle = _open(path)
    try:
        with handle, Image.open(handle) as image:
            if image.width * image.height > Image.MAX_IMAGE_PIXELS:
                raise _Unreadable(f"{image.width}x{image.height} pixels, beyond Pillow's limit")
            image.load()
            converted = convert_image(image, mode)
    except _Unreadable:
        raise
    except DepthError as error:
        raise _Unreadable(f"not an 8- or 16-bit image: {error}") from None
    except Exception as error:  # noqa: BLE001 - Pillow's decoders raise many kinds for a damaged file
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise _Unreadable(f"not a readable image: {message}") from None
    if size is not None and converted.size != size:
        converted = converted.resize(size, Image.Resampling.LANCZOS)
    return converted


def read_header(path: Path) -> tuple[int, int]:
    """The image's size ``(width, height)`` upright (its EXIF orientation applied) from its header (a PNG's chunks
    are checked too); nothing decoded."""
    from PIL import Image

    from zoo_core.predict.images import upright_size

    handle = _open(path)
    try:
        with handle, Image.open(handle) as image:
            size = upright_size(image)
            if size[0] * size[1] > Image.MAX_IMAGE_PIXELS:
                raise _Unreadable(f"{size[0]}x{size[1]} pixels, beyond Pillow's limit")
            image.verify()
    except _Unreadable:
        raise
    except Exception as error:  # noqa: BLE001 - Pillow's readers raise many kinds for a damaged file
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise _Unreadable(f"not a readable image: {message}") from None
    return size


def _open(path: Path) -> Any:
    """``path`` opened for reading if it is a regular file (a FIFO named like an image would block the reader
    forever: it is never opened); _Unreadable saying why not."""
    try:
        return open_regular(path)
    except NotRegularFile as error:
        raise _Unreadable(str(error)) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _Unreadable("a link loop (a symbolic link that leads back to itself)") from None
        raise _Unreadable(f"cannot open it: {error.strerror or error}") from None
