"""The prediction API behind ``zoo predict``: load an exported model, prepare inputs, rank classes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from zoo_core.data import Dataset, DatasetInfo
from zoo_core.errors import DataError, ZooError
from zoo_core.export import ExportContext
from zoo_core.predict import load_input, load_predictor, read_tflite_metadata, top_classes

MNIST = Path(__file__).resolve().parents[1] / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz"
CONTRACT = DatasetInfo(name="mnist", input_shape=(28, 28), num_classes=10,
                       class_names=[str(digit) for digit in range(10)]).to_dict()


def small_mnist(train: int = 3000, test: int = 500) -> Dataset:
    with np.load(MNIST) as data:
        x_train, y_train = data["x_train"][:train], data["y_train"][:train]
        x_test, y_test = data["x_test"][:test], data["y_test"][:test]
    info = DatasetInfo.from_dict(CONTRACT)
    return Dataset(x_train.astype(np.float32) / 255, y_train.astype(np.int64),
                   x_test.astype(np.float32) / 255, y_test.astype(np.int64), info)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A tiny trained MLP exported as float32 TFLite, int8 TFLite (uint8 io) and SavedModel (version 3)."""
    import keras

    from zoo_plugins.exporters.savedmodel import savedmodel
    from zoo_plugins.exporters.tflite import tflite

    dataset = small_mnist()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(28, 28), name="image"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(dataset.x_train, dataset.y_train, epochs=3, batch_size=32, verbose=0)
    folder = tmp_path_factory.mktemp("models")
    context = ExportContext(model=model, dataset=dataset, destination=folder, model_name="tiny",
                            metadata={"run_id": "test-run"})
    keras_answers = model.predict(dataset.x_test, verbose=0).argmax(axis=1)
    run = folder / "run-1"  # what a run directory holds for zoo predict RUN
    run.mkdir()
    model.save(run / "model.keras")
    (run / "manifest.json").write_text(json.dumps({"run_id": "test-run", "dataset": CONTRACT}))
    return {
        "keras": run / "model.keras",
        "folder": folder,
        "dataset": dataset,
        "tflite": Path(tflite(context, verify_samples=200).path),
        "int8": Path(tflite(context, quantize="int8", io_type="uint8", calibration_samples=200,
                            verify_samples=200).path),
        "savedmodel": Path(savedmodel(context, version=3, verify_samples=200).path),
        # test digits the Keras model gets right, so each model must too
        "right": [int(i) for i in np.flatnonzero(keras_answers == dataset.y_test)[:5]],
    }


@pytest.fixture(scope="module")
def digit_pngs(models: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, int]]:
    """A few test digits saved as 28x28 grayscale PNGs, with their labels."""
    folder = tmp_path_factory.mktemp("digits")
    with np.load(MNIST) as data:
        images, labels = data["x_test"], data["y_test"]
    pngs = []
    for index in models["right"]:
        path = folder / f"digit-{index}.png"
        Image.fromarray(images[index]).save(path)
        pngs.append((path, int(labels[index])))
    return pngs


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tflite", "int8", "savedmodel", "keras"])
def test_predictor_gives_the_right_class_for_png_digits(models: dict[str, Any], digit_pngs: list[tuple[Path, int]],
                                                        kind: str) -> None:
    predictor = load_predictor(models[kind])
    assert predictor.metadata["class_names"] == [str(digit) for digit in range(10)]
    assert predictor.metadata["run_id"] == "test-run"
    for path, label in digit_pngs:
        x = load_input(path, predictor.metadata["input"])
        assert x.shape == (1, 28, 28) and x.dtype == np.float32 and 0.0 <= x.min() <= x.max() <= 1.0
        probabilities = predictor.predict(x)
        assert probabilities.shape == (1, 10)
        assert probabilities.sum() == pytest.approx(1.0, abs=0.02)
        best = top_classes(probabilities[0], predictor.metadata["class_names"], k=3)
        assert best[0]["name"] == str(label), path.name


@pytest.mark.slow
def test_savedmodel_model_folder_uses_the_highest_version(models: dict[str, Any]) -> None:
    model_folder = models["savedmodel"].parent
    (model_folder / "1").mkdir(exist_ok=True)  # an older (here: empty) version is ignored
    predictor = load_predictor(model_folder)
    assert predictor.path == models["savedmodel"] and predictor.format == "savedmodel"


@pytest.mark.slow
def test_npy_inputs_raw_or_scaled_give_the_same_answers(models: dict[str, Any], tmp_path: Path) -> None:
    with np.load(MNIST) as data:
        raw = data["x_test"][:20]
    np.save(tmp_path / "raw.npy", raw)
    np.save(tmp_path / "scaled.npy", raw.astype(np.float32) / 255)
    np.save(tmp_path / "one.npy", raw[0])
    predictor = load_predictor(models["tflite"])
    from_raw = predictor.predict(load_input(tmp_path / "raw.npy", predictor.metadata))
    from_scaled = predictor.predict(load_input(tmp_path / "scaled.npy", predictor.metadata))
    assert from_raw.shape == (20, 10)
    np.testing.assert_allclose(from_raw, from_scaled, atol=1e-6)
    assert load_input(tmp_path / "one.npy", CONTRACT).shape == (1, 28, 28)


@pytest.mark.slow
def test_tflite_and_savedmodel_agree_on_a_batch(models: dict[str, Any]) -> None:
    x = models["dataset"].x_test[:300]
    tflite_answers = load_predictor(models["tflite"]).predict(x)
    savedmodel_answers = load_predictor(models["savedmodel"]).predict(x)
    np.testing.assert_allclose(tflite_answers, savedmodel_answers, atol=1e-5)


@pytest.mark.slow
def test_predict_refuses_inputs_of_the_wrong_shape(models: dict[str, Any]) -> None:
    predictor = load_predictor(models["tflite"])
    with pytest.raises(DataError, match=r"expects \(n, 28, 28\)"):
        predictor.predict(np.zeros((2, 27, 28), np.float32))


@pytest.mark.slow
def test_corrupt_tflite_is_a_clear_error(models: dict[str, Any], tmp_path: Path) -> None:
    content = models["tflite"].read_bytes()
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(content[: len(content) // 2])
    with pytest.raises(DataError, match="truncated.tflite.*not a valid TFLite model"):
        load_predictor(truncated)
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"this is not a model" * 20)
    with pytest.raises(DataError, match="garbage.tflite.*not a valid TFLite model"):
        load_predictor(garbage)
    with pytest.raises(DataError, match="not a TFLite model"):
        read_tflite_metadata(garbage)


@pytest.mark.slow
def test_savedmodel_with_missing_parts_is_a_clear_error(models: dict[str, Any], tmp_path: Path) -> None:
    no_variables = tmp_path / "no-variables"
    shutil.copytree(models["savedmodel"], no_variables)
    shutil.rmtree(no_variables / "variables")
    with pytest.raises(DataError, match="incomplete.*variables"):
        load_predictor(no_variables)
    no_graph = tmp_path / "no-graph"
    shutil.copytree(models["savedmodel"], no_graph)
    (no_graph / "saved_model.pb").unlink()
    with pytest.raises(DataError, match="no saved_model.pb"):
        load_predictor(no_graph)
    broken_graph = tmp_path / "broken-graph"
    shutil.copytree(models["savedmodel"], broken_graph)
    (broken_graph / "saved_model.pb").write_bytes(b"\x00garbage")
    with pytest.raises(DataError, match="cannot be loaded"):
        load_predictor(broken_graph)


def test_missing_model_and_wrong_file_type_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_predictor(tmp_path / "nothing.tflite")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(DataError, match="not a .tflite, .onnx or .keras file, or a SavedModel"):
        load_predictor(text)
    with pytest.raises(DataError, match="no saved_model.pb"):
        load_predictor(tmp_path)
    broken = tmp_path / "model.keras"
    broken.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot be loaded"):
        load_predictor(broken)


# --- inputs (no model needed) ---


def test_image_is_grayscaled_resized_and_scaled(tmp_path: Path) -> None:
    colour = np.zeros((56, 56, 3), np.uint8)
    colour[:, :28] = 255
    Image.fromarray(colour).save(tmp_path / "big.png")
    Image.fromarray(colour).save(tmp_path / "big.jpg", quality=95)
    for name in ("big.png", "big.jpg"):
        x = load_input(tmp_path / name, CONTRACT)
        assert x.shape == (1, 28, 28) and x.dtype == np.float32
        assert x[0, :, :10].mean() == pytest.approx(1.0, abs=0.02)
        assert x[0, :, 18:].mean() == pytest.approx(0.0, abs=0.02)


def test_image_of_a_very_different_shape_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((28, 100), np.uint8)).save(tmp_path / "wide.png")
    with pytest.raises(DataError, match=r"wide.png' is 100x28 pixels; the model expects 28x28"):
        load_input(tmp_path / "wide.png", CONTRACT)


def test_non_image_input_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "digit.png"
    fake.write_text("not an image")
    with pytest.raises(DataError, match=r"digit.png' is not an image") as error:
        load_input(fake, CONTRACT)
    assert "28x28" in str(error.value)
    with pytest.raises(DataError, match="does not exist"):
        load_input(tmp_path / "missing.png", CONTRACT)


def test_npy_of_the_wrong_shape_or_values_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "wrong.npy", np.zeros((3, 27, 28), np.float32))
    with pytest.raises(DataError, match=r"wrong.npy' has shape \(3, 27, 28\); the model expects \(28, 28\)"):
        load_input(tmp_path / "wrong.npy", CONTRACT)
    np.save(tmp_path / "negative.npy", np.full((28, 28), -5.0, np.float32))
    with pytest.raises(DataError, match="outside both"):
        load_input(tmp_path / "negative.npy", CONTRACT)
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match="broken.npy' is not a readable .npy"):
        load_input(tmp_path / "broken.npy", CONTRACT)


def test_input_needs_a_contract(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((28, 28), np.float32))
    with pytest.raises(ZooError, match="no input contract"):
        load_input(tmp_path / "x.npy", {})


def test_top_classes_ranks_and_names() -> None:
    probabilities = np.array([0.1, 0.6, 0.05, 0.25])
    best = top_classes(probabilities, ["a", "b", "c"], k=3)
    assert [item["name"] for item in best] == ["b", "3", "a"]
    assert [item["index"] for item in best] == [1, 3, 0]
    assert best[0]["probability"] == pytest.approx(0.6)
    assert len(top_classes(probabilities[np.newaxis], None, k=10)) == 4
    with pytest.raises(ValueError):
        top_classes(np.ones((2, 4)), None)
