"""What an image's pixels mean, in one place for ``zoo predict`` and the image-folder dataset (which imports it).

Pillow converts a 16-bit image to "L" or "RGB" by clipping: every value
above 255 becomes 255, so a full-range 16-bit gradient turns 99.6 % white
(only its values below 255 stay apart). :func:`convert_image` scales
16-bit images first (value * 255 / 65535, rounded: 65,536 levels become
256, each kept); the 16-bit images are Pillow's modes "I;16", "I;16B",
"I;16L", "I;16N", and "I" (32-bit integers) holding values 0..65535, as
Pillow opens 16-bit grayscale PNGs, TIFFs and PGMs. Pillow itself opens
48-bit RGB and 64-bit RGBA PNGs as 8-bit "RGB" / "RGBA" (the high byte of
each value, value // 256, at most one level from the rounded scaling);
those and every 8-bit image are converted as they are.

A photo is turned upright first, as its EXIF orientation says (phones store
a portrait photo sideways and tag it): training and prediction see what a
photo viewer shows. The 8-bit pixels then run from black (0) to white (255).
:func:`pixels_as_raw` maps them linearly onto a model's raw range
(``raw_value_range`` of its input contract): an image given to a model
trained on raw values 0..16 (the example plugin's digits) becomes values
0..16, the values a ``.npy`` input must hold. An image dataset of 0..255
(the default) takes them unchanged.

Importing this module imports neither numpy nor Pillow.
"""

from __future__ import annotations

import math
from typing import Any

from zoo_core.errors import DataError

#: The largest 16-bit value: 65535 = 255 * 257, so value * 255 / 65535 = value / 257.
MAX_16_BIT = 65535
#: The largest 8-bit pixel.
MAX_PIXEL = 255


class DepthError(ValueError):
    """An integer image whose values do not fit 16 bits (e.g. a 32-bit TIFF): zoo does not guess its scale."""


#: EXIF orientations (tag 0x0112) whose image is stored turned a quarter: its width and height are swapped.
QUARTER_TURNED = (5, 6, 7, 8)


def convert_image(image: Any, mode: str) -> Any:
    """The loaded Pillow ``image`` upright and converted to ``mode`` ("L" or "RGB"); a 16-bit image is scaled to
    0..255 first.

    Upright: a photo whose EXIF orientation says it is stored turned or
    mirrored (a phone held upright writes its pixels sideways) is turned as
    every photo viewer shows it. Raises DepthError for an "I" image with
    values outside 0..65535.
    """
    from PIL import ImageOps

    if orientation(image) != 1:
        image = ImageOps.exif_transpose(image)
    if image.mode == "I" or image.mode.startswith("I;16"):
        image = _scaled_to_8_bit(image)
    return image.convert(mode)


def orientation(image: Any) -> int:
    """The EXIF orientation of an opened Pillow ``image`` (1, upright, when it has none), read from its header."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1  # no eXIf chunk before the pixels (asking Pillow for more would read the whole file)
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a damaged EXIF block: the pixels as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright_size(image: Any) -> tuple[int, int]:
    """``(width, height)`` of an opened Pillow ``image`` as :func:`convert_image` gives it (EXIF orientation)."""
    width, height = image.size
    return (height, width) if orientation(image) in QUARTER_TURNED else (width, height)


def _scaled_to_8_bit(image: Any) -> Any:
    """A 16-bit image as an "L" image: round(value * 255 / 65535)."""
    import numpy as np
    from PIL import Image

    values = np.asarray(image).astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > MAX_16_BIT):
        raise DepthError(f"its pixel values run from {values.min()} to {values.max()}, beyond 16 bits "
                         f"(0..{MAX_16_BIT}); zoo reads 8- and 16-bit images")
    # (value + 128) // 257 is round(value / 257) exactly: value / 257 is never a tie (257 is odd)
    return Image.fromarray(((values + 128) // 257).astype(np.uint8))


def pixels_as_raw(pixels: Any, contract: dict[str, Any], source: str) -> Any:
    """8-bit ``pixels`` (0..255) as the raw values of an input ``contract``: raw_low + p / 255 * (raw_high - raw_low).

    A contract whose raw range is 0..255 (an image dataset's default) or
    names none gets the pixels unchanged. DataError naming ``source`` (e.g.
    "input 'a.png'") for a raw range that is not a finite (low, high) pair
    with low < high: no mapping of pixels onto it exists.
    """
    import numpy as np

    value = contract.get("raw_value_range") or (0.0, float(MAX_PIXEL))
    try:
        low, high = (float(bound) for bound in value)
    except (TypeError, ValueError):
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise DataError(f"{source} is an image, but the model's raw_value_range ({value!r}) is not a range "
                        "[low, high] that its pixels could be mapped onto",
                        hint="give a .npy array of the values the model was trained on")
    if (low, high) == (0.0, float(MAX_PIXEL)):
        return pixels
    return low + np.asarray(pixels, dtype=np.float64) / MAX_PIXEL * (high - low)
