"""Photos as phones and cameras write them: turned by their EXIF orientation, in WebP and TIFF too.

A phone held upright stores a portrait photo's pixels sideways and tags
the file with EXIF orientation 6 ("turn a quarter clockwise to view"); every
photo viewer shows it upright. image-folder and ``zoo predict`` turn it
the same way, so a model learns and is asked what the user sees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from zoo_core.predict import load_input
from zoo_plugins.datasets._image_files import read_header
from zoo_plugins.datasets.image_folder import image_folder

#: EXIF orientation tag, and the value that says "stored a quarter turned anticlockwise: turn it clockwise".
ORIENTATION, TURN_CLOCKWISE = 0x0112, 6


def upright_photo() -> Image.Image:
    """A 48x32 (portrait: 32 wide, 48 high) photo whose top is bright and bottom dark, a red mark top left."""
    pixels = np.zeros((48, 32, 3), np.uint8)
    pixels[:, :, :] = np.linspace(250, 10, 48, dtype=np.uint8)[:, None, None]
    pixels[2:10, 2:10] = (255, 0, 0)
    return Image.fromarray(pixels)


def save_sideways(photo: Image.Image, path: Path) -> None:
    """``photo`` stored as a phone stores it: pixels turned a quarter anticlockwise, orientation 6 in the EXIF."""
    exif = Image.Exif()
    exif[ORIENTATION] = TURN_CLOCKWISE
    photo.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif)


def test_a_sideways_stored_photo_is_read_upright_in_training_and_in_predict(tmp_path: Path) -> None:
    photo = upright_photo()
    for name in ("portrait", "landscape"):
        (tmp_path / "photos" / name).mkdir(parents=True)
    for index in range(4):
        save_sideways(photo, tmp_path / "photos" / "portrait" / f"IMG_{index}.jpg")
        photo.save(tmp_path / "photos" / "landscape" / f"IMG_{index}.jpg", quality=95)  # stored upright, no tag
    sideways = tmp_path / "photos" / "portrait" / "IMG_0.jpg"
    with Image.open(sideways) as stored:
        assert stored.size == (48, 32)  # the pixels as stored: landscape
    assert read_header(sideways) == (32, 48)  # the header scan gives the upright size

    dataset = image_folder(str(tmp_path / "photos"), color="rgb", test_split=0.5)
    assert tuple(dataset.info.input_shape) == (48, 32, 3)  # no image_size: every photo is 32x48 upright
    decoded = np.asarray(dataset.decode(str(sideways)))
    expected = np.asarray(photo)
    assert np.abs(decoded.astype(int) - expected.astype(int)).mean() < 3  # JPEG's loss only: the same photo
    assert decoded[5, 5, 0] > 200 and decoded[5, 5, 1] < 80  # the red mark is top left
    assert decoded[:8].mean() > decoded[-8:].mean() + 150  # bright top, dark bottom

    predicted = load_input(sideways, dataset.info.to_dict())  # what zoo predict gives the model
    np.testing.assert_allclose(predicted[0], dataset.info.normalise(decoded), atol=1e-6)


def test_webp_and_tiff_photos_are_images_not_ignored_files(tmp_path: Path) -> None:
    photo = upright_photo()
    for name, suffix in (("a", ".webp"), ("b", ".tif")):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for index in range(3):
            photo.save(tmp_path / "photos" / name / f"IMG_{index}{suffix}")
    dataset = image_folder(str(tmp_path / "photos"), color="rgb", test_split=0.34)
    assert len(dataset.train_files) + len(dataset.test_files) == 6
    assert "ignored_files" not in dataset.info.extra
    tiff = tmp_path / "photos" / "b" / "IMG_0.tif"
    np.testing.assert_array_equal(np.asarray(dataset.decode(str(tiff))), np.asarray(photo))  # lossless
    np.testing.assert_allclose(load_input(tiff, dataset.info.to_dict())[0], np.asarray(photo) / 255.0, atol=1e-6)


def test_large_inputs_are_predicted_and_verified_in_smaller_batches() -> None:
    """A batch of 1,024 96x96 RGB photos through MobileNetV3 took 2 GB more than the run (a new user's export
    peaked at 4.0 GB); MNIST-sized inputs keep batches of 1,024."""
    from zoo_core.export.verify import keras_probabilities
    from zoo_core.predict.predictors import BATCH, Predictor, batch_size

    assert batch_size((28, 28)) == BATCH == 1024
    assert batch_size((96, 96, 3)) == 151  # 16 MiB of float32 input a batch
    assert batch_size((8192, 8192, 3)) == 1
    seen: list[int] = []

    class Recording(Predictor):
        def _predict_batch(self, x: np.ndarray) -> np.ndarray:
            seen.append(len(x))
            return np.zeros((len(x), 2), np.float32)

    Recording(Path("m.tflite"), {}, (96, 96, 3)).predict(np.zeros((400, 96, 96, 3), np.float32))
    assert seen == [151, 151, 98]
    calls: list[int] = []

    def model(x: np.ndarray, training: bool = True) -> np.ndarray:  # stands in for the Keras model
        assert not training
        calls.append(len(x))
        return np.zeros((len(x), 2), np.float32)

    assert keras_probabilities(model, np.zeros((400, 96, 96, 3), np.float32)).shape == (400, 2)
    assert calls == [151, 151, 98]


def test_predict_takes_any_photo_a_resizing_folder_trained_on(tmp_path: Path) -> None:
    """image-folder with image_size squashes every photo to that size (as Keras' image_dataset_from_directory
    does); zoo predict refused a photo of other proportions, even one the model was trained on."""
    import pytest

    from zoo_core.errors import DataError

    for name, size in (("wide", (90, 30)), ("tall", (30, 60))):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for index in range(3):
            Image.fromarray(np.full((size[1], size[0], 3), 40 * index, np.uint8)).save(
                tmp_path / "photos" / name / f"{index}.png")
    wide = tmp_path / "photos" / "wide" / "1.png"
    resizing = image_folder(str(tmp_path / "photos"), color="rgb", image_size=[32, 32], test_split=0.34)
    assert resizing.info.resized and resizing.info.to_dict()["resized"] is True
    np.testing.assert_allclose(load_input(wide, resizing.info.to_dict())[0],
                               resizing.info.normalise(np.asarray(resizing.decode(str(wide)))), atol=1e-6)

    for index in range(3):  # a folder of one size, read as it is: the model never saw other proportions
        Image.fromarray(np.full((32, 32, 3), 9, np.uint8)).save(tmp_path / "photos" / "tall" / f"{index}.png")
        Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(tmp_path / "photos" / "wide" / f"{index}.png")
    as_they_are = image_folder(str(tmp_path / "photos"), color="rgb", test_split=0.34)
    assert not as_they_are.info.resized
    Image.fromarray(np.zeros((30, 90, 3), np.uint8)).save(tmp_path / "new.png")
    with pytest.raises(DataError, match="is 90x30 pixels; the model expects 32x32"):
        load_input(tmp_path / "new.png", as_they_are.info.to_dict())
