"""Turning files into model inputs: images and ``.npy`` arrays, scaled by the model's input contract.

Importing this module imports neither numpy nor Pillow.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core._util.text import error_line
from zoo_core.errors import DataError

if TYPE_CHECKING:
    import numpy as np

#: Images whose width/height ratio differs from the model's by more than this factor are refused.
MAX_ASPECT_CHANGE = 1.5


def load_input(path: Path, info: dict[str, Any]) -> "np.ndarray":
    """Read an image or a ``.npy`` array and turn it into model inputs, shape ``(n, *input_shape)``.

    ``info`` is the input contract (``predictor.metadata["input"]``; the whole
    metadata dict is accepted too).

    - Images (PNG, JPEG, anything Pillow reads) become one example: converted
      to grayscale or RGB per ``channels``, resized to the input size (refused
      if the aspect ratio differs by more than 1.5x), then scaled
      ``raw * scale + offset``.
    - ``.npy`` arrays hold one example (``input_shape``) or several
      (``(n, *input_shape)``). Integer arrays, and float arrays with values
      beyond ``value_range``, are taken as raw (e.g. 0..255 pixels) and
      scaled; other float arrays as already model-scaled.

    Raises DataError naming the file for a non-image, an unreadable file or a wrong shape.
    """
    path = Path(path)
    for key in ("input", "dataset"):  # whole metadata given: take its contract
        if isinstance(info.get(key), dict):
            info = info[key]
            break
    if "input_shape" not in info:
        raise DataError(f"cannot prepare '{path}': the model carries no input contract (input_shape, scale...)",
                        hint="pass model-scaled .npy arrays, or use a model exported by zoo")
    if not path.is_file():
        raise DataError(f"input '{path}' does not exist" if not path.exists() else f"input '{path}' is not a file",
                        hint="give PNG/JPEG images or .npy arrays")
    if path.suffix.lower() == ".npy":
        return _load_array(path, info)
    return _load_image(path, info)


def _load_array(path: Path, info: dict[str, Any]) -> "np.ndarray":
    import numpy as np

    shape = tuple(info["input_shape"])
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"input '{path}' is not a readable .npy array ({error_line(error)})",
                        hint="save a numeric array with numpy.save (object arrays are never loaded)") from None
    if array.shape == shape:
        array = array[np.newaxis]
    if array.shape[1:] != shape:
        raise DataError(f"input '{path}' has shape {array.shape}; the model expects "
                        f"{shape} for one example or (n, {', '.join(map(str, shape))}) for several",
                        hint=f"reshape the array to {shape} (one example) before saving it")
    if array.dtype.kind not in "uif":
        raise DataError(f"input '{path}' holds {array.dtype} values; expected numbers")
    low, high = info.get("value_range", (0.0, 1.0))
    tolerance = 1e-3 * max(1.0, abs(high - low))
    if array.dtype.kind in "ui" or (array.size and (array.min() < low - tolerance or array.max() > high + tolerance)):
        raw_low, raw_high = info.get("raw_value_range", (0.0, 255.0))
        if array.size and (array.min() < raw_low or array.max() > raw_high):
            raise DataError(f"input '{path}' has values {array.min()}..{array.max()}, outside both the model's "
                            f"range {low}..{high} and the raw range {raw_low}..{raw_high}",
                            hint=f"give raw values ({raw_low}..{raw_high}, e.g. pixels) or model-scaled ones "
                                 f"({low}..{high})")
        return _scale(array, info)
    return array.astype(info.get("input_dtype", "float32"))


def _load_image(path: Path, info: dict[str, Any]) -> "np.ndarray":
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    shape = tuple(info["input_shape"])
    channels = int(info.get("channels", 1))
    height, width = shape[0], shape[1] if len(shape) > 1 else 1
    try:
        with Image.open(path) as image:
            image.load()
            image = image.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"input '{path}' is not an image (PNG, JPEG...) or a .npy array ({error_line(error)})",
                        hint=f"the model expects images of {width}x{height} pixels, {channels} channel(s)") from None
    if image.size != (width, height):
        model_ratio, ratio = width / height, image.width / max(image.height, 1)
        if max(ratio / model_ratio, model_ratio / ratio) > MAX_ASPECT_CHANGE:
            raise DataError(f"input '{path}' is {image.width}x{image.height} pixels; the model expects "
                            f"{width}x{height} (images of a similar shape are resized)",
                            hint=f"crop the image to about {width}:{height} proportions around the subject")
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    pixels = np.asarray(image)
    if pixels.size != int(np.prod(shape)):
        raise DataError(f"input '{path}' gives {pixels.shape} pixels; the model expects {shape}")
    return _scale(pixels.reshape(shape)[np.newaxis], info)


def _scale(raw: "np.ndarray", info: dict[str, Any]) -> "np.ndarray":
    """Raw values (e.g. 0..255 pixels) to model inputs: ``raw * scale + offset``."""
    import numpy as np

    scaled = raw.astype(np.float64) * float(info.get("scale", 1.0)) + float(info.get("offset", 0.0))
    return scaled.astype(info.get("input_dtype", "float32"))
