"""Turning files into model inputs: images, ``.npy`` arrays and ``.csv`` rows, normalised by the model's contract.

Importing this module imports neither numpy nor Pillow.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core._util.text import error_line
from zoo_core.data import normalise_inputs
from zoo_core.errors import DataError
from zoo_core.predict.images import DepthError, convert_image, pixels_as_raw
from zoo_core.predict.tabular import describe_input, read_csv_rows

if TYPE_CHECKING:
    import numpy as np

#: Images whose width/height ratio differs from the model's by more than this factor are refused, unless the
#: model learnt from images resized whatever their proportions (the contract's ``resized``).
MAX_ASPECT_CHANGE = 1.5


def load_input(path: Path, info: dict[str, Any]) -> "np.ndarray":
    """Read an image, a ``.npy`` array or a ``.csv`` table and turn it into model inputs, shape ``(n, *input_shape)``.

    ``info`` is the input contract (``predictor.metadata["input"]``; the whole
    metadata dict is accepted too).

    - Images (PNG, JPEG, anything Pillow reads), for image models only, become
      one example: 16-bit images scaled to 8 bits (value * 255 / 65535,
      :mod:`zoo_core.predict.images`, as the image-folder dataset reads them),
      converted to grayscale or RGB per ``channels``, resized to
      the input size (refused if the aspect ratio differs by more than 1.5x),
      their pixels 0..255 mapped onto ``raw_value_range`` (unchanged for
      0..255; 0..16 for a model trained on raw values 0..16), then
      normalised (``raw * scale + offset``, and the per-feature step).
    - ``.npy`` arrays hold one example (``input_shape``) or several
      (``(n, *input_shape)``).
    - ``.csv`` files, for feature-vector models (``input_shape`` ``(n,)``),
      hold one example per line, with an optional header row of feature names.
    - A model with per-feature normalisation (``feature_mean`` /
      ``feature_std``) takes raw values only: they are always normalised.
      Otherwise integer arrays, and float arrays with values beyond
      ``value_range``, are taken as raw (e.g. 0..255 pixels) and normalised;
      other float arrays as already model-scaled.

    Raises DataError naming the file for the wrong kind of input (e.g. an
    image for a feature-vector model), an unreadable file, an image beyond
    Pillow's size limit, a ``.npy`` header that claims more data than the
    file holds, a wrong shape, or NaN/infinite values (read, or after the
    normalisation: values too large for the model's dtype), with the index.
    """
    import numpy as np

    path = Path(path)
    for key in ("input", "dataset"):  # whole metadata given: take its contract
        if isinstance(info.get(key), dict):
            info = info[key]
            break
    if "input_shape" not in info:
        raise DataError(f"cannot prepare '{path}': the model carries no input contract (input_shape, scale...)",
                        hint="pass model-scaled .npy arrays, or use a model exported by zoo")
    try:
        if not path.is_file():
            raise DataError(f"input '{path}' does not exist" if not path.exists() else f"input '{path}' is not a file",
                            hint=_accepted_files(info))
    except OSError as error:  # e.g. a name too long for the file system
        raise DataError(f"input '{path}' cannot be read: {error.strerror or error}",
                        hint=_accepted_files(info)) from None
    with np.errstate(all="ignore"):  # an overflow is refused below, with the file and the index
        inputs = _model_inputs(path, info)
    if inputs.dtype.kind == "f":  # finite values can overflow the model's dtype, or its normalisation
        refuse_non_finite(inputs, path, after=f"as the model's {inputs.dtype} inputs")
    return inputs


def _model_inputs(path: Path, info: dict[str, Any]) -> "np.ndarray":
    """The file read by its kind (by suffix) and turned into the model's inputs."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _to_model_inputs(_read_array(path, info), path, info)
    if suffix == ".csv":
        return _to_model_inputs(_read_csv(path, info), path, info)
    if not info.get("image", True):
        raise DataError(f"input '{path}': this model takes {describe_input(info)}: "
                        f"give a {'.npy or .csv' if _is_vector_model(info) else '.npy'} file",
                        hint=_accepted_files(info))
    return _load_image(path, info)


def _is_vector_model(info: dict[str, Any]) -> bool:
    """A model whose examples are 1-D feature vectors (not images)."""
    return not info.get("image", True) and len(tuple(info["input_shape"])) == 1


def _accepted_files(info: dict[str, Any]) -> str:
    """Which files this model's inputs can come from, for hints."""
    if _is_vector_model(info):
        names = list(info.get("feature_names") or [])
        header = f" (header: {', '.join(names)})" if names else ""
        return (f"give .npy arrays of shape ({tuple(info['input_shape'])[0]},) or (n, {tuple(info['input_shape'])[0]}), "
                f"or .csv files with one example per line{header}")
    if not info.get("image", True):
        return f"give .npy arrays of shape {tuple(info['input_shape'])} or (n, *{tuple(info['input_shape'])})"
    return "give PNG/JPEG images or .npy arrays"


def _read_array(path: Path, info: dict[str, Any]) -> "np.ndarray":
    """The examples of a ``.npy`` file, shape ``(n, *input_shape)``, as stored (no scaling)."""
    import numpy as np

    shape = tuple(info["input_shape"])
    _check_npy_header(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"input '{path}' is not a readable .npy array ({error_line(error)})",
                        hint="save a numeric array with numpy.save (object arrays are never loaded)") from None
    if array.dtype.kind == "f":
        refuse_non_finite(array, path)
    if array.shape == shape:
        array = array[np.newaxis]
    if array.shape[1:] != shape:
        what = (f"{describe_input(info)}: one vector {shape} or rows (n, {shape[0]})" if _is_vector_model(info)
                else f"{shape} for one example or (n, {', '.join(map(str, shape))}) for several")
        raise DataError(f"input '{path}' has shape {array.shape}; the model expects {what}",
                        hint=f"reshape the array to {shape} (one example) before saving it")
    if not len(array):
        raise DataError(f"input '{path}' holds no examples (shape {array.shape})",
                        hint=f"save at least one example of shape {shape}")
    return array


def _check_npy_header(path: Path) -> None:
    """Refuse a ``.npy`` file whose header declares more data than the file holds, before anything is loaded.

    A header can claim any shape (a 193-byte file saying (10**12, 28, 28));
    the array is loaded only when the file holds that many bytes. Object
    and other non-numeric dtypes are refused here too.
    """
    import numpy as np
    from numpy.lib import format as npy

    hint = "save a numeric array with numpy.save (object arrays are never loaded)"
    try:
        with open(path, "rb") as handle:
            version = npy.read_magic(handle)
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = read_header(handle)
            offset = handle.tell()
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as error:
        raise DataError(f"input '{path}' is not a readable .npy array ({error_line(error)})", hint=hint) from None
    if dtype.hasobject:
        raise DataError(f"input '{path}' is not a readable .npy array: it holds Python objects (pickled), "
                        "which zoo never loads", hint=hint)
    if dtype.kind not in "uif":
        raise DataError(f"input '{path}' holds {dtype} values; expected numbers", hint=hint)
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    available = path.stat().st_size - offset
    if needed > available:
        raise DataError(f"input '{path}' is truncated: its header says shape {tuple(shape)} of {dtype} "
                        f"({needed:,} bytes), but the file holds {max(available, 0):,} bytes of data",
                        hint="save the array again with numpy.save") from None


def refuse_non_finite(array: "np.ndarray", path: Path, after: str = "") -> None:
    """DataError naming the file, the first NaN/infinite value's index and how many there are; else nothing.

    ``after`` names a step the values went through (their index is then that
    of the model's input, example first).
    """
    import numpy as np

    bad = ~np.isfinite(array)
    if not bad.any():
        return
    first, count = tuple(int(i) for i in np.argwhere(bad)[0]), int(bad.sum())
    where = f"index {first}" if len(first) != 1 else f"index {first[0]}"
    if after:
        raise DataError(f"input '{path}' becomes NaN or infinite {after} (the first at {where}), {count:,} in "
                        "all; the values are too large for the model",
                        hint="give values of the size the model was trained on")
    raise DataError(f"input '{path}' holds NaN or infinite values (the first at {where}), {count:,} in all; "
                    "the model needs finite numbers",
                    hint="fill in missing values (e.g. with the feature's mean) or drop those examples")


def _read_csv(path: Path, info: dict[str, Any]) -> "np.ndarray":
    """The rows of a ``.csv`` file for a feature-vector model; DataError for any other model."""
    if not _is_vector_model(info):
        raise DataError(f"input '{path}': this model takes {describe_input(info)}, not CSV rows",
                        hint=_accepted_files(info))
    features = int(tuple(info["input_shape"])[0])
    return read_csv_rows(path, features, list(info.get("feature_names") or []))


def _to_model_inputs(array: "np.ndarray", path: Path, info: dict[str, Any]) -> "np.ndarray":
    """Normalise raw values; pass model-scaled ones through (see :func:`load_input` for which is which)."""
    if info.get("feature_mean") is not None and info.get("feature_std") is not None:
        return normalise_inputs(array, info)
    if not info.get("image", True) and float(info.get("scale", 1.0)) == 1.0 and float(info.get("offset", 0.0)) == 0.0:
        return array.astype(info.get("input_dtype", "float32"))  # no normalisation: raw values are model inputs
    low, high = info.get("value_range", (0.0, 1.0))
    tolerance = 1e-3 * max(1.0, abs(high - low))
    if array.dtype.kind in "ui" or (array.size and (array.min() < low - tolerance or array.max() > high + tolerance)):
        raw_low, raw_high = info.get("raw_value_range", (0.0, 255.0))
        example = ", e.g. pixels" if info.get("image", True) else ""
        if array.size and (array.min() < raw_low or array.max() > raw_high):
            raise DataError(f"input '{path}' has values {array.min()}..{array.max()}, outside both the model's "
                            f"range {low}..{high} and the raw range {raw_low}..{raw_high}",
                            hint=f"give raw values ({raw_low}..{raw_high}{example}) or model-scaled ones ({low}..{high})")
        return normalise_inputs(array, info)
    return array.astype(info.get("input_dtype", "float32"))


def _load_image(path: Path, info: dict[str, Any]) -> "np.ndarray":
    import numpy as np

    shape = tuple(info["input_shape"])
    channels = int(info.get("channels", 1))
    height, width = shape[0], shape[1] if len(shape) > 1 else 1
    image = _read_image(path, "L" if channels == 1 else "RGB",
                        f"the model expects images of {width}x{height} pixels, {channels} channel(s)")
    if image.size != (width, height):
        from PIL import Image

        model_ratio, ratio = width / height, image.width / max(image.height, 1)
        if not info.get("resized", False) and max(ratio / model_ratio, model_ratio / ratio) > MAX_ASPECT_CHANGE:
            raise DataError(f"input '{path}' is {image.width}x{image.height} pixels; the model expects "
                            f"{width}x{height} (images of a similar shape are resized)",
                            hint=f"crop the image to about {width}:{height} proportions around the subject")
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    pixels = np.asarray(image)
    if pixels.size != int(np.prod(shape)):
        raise DataError(f"input '{path}' gives {pixels.shape} pixels; the model expects {shape}")
    raw = pixels_as_raw(pixels.reshape(shape)[np.newaxis], info, f"input '{path}'")
    return normalise_inputs(raw, info)


def _read_image(path: Path, mode: str, hint: str) -> Any:
    """The image in ``path``, decoded and converted to ``mode``; DataError for anything Pillow cannot read.

    An image beyond Pillow's pixel limit (``Image.MAX_IMAGE_PIXELS``; a tiny
    file can claim 60000x60000) is refused before it is decoded, where
    Pillow would only warn up to twice the limit.
    """
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return convert_image(image, mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(claimed.group(1)):,} pixels" if claimed else "more pixels than that"
        raise DataError(f"input '{path}' is too large an image: it says it holds {size}; zoo reads images of up "
                        f"to {Image.MAX_IMAGE_PIXELS:,} pixels (Pillow's limit against decompression bombs)",
                        hint=f"{hint}: scale the image down first") from None
    except DepthError as error:
        raise DataError(f"input '{path}' is not an 8- or 16-bit image: {error}",
                        hint=f"{hint}: save it as an 8- or 16-bit PNG") from None
    except Exception as error:  # noqa: BLE001 - Pillow's decoders raise many kinds for a damaged file
        raise DataError(f"input '{path}' is not an image (PNG, JPEG...) or a .npy array ({error_line(error)})",
                        hint=hint) from None
