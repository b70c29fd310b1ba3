"""Feature vectors as a first-class case: per-feature normalisation in DatasetInfo and in the exported
model's input contract, ``zoo predict`` on raw ``.npy`` and ``.csv`` features, clear refusals.

A synthetic wine-like table (3 classes, 13 features of very different scales,
sorted by class) trains a tiny Keras model that is exported as TFLite and as a
SavedModel; every way of predicting must answer as Keras does on the
normalised inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from zoo_core.data import Dataset, DatasetInfo, check_dataset
from zoo_core.errors import DataError
from zoo_core.export import ExportContext
from zoo_core.predict import load_input, load_predictor, read_tflite_metadata

NAMES = ["alcohol", "malic_acid", "ash", "alcalinity", "magnesium", "phenols", "flavanoids", "nonflavanoid",
         "proanthocyanins", "colour", "hue", "od280", "proline"]
SCALES = np.array([13, 2, 2.4, 19, 100, 2.3, 2, 0.36, 1.6, 5, 1, 2.6, 750])
CLASSES = ["cultivar 1", "cultivar 2", "cultivar 3"]


def raw_table(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw features (scales from 0.4 to 750) and class-sorted labels."""
    rng = np.random.default_rng(seed)
    y = np.sort(rng.integers(0, 3, count))
    raw = SCALES * (1 + 0.15 * y[:, None]) + rng.normal(size=(count, 13)) * SCALES * 0.08
    return raw, y.astype(np.int64)


def wine_info(raw_train: np.ndarray) -> DatasetInfo:
    return DatasetInfo(name="winelike", input_shape=(13,), num_classes=3, class_names=CLASSES, image=False,
                       feature_names=NAMES, value_range=(-6.0, 6.0), feature_mean=raw_train.mean(axis=0).tolist(),
                       feature_std=raw_train.std(axis=0).tolist())


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A trained softmax regression on the table, exported as TFLite and SavedModel, and as a run."""
    import keras

    from zoo_plugins.exporters.savedmodel import savedmodel
    from zoo_plugins.exporters.tflite import tflite

    raw_train, y_train = raw_table(300, 0)
    raw_test, y_test = raw_table(60, 1)
    info = wine_info(raw_train)
    mean, std = raw_train.mean(axis=0), raw_train.std(axis=0)

    def standardise(raw: np.ndarray) -> np.ndarray:  # written out: the reference for everything below
        return ((raw - mean) / std).astype(np.float32)

    dataset = Dataset(standardise(raw_train), y_train, standardise(raw_test), y_test, info)
    np.testing.assert_allclose(info.normalise(raw_test), dataset.x_test, atol=1e-6)
    check_dataset(dataset, "winelike")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(13,), name="inputs"), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    model.fit(dataset.x_train, dataset.y_train, epochs=20, batch_size=32, verbose=0)
    folder = tmp_path_factory.mktemp("wine")
    context = ExportContext(model=model, dataset=dataset, destination=folder, model_name="wine",
                            metadata={"run_id": "wine-run"})
    run = folder / "run-1"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "manifest.json").write_text(json.dumps({"run_id": "wine-run", "dataset": info.to_dict()}))
    new_raw, _ = raw_table(7, 2)
    return {"info": info, "raw": new_raw, "keras": model.predict(standardise(new_raw), verbose=0),
            "tflite": Path(tflite(context).path), "savedmodel": Path(savedmodel(context, version=1).path),
            "run": run / "model.keras", "accuracy": float(np.mean(model.predict(dataset.x_test, verbose=0)
                                                                   .argmax(axis=1) == y_test))}


def write_csv(path: Path, rows: np.ndarray, header: list[str] | None = None) -> Path:
    lines = [",".join(header)] if header else []
    lines += [",".join(repr(float(value)) for value in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the contract


def test_the_synthetic_model_learned_something(wine: dict[str, Any]) -> None:
    assert wine["accuracy"] > 0.9  # otherwise agreement below would prove little


@pytest.mark.parametrize("model", ["tflite", "savedmodel", "run"])
def test_exported_contract_carries_the_per_feature_normalisation(wine: dict[str, Any], model: str) -> None:
    contract = load_predictor(wine[model]).metadata["input"]
    info = wine["info"]
    assert contract["image"] is False and contract["input_shape"] == [13]
    assert contract["feature_names"] == NAMES
    assert contract["feature_mean"] == pytest.approx(info.feature_mean)
    assert contract["feature_std"] == pytest.approx(info.feature_std)
    assert DatasetInfo.from_dict(contract) == info


def test_tflite_file_alone_carries_the_contract(wine: dict[str, Any]) -> None:
    embedded = read_tflite_metadata(wine["tflite"])["input"]
    assert embedded["feature_mean"] == pytest.approx(wine["info"].feature_mean)
    sidecar = json.loads(wine["tflite"].with_suffix(".json").read_text())
    assert sidecar["input"]["feature_std"] == pytest.approx(wine["info"].feature_std)


@pytest.mark.parametrize("model", ["tflite", "savedmodel", "run"])
def test_raw_npy_and_csv_give_what_keras_gives_on_normalised_input(wine: dict[str, Any], model: str,
                                                                 tmp_path: Path) -> None:
    predictor = load_predictor(wine[model])
    contract = predictor.metadata["input"]
    raw, expected = wine["raw"], wine["keras"]
    np.save(tmp_path / "rows.npy", raw)
    np.save(tmp_path / "one.npy", raw[3])
    inputs = {
        "rows.npy": load_input(tmp_path / "rows.npy", contract),
        "with header.csv": load_input(write_csv(tmp_path / "h.csv", raw, NAMES), contract),
        "no header.csv": load_input(write_csv(tmp_path / "n.csv", raw), contract),
        "columns reordered.csv": load_input(write_csv(tmp_path / "r.csv", raw[:, ::-1], NAMES[::-1]), contract),
    }
    for name, x in inputs.items():
        assert x.shape == (7, 13), name
        np.testing.assert_allclose(predictor.predict(x), expected, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(predictor.predict(load_input(tmp_path / "one.npy", contract)), expected[3:4],
                               atol=1e-5)


def test_zoo_predict_takes_raw_csv_rows_one_prediction_each(wine: dict[str, Any], tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "new wines.csv", wine["raw"], NAMES)
    result = run_cli("predict", str(wine["tflite"]), str(csv), "--json", "--top", "1")
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)
    assert [answer["input"] for answer in answers] == [f"{csv}[{index}]" for index in range(7)]
    assert [answer["top"][0]["name"] for answer in answers] == [CLASSES[k] for k in wine["keras"].argmax(axis=1)]


# --------------------------------------------------------------------------- wrong inputs, clear words


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    """The input contract of the wine-like table, without training anything."""
    return wine_info(raw_table(300, 0)[0]).to_dict()


def refusal(path: Path, contract: dict[str, Any]) -> DataError:
    with pytest.raises(DataError) as caught:
        load_input(path, contract)
    return caught.value


def test_an_image_for_a_feature_vector_model_is_refused_in_its_own_words(wine: dict[str, Any],
                                                                         tmp_path: Path) -> None:
    Image.new("L", (13, 1)).save(tmp_path / "strip.png")
    error = refusal(tmp_path / "strip.png", wine["info"].to_dict())
    assert "this model takes feature vectors (13 features): give a .npy or .csv file" in error.message
    assert "crop" not in error.message + (error.hint or "")
    result = run_cli("predict", str(wine["tflite"]), str(tmp_path / "strip.png"))
    assert result.exit_code == 2
    assert "feature vectors (13 features)" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("text, words", [
    ("1,2,3,4,5,6,7,8,9,10,11,12,13\n1,2,3,4,5,6,7,8,9,10,11,12\n", "line 2 has 12 values; the model takes 13 features"),
    ("1,2,3,4,5,6,7,8,9,10,11,12,13,14\n", "line 1 has 14 values; the model takes 13 features"),
    ("1,2,3,4,5,6,nan,8,9,10,11,12,13\n", "line 1, column 7 is nan; the model needs finite numbers"),
    ("1,2,3,4,5,6,7,8,9,10,11,12,inf\n", "line 1, column 13 is inf"),
    ("1,2,3,4,5,6,7,8,9,10,eleven,12,13\n", "line 1, column 11 ('eleven') is not a number"),
    ("1,2,3,4,5,6,7,8,9,,11,12,13\n", "line 1, column 10 is empty"),
    (",".join(NAMES[:12] + ["colour intensity"]) + "\n" + ",".join("1" * 13) + "\n",
     "does not name the model's features: unknown colour intensity; missing proline"),
    (",".join(NAMES) + "\n", "has a header row but no rows of numbers"),
    ("", "holds no rows of numbers"),
])
def test_bad_csv_rows_are_named_with_their_line(contract: dict[str, Any], tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "table.csv"
    path.write_text(text, encoding="utf-8")
    assert words in refusal(path, contract).message


def test_semicolon_separated_csv_gets_a_hint(contract: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "european.csv"
    path.write_text(";".join("1" * 13) + "\n", encoding="utf-8")
    error = refusal(path, contract)
    assert "13 features" in error.message and "commas, not semicolons" in error.hint


@pytest.mark.parametrize("array, words", [
    (np.array([[1.0] * 12 + [np.nan]]), "NaN or infinite values (the first at index (0, 12))"),
    (np.full((2, 13), np.inf), "NaN or infinite values"),
    (np.ones((4, 12)), "has shape (4, 12); the model expects feature vectors (13 features)"),
])
def test_bad_npy_features_are_refused(contract: dict[str, Any], tmp_path: Path, array: np.ndarray, words: str) -> None:
    np.save(tmp_path / "x.npy", array)
    assert words in refusal(tmp_path / "x.npy", contract).message


def test_csv_for_an_image_model_says_what_the_model_takes(tmp_path: Path) -> None:
    contract = DatasetInfo("mnist", (28, 28), 10, [str(i) for i in range(10)]).to_dict()
    error = refusal(write_csv(tmp_path / "pixels.csv", np.zeros((1, 784))), contract)
    assert "this model takes images of 28x28 pixels, 1 channel, not CSV rows" in error.message
    np.save(tmp_path / "nan.npy", np.full((28, 28), np.nan))
    assert "NaN" in refusal(tmp_path / "nan.npy", contract).message


# --------------------------------------------------------------------------- DatasetInfo


def test_defaults_differ_for_images_and_feature_vectors() -> None:
    image = DatasetInfo("digits", (8, 8), 10, [str(i) for i in range(10)])
    assert (image.scale, image.offset, image.raw_value_range) == (1 / 255, 0.0, (0.0, 255.0))
    vectors = DatasetInfo("table", (13,), 3, CLASSES, image=False, value_range=(-4.0, 4.0))
    assert (vectors.scale, vectors.offset, vectors.raw_value_range) == (1.0, 0.0, (-4.0, 4.0))
    assert vectors.feature_names == [] and vectors.feature_mean is None and vectors.feature_std is None
    np.testing.assert_array_equal(vectors.normalise(np.array([[2.5] * 13])), np.full((1, 13), 2.5, np.float32))


def test_numpy_statistics_are_kept_as_plain_lists() -> None:
    raw = np.arange(12.0).reshape(4, 3)
    info = DatasetInfo("t", (3,), 2, ["a", "b"], image=False, feature_names=np.array(["x", "y", "z"]),
                       feature_mean=raw.mean(axis=0), feature_std=raw.std(axis=0))
    assert info.feature_mean == [4.5, 5.5, 6.5] and info.feature_names == ["x", "y", "z"]
    assert json.loads(json.dumps(info.to_dict()))["feature_std"] == pytest.approx(raw.std(axis=0).tolist())


def test_normalise_is_per_feature_after_scale_and_offset() -> None:
    info = DatasetInfo("t", (3,), 2, ["a", "b"], image=False, scale=2.0, offset=1.0,
                       feature_mean=[1.0, 3.0, 5.0], feature_std=[1.0, 2.0, 4.0])
    assert info.normalise(np.array([1.0, 2.0, 3.0])).tolist() == [2.0, 1.0, 0.5]
    assert info.normalise(np.array([1, 2, 3])).dtype == np.float32


def test_an_old_record_without_per_feature_fields_still_loads() -> None:
    old = {"name": "tab", "input_shape": [13], "num_classes": 3, "class_names": CLASSES, "input_dtype": "float32",
           "value_range": [0.0, 1.0], "raw_value_range": [0.0, 255.0], "scale": 1 / 255, "offset": 0.0,
           "image": False, "channels": 1, "description": "", "extra": {}}
    info = DatasetInfo.from_dict(old)
    assert info.scale == 1 / 255 and info.raw_value_range == (0.0, 255.0)  # as recorded, not today's defaults
    assert info.feature_names == [] and info.feature_mean is None
    assert DatasetInfo.from_dict(info.to_dict()) == info


def test_an_old_vector_contract_keeps_its_raw_or_scaled_rule(tmp_path: Path) -> None:
    old = {"input_shape": [4], "image": False, "value_range": [0.0, 1.0], "raw_value_range": [0.0, 255.0],
           "scale": 1 / 255, "offset": 0.0}
    np.save(tmp_path / "raw.npy", np.array([0, 51, 102, 255], dtype=np.uint8))
    np.save(tmp_path / "scaled.npy", np.array([0.0, 0.2, 0.4, 1.0]))
    np.testing.assert_allclose(load_input(tmp_path / "raw.npy", old), [[0.0, 0.2, 0.4, 1.0]], atol=1e-6)
    np.testing.assert_allclose(load_input(tmp_path / "scaled.npy", old), [[0.0, 0.2, 0.4, 1.0]], atol=1e-6)


@pytest.mark.parametrize("changes, words", [
    ({"feature_names": ["a", "b"]}, "2 feature_names for 3 features"),
    ({"feature_mean": [0.0, 0.0, 0.0]}, "give feature_mean and feature_std together"),
    ({"feature_mean": [0.0, 0.0], "feature_std": [1.0, 1.0]}, "feature_mean must be a list of 3 numbers"),
    ({"feature_mean": [0.0] * 3, "feature_std": [1.0, 0.0, 1.0]}, "feature_std must hold finite numbers, all above 0"),
    ({"feature_mean": [0.0, float("nan"), 0.0], "feature_std": [1.0] * 3}, "feature_mean must hold finite numbers"),
    ({"feature_mean": ["x"] * 3, "feature_std": [1.0] * 3}, "feature_mean must be a list of 3 numbers"),
])
def test_check_dataset_refuses_feature_fields_that_do_not_fit(changes: dict[str, Any], words: str) -> None:
    info = DatasetInfo("t", (3,), 2, ["a", "b"], image=False, **changes)
    x, y = np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1])
    with pytest.raises(DataError) as caught:
        check_dataset(Dataset(x, y, x, y, info), "dataset 't'")
    assert words in caught.value.message
