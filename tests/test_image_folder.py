"""The image-folder dataset: a user's own PNG/JPEG files, one sub-folder per class (PNGs made from MNIST).

Loading, class names, splits, size and colour, and the refusals (corrupt
images, empty class folders, mixed sizes, wrong layouts); then a run from a
user's own registry.toml and ``zoo predict`` on PNG files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from zoo_core.data import check_dataset
from zoo_core.errors import DataError
from zoo_core.predict import load_input
from zoo_plugins.datasets.image_folder import image_folder

MNIST = Path(__file__).resolve().parents[1] / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz"
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def mnist_slice(split: str, count: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    with np.load(MNIST) as data:
        return data[f"x_{split}"][offset:offset + count], data[f"y_{split}"][offset:offset + count]


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, names: list[str] = NAMES) -> Path:
    """root/<class name>/<index>.png for every image."""
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = root / names[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:05d}.png")
    return root


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 MNIST training digits as PNG files under digits/<name>/."""
    return write_folder(tmp_path_factory.mktemp("images") / "digits", *mnist_slice("train", 400))


def classes_of(root: Path) -> dict[str, int]:
    return {folder.name: len(list(folder.glob("*.png"))) for folder in sorted(root.iterdir())}


# --------------------------------------------------------------------------- loading


def test_loads_pixels_labels_and_class_names_from_folders(digits: Path) -> None:
    dataset = image_folder(str(digits), test_split=0.25)
    check_dataset(dataset, "image-folder")
    info = dataset.info
    assert info.class_names == sorted(NAMES)
    assert info.input_shape == (28, 28) and info.channels == 1 and info.image
    assert len(dataset.x_train) + len(dataset.x_test) == 400
    x_train = np.asarray(dataset.x_train)  # the images stream: the view decodes them when asked
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    # the labels are the folders' classes: every image's pixels appear under its own class
    images, labels = mnist_slice("train", 400)
    by_pixels = {image.tobytes(): NAMES[label] for image, label in zip(images, labels)}
    for x, y in zip(dataset.x_train, dataset.y_train):
        assert by_pixels[np.rint(x * 255).astype(np.uint8).tobytes()] == info.class_names[y]


def test_test_split_is_stratified_seeded_and_shuffled(digits: Path) -> None:
    dataset = image_folder(str(digits), test_split=0.25, seed=7)
    counts = classes_of(digits)
    test_counts = np.bincount(dataset.y_test, minlength=10)
    for index, name in enumerate(dataset.info.class_names):
        assert test_counts[index] == round(counts[name] * 0.25)
    assert len(set(dataset.y_train[:40].tolist())) > 5  # shuffled, not sorted by class
    again = image_folder(str(digits), test_split=0.25, seed=7)
    assert np.array_equal(again.x_train, dataset.x_train) and np.array_equal(again.y_test, dataset.y_test)
    other = image_folder(str(digits), test_split=0.25, seed=8)
    assert not np.array_equal(other.y_train, dataset.y_train)


def test_separate_test_folder(digits: Path, tmp_path: Path) -> None:
    images, labels = mnist_slice("test", 60)
    keep = labels != 3  # a test folder may miss a class
    test = write_folder(tmp_path / "test", images[keep], labels[keep])
    dataset = image_folder(str(digits), test_path=str(test))
    assert len(dataset.x_train) == 400 and len(dataset.x_test) == int(keep.sum())
    names = dataset.info.class_names
    assert sorted(names[y] for y in dataset.y_test) == sorted(NAMES[y] for y in labels[keep])


def test_image_size_resizes_and_rgb_gives_three_channels(digits: Path) -> None:
    dataset = image_folder(str(digits), image_size=[14, 20], color="rgb")
    assert dataset.info.input_shape == (14, 20, 3) and dataset.info.channels == 3
    assert dataset.x_train.shape[1:] == (14, 20, 3)
    x_train = np.asarray(dataset.x_train)
    assert np.array_equal(x_train[..., 0], x_train[..., 2])  # grey images stay grey in RGB


def test_predict_prepares_an_image_exactly_as_training_did(tmp_path: Path) -> None:
    """56x56 RGB PNG and JPEG files: load_input with the contract gives the training pixels of that file."""
    rng = np.random.default_rng(0)
    root = tmp_path / "shapes"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for index in range(3):
            suffix = ".jpg" if index == 0 else ".png"  # JPEG and PNG alike
            Image.fromarray(rng.integers(0, 255, (56, 56, 3), dtype=np.uint8)).save(root / name / f"{index}{suffix}")
    dataset = image_folder(str(root), image_size=[28, 28], color="grayscale", test_split=0.5)
    assert len(dataset.x_train) + len(dataset.x_test) == 6
    contract = dataset.info.to_dict()
    prepared = np.concatenate([load_input(path, contract) for path in sorted(root.rglob("*.*g"))])
    for x in np.concatenate([dataset.x_train, dataset.x_test]):
        assert np.abs(prepared - x).reshape(len(prepared), -1).max(axis=1).min() < 1e-6


def test_non_image_files_are_ignored_and_counted(digits: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    root = write_folder(tmp_path / "d", *mnist_slice("train", 60))
    (root / "README.md").write_text("my digits")
    (root / "one" / ".DS_Store").write_bytes(b"\0\0")
    (root / "two" / "notes.txt").write_text("x")
    (root / ".git").mkdir()
    dataset = image_folder(str(root))
    assert len(dataset.x_train) + len(dataset.x_test) == 60
    err = capsys.readouterr().err
    assert "ignored 3 file(s) that are not images (" in err and "README.md" in err and "notes.txt" in err
    assert dataset.info.extra == {"ignored_files": 3}


# --------------------------------------------------------------------------- bad files, bad layouts


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "small", *mnist_slice("train", 50))


def test_a_corrupt_image_is_an_error_naming_the_file(small: Path) -> None:
    bad = small / "five" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError, match="cannot read image .*broken.png") as caught:
        image_folder(str(small))
    assert "skip_bad" in caught.value.hint


def test_skip_bad_skips_counts_and_records_the_images(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a.png", "b.jpg"):
        (small / "seven" / name).write_bytes(b"not an image at all")
    dataset = image_folder(str(small), skip_bad=True)
    assert len(dataset.x_train) + len(dataset.x_test) == 50
    record = dataset.info.extra["skipped_images"]
    assert record["count"] == 2 and "a.png" in record["first"][0] and "b.jpg" in record["first"][1]
    assert "skipped 2 unreadable image(s)" in capsys.readouterr().err


def test_a_class_whose_images_are_all_unreadable_is_an_error(small: Path) -> None:
    (small / "ten").mkdir()
    (small / "ten" / "x.png").write_bytes(b"junk")
    with pytest.raises(DataError, match="every image of class 'ten' is unreadable"):
        image_folder(str(small), skip_bad=True)


def test_an_empty_class_folder_is_an_error_naming_it(small: Path) -> None:
    (small / "ten").mkdir()
    with pytest.raises(DataError, match=r"class folder '.*ten' is empty") as caught:
        image_folder(str(small))
    assert "cannot be learnt" in caught.value.hint
    (small / "ten" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"class folder '.*ten' holds no images \(1 other file"):
        image_folder(str(small))


def test_mixed_sizes_are_an_error_unless_image_size_is_set(small: Path) -> None:
    Image.new("L", (32, 30)).save(small / "four" / "big.png")
    with pytest.raises(DataError, match=r"big.png' is 32x30 pixels, but the first image .* is 28x28") as caught:
        image_folder(str(small))
    assert "image_size" in caught.value.hint
    dataset = image_folder(str(small), image_size=[28, 28])
    assert len(dataset.x_train) + len(dataset.x_test) == 51


@pytest.mark.parametrize(("layout", "message", "hint"), [
    ("missing", "does not exist", "one sub-folder per class"),
    ("file", "is a file, not a folder", "one sub-folder per class"),
    ("csv", "is a file, not a folder", 'dataset = "csv"'),
    ("flat", r"has no class sub-folders \(3 image\(s\) directly in it\)", "move each class's images"),
    ("one class", "has one class sub-folder \\('only'\\)", "every other class"),
])
def test_wrong_layouts_are_clear_errors(tmp_path: Path, layout: str, message: str, hint: str) -> None:
    target = tmp_path / "data"
    if layout == "file":
        target.write_bytes(b"x")
    elif layout == "csv":
        target = tmp_path / "data.csv"
        target.write_text("a,b\n1,2\n")
    elif layout == "flat":
        write_folder(tmp_path, *mnist_slice("train", 3), names=["data"] * 10)
    elif layout == "one class":
        write_folder(target, *mnist_slice("train", 3), names=["only"] * 10)
    with pytest.raises(DataError, match=message) as caught:
        image_folder(str(target))
    assert hint in caught.value.hint


def test_a_test_folder_with_an_unknown_class_is_an_error(small: Path, tmp_path: Path) -> None:
    test = write_folder(tmp_path / "test", *mnist_slice("test", 20))
    (test / "ten").mkdir()
    Image.new("L", (28, 28)).save(test / "ten" / "0.png")
    with pytest.raises(DataError, match="test folder .* has class folder\\(s\\) ten that the training folder"):
        image_folder(str(small), test_path=str(test))


def test_image_size_needs_height_and_width(small: Path) -> None:
    with pytest.raises(DataError, match=r"image_size must be \[height, width\]"):
        image_folder(str(small), image_size=[28])


def test_the_conformance_kit_accepts_it(small: Path) -> None:
    from zoo_core.testing import assert_conforms

    assert_conforms("dataset", "image-folder", {"path": str(small)})


# --------------------------------------------------------------------------- a user's own registry.toml


REGISTRY = """
[datasets.my-digits]
component = "image-folder"
summary = "My digits, as PNG files"
path = "digits"
test_path = "digits-test"
skip_bad = true

[runs.digits-mlp]
dataset = "my-digits"
architecture = "mlp"
optimizer = "adam"
loss = "sparse-categorical-crossentropy"
exporters = ["tflite"]
epochs = 3
batch_size = 32
"""


@pytest.mark.slow
def test_zoo_run_from_a_users_registry_and_predict_on_pngs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_folder(tmp_path / "digits", *mnist_slice("train", 2000))
    (tmp_path / "digits" / "three" / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    test_images, test_labels = mnist_slice("test", 300)
    write_folder(tmp_path / "digits-test", test_images, test_labels)
    (tmp_path / "registry.toml").write_text(REGISTRY)
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", "digits-mlp", "--quiet")
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["data_source"] == "digits"
    assert manifest["dataset"]["class_names"] == sorted(NAMES)
    assert manifest["samples"] == {"train": 2000, "test": 300}
    skipped = manifest["dataset"]["extra"]["skipped_images"]  # skip_bad: the damaged file is counted
    assert skipped["count"] == 1 and "damaged.png" in skipped["first"][0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.8
    # new images, of another size and in colour: predict resizes and converts them as training did
    inputs = []
    for index in range(5):
        path = tmp_path / f"new-{index}.png"
        Image.fromarray(test_images[index]).convert("RGB").resize((56, 56)).save(path)
        inputs.append(str(path))
    (tflite,) = (run / "exports").rglob("*.tflite")
    for model in (str(run), str(tflite)):
        result = run_cli("predict", model, *inputs, "--json", "--top", "1")
        assert result.exit_code == 0, result.output
        answers = [answer["top"][0]["name"] for answer in json.loads(result.stdout)]
        assert sum(answer == NAMES[label] for answer, label in zip(answers, test_labels)) >= 4, answers
    # the same images as 16-bit PNGs (each pixel p as p * 257) get the same answers, not those of clipped ones
    shallow, deep = [str(tmp_path / f"test-{index}.png") for index in range(5)], []
    for index, path in enumerate(shallow):
        Image.fromarray(test_images[index]).save(path)
        deep.append(path.replace(".png", "-16-bit.png"))
        Image.fromarray(test_images[index].astype(np.uint16) * 257).save(deep[-1])
    eight, sixteen = (run_cli("predict", str(run), *paths, "--json") for paths in (shallow, deep))
    assert eight.exit_code == sixteen.exit_code == 0, sixteen.output
    assert [a["top"] for a in json.loads(sixteen.stdout)] == [a["top"] for a in json.loads(eight.stdout)]
    result = run_cli("evaluate", str(run))  # the dataset loads again to the same fingerprint
    assert result.exit_code == 0, result.output


def test_zoo_run_names_a_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "registry.toml").write_text(REGISTRY)
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", "digits-mlp")
    assert result.exit_code == 2
    assert "folder 'digits' does not exist" in result.output and "hint:" in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
