"""What an image's pixels mean, in training (the image-folder dataset) and in ``zoo predict`` alike
(zoo_core.predict.images): 16-bit images are scaled to 8 bits, not clipped; an image's pixels 0..255 are
mapped onto the raw range of a model trained on other raw values (0..16, as the example plugin's digits).

Every image is made here with numpy and Pillow; 48-bit RGB PNGs, which
Pillow cannot write, are written byte by byte.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo_core.data import DatasetInfo
from zoo_core.errors import DataError
from zoo_core.predict import load_input
from zoo_core.predict.images import DepthError, convert_image
from zoo_plugins.datasets.image_folder import image_folder

#: Every 16-bit level once, 256x256; and what each becomes: round(value * 255 / 65535).
GRADIENT = np.arange(65536, dtype=np.uint16).reshape(256, 256)
EIGHT_BIT = np.rint(GRADIENT.astype(np.float64) * 255 / 65535)


def contract(channels: int = 1, **fields: object) -> dict:
    """The input contract of a 256x256 image model (raw pixels 0..255 unless ``fields`` say otherwise)."""
    shape = (256, 256) if channels == 1 else (256, 256, channels)
    return DatasetInfo(name="gradients", input_shape=shape, num_classes=2, class_names=["a", "b"],
                       channels=channels, **fields).to_dict()


def write_png_48(path: Path, rgb: np.ndarray) -> Path:
    """A 16-bit-per-channel RGB PNG (colour type 2, bit depth 16) of a ``(h, w, 3)`` uint16 array."""
    height, width = rgb.shape[:2]
    rows = b"".join(b"\0" + rgb[row].astype(">u2").tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))
    return path


def gradient_folder(root: Path) -> Path:
    """root/a/*.png and root/b/*.png: two 16-bit grayscale gradient PNGs per class."""
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for index in range(2):
            Image.fromarray(GRADIENT).save(root / name / f"{index}.png")
    return root


def test_a_16_bit_png_opens_in_a_16_bit_mode_that_pillow_would_clip(tmp_path: Path) -> None:
    """The defect itself, in Pillow: why zoo scales before converting."""
    Image.fromarray(GRADIENT).save(tmp_path / "g.png")
    with Image.open(tmp_path / "g.png") as image:
        assert image.mode in ("I;16", "I")
        clipped = np.asarray(image.convert("L"))
    assert (clipped == 255).mean() > 0.99


@pytest.mark.parametrize("color", ["grayscale", "rgb"])
def test_image_folder_scales_16_bit_pngs_and_keeps_every_level(tmp_path: Path, color: str) -> None:
    dataset = image_folder(str(gradient_folder(tmp_path / "g")), test_split=0.5, color=color)
    x = np.concatenate([dataset.x_train, dataset.x_test])
    assert len(x) == 4
    pixels = np.rint(x * 255)
    for example in pixels:
        for channel in (example[..., c] for c in range(3)) if color == "rgb" else [example]:
            np.testing.assert_array_equal(channel, EIGHT_BIT)
    levels, counts = np.unique(pixels[0], return_counts=True)
    assert levels.tolist() == list(range(256)) and counts.min() >= 128  # every level, none collapsed


@pytest.mark.parametrize("channels", [1, 3])
def test_predict_scales_a_16_bit_png_as_training_does(tmp_path: Path, channels: int) -> None:
    Image.fromarray(GRADIENT).save(tmp_path / "g.png")
    x = load_input(tmp_path / "g.png", contract(channels))
    assert x.shape == (1, 256, 256) + ((3,) if channels == 3 else ())
    pixels = np.rint(x[0] * 255)
    for channel in (pixels[..., c] for c in range(3)) if channels == 3 else [pixels]:
        np.testing.assert_array_equal(channel, EIGHT_BIT)
    dataset = image_folder(str(gradient_folder(tmp_path / "g")), test_split=0.5,
                           color="rgb" if channels == 3 else "grayscale")
    np.testing.assert_allclose(x[0], dataset.x_train[0], atol=1e-6)  # training scales in float32


def test_predict_scales_an_I_mode_16_bit_image(tmp_path: Path) -> None:
    """Pillow opens a 16-bit PGM (and, before Pillow 10, a 16-bit PNG) as "I": 32-bit integers holding 0..65535."""
    Image.fromarray(GRADIENT).save(tmp_path / "g.pgm")
    with Image.open(tmp_path / "g.pgm") as image:
        mode = image.mode
    x = load_input(tmp_path / "g.pgm", contract())
    np.testing.assert_array_equal(np.rint(x[0] * 255), EIGHT_BIT)
    assert mode.startswith("I")


def test_convert_image_scales_every_16_bit_mode_and_refuses_32_bit_values() -> None:
    as_int32 = Image.fromarray(GRADIENT.astype(np.int32))
    assert as_int32.mode == "I"
    big_endian = Image.frombytes("I;16B", (256, 256), GRADIENT.astype(">u2").tobytes())
    for image in (Image.fromarray(GRADIENT), big_endian, as_int32):
        np.testing.assert_array_equal(np.asarray(convert_image(image, "L")), EIGHT_BIT)
    eight_bit = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16))
    np.testing.assert_array_equal(np.asarray(convert_image(eight_bit, "L")), np.asarray(eight_bit))
    with pytest.raises(DepthError, match=r"from 0 to 100000, beyond 16 bits"):
        convert_image(Image.fromarray(np.array([[0, 100_000]], np.int32)), "L")


def test_an_image_beyond_16_bits_is_refused_naming_the_file(tmp_path: Path) -> None:
    Image.fromarray((GRADIENT.astype(np.int32) * 4)).save(tmp_path / "deep.tif")
    with pytest.raises(DataError, match=r"deep.tif' is not an 8- or 16-bit image: its pixel values run from 0 to "
                                        r"262140") as error:
        load_input(tmp_path / "deep.tif", contract())
    assert "16-bit PNG" in error.value.hint


def test_48_bit_rgb_pngs_keep_their_levels_in_training_and_predict(tmp_path: Path) -> None:
    """Pillow opens them as 8-bit RGB itself (each value's high byte); both readers keep that."""
    rgb = np.stack([GRADIENT, GRADIENT.T, np.full_like(GRADIENT, 40_000)], axis=-1)
    root = tmp_path / "colour"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for index in range(2):
            write_png_48(root / name / f"{index}.png", rgb)
    dataset = image_folder(str(root), test_split=0.5, color="rgb")
    x = load_input(root / "a" / "0.png", contract(3))
    for pixels in (np.rint(dataset.x_train[0] * 255), np.rint(x[0] * 255)):
        np.testing.assert_array_equal(pixels, rgb >> 8)
        assert len(np.unique(pixels[..., 0])) == 256


# --------------------------------------------------------------------------- a model's raw range


#: The input contract of the example plugin's digits (examples/zoo-digits): raw values 0..16, scaled by 1/16.
DIGITS = DatasetInfo(name="digits", input_shape=(8, 8), num_classes=10, class_names=[str(d) for d in range(10)],
                     raw_value_range=(0.0, 16.0), scale=1 / 16).to_dict()


def test_an_image_fills_the_raw_range_of_a_model_trained_on_0_to_16(tmp_path: Path) -> None:
    """Pixel p becomes raw p / 255 * 16, so model input p / 255: black 0, white 1, as the digits' 0 and 16."""
    pixels = np.linspace(0, 255, 64).round().astype(np.uint8).reshape(8, 8)
    Image.fromarray(pixels).save(tmp_path / "digit.png")
    x = load_input(tmp_path / "digit.png", DIGITS)
    np.testing.assert_allclose(x[0], pixels / 255, atol=1e-6)
    assert (x.min(), x.max()) == (0.0, 1.0)


def test_an_image_and_a_npy_of_the_same_raw_values_give_the_same_inputs(tmp_path: Path) -> None:
    raw = np.arange(64).reshape(8, 8) % 17  # every raw value 0..16
    np.save(tmp_path / "digit.npy", raw.astype(np.uint8))
    Image.fromarray(np.rint(raw * 255 / 16).astype(np.uint8)).save(tmp_path / "digit.png")
    Image.fromarray(np.rint(raw * 65535 / 16).astype(np.uint16)).save(tmp_path / "digit-16-bit.png")
    from_npy = load_input(tmp_path / "digit.npy", DIGITS)
    for name in ("digit.png", "digit-16-bit.png"):  # within half a pixel level
        np.testing.assert_allclose(load_input(tmp_path / name, DIGITS), from_npy, atol=0.5 / 255)


def test_an_image_is_mapped_onto_a_raw_range_with_an_offset(tmp_path: Path) -> None:
    """Raw -1..1 (model input raw * 0.5 + 0.5): black is -1, white 1."""
    signed = DatasetInfo(name="signed", input_shape=(2, 2), num_classes=2, class_names=["a", "b"],
                         raw_value_range=(-1.0, 1.0), scale=0.5, offset=0.5).to_dict()
    Image.fromarray(np.array([[0, 255], [51, 204]], np.uint8)).save(tmp_path / "x.png")
    np.testing.assert_allclose(load_input(tmp_path / "x.png", signed)[0], [[0.0, 1.0], [0.2, 0.8]], atol=1e-6)


@pytest.mark.parametrize("raw_range", [[5.0, 5.0], [16.0, 0.0], [0.0, float("inf")], ["a", "b"]])
def test_a_raw_range_no_pixels_map_onto_is_refused_naming_the_file(tmp_path: Path, raw_range: list) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "digit.png")
    with pytest.raises(DataError, match=r"input '.*digit.png' is an image, but the model's raw_value_range") as error:
        load_input(tmp_path / "digit.png", {**DIGITS, "raw_value_range": raw_range})
    assert ".npy" in error.value.hint
