"""The csv dataset: a user's own table (scikit-learn's wine data written as CSV, bundled, no download).

Header and delimiter detection, the label by name or index, class names,
splits, refusals naming the line and column, the per-feature standardisation
in the input contract; then a run from a user's own registry.toml and
``zoo predict`` on a CSV of raw features.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from zoo_core.data import DatasetInfo, check_dataset
from zoo_core.errors import DataError
from zoo_core.predict import load_input
from zoo_plugins.datasets.csv import csv_dataset


@pytest.fixture(scope="module")
def wine() -> tuple[np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import load_wine

    data = load_wine()
    return data.data, data.target, [name.replace("/", "_") for name in data.feature_names]


def write_table(path: Path, x: np.ndarray, labels: list[str] | np.ndarray, names: list[str] | None,
                label_name: str = "cultivar", delimiter: str = ",", label_first: bool = False) -> Path:
    lines = []
    if names is not None:
        lines.append(delimiter.join([label_name, *names] if label_first else [*names, label_name]))
    for row, label in zip(x, labels):
        cells = [repr(float(value)) for value in row]
        lines.append(delimiter.join([str(label), *cells] if label_first else [*cells, str(label)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def wine_csv(tmp_path: Path, wine: tuple[np.ndarray, np.ndarray, list[str]]) -> Path:
    x, y, names = wine
    return write_table(tmp_path / "wine.csv", x, [f"class_{label}" for label in y], names)


# --------------------------------------------------------------------------- loading


def test_loads_features_labels_and_class_names(wine_csv: Path, wine: tuple) -> None:
    x, y, names = wine
    dataset = csv_dataset(str(wine_csv), label="cultivar")
    check_dataset(dataset, "csv")
    info = dataset.info
    assert info.class_names == ["class_0", "class_1", "class_2"]
    assert info.input_shape == (13,) and not info.image and info.feature_names == names
    assert len(dataset.x_train) + len(dataset.x_test) == 178
    assert np.bincount(dataset.y_test).tolist() == [round(count * 0.2) for count in np.bincount(y)]  # stratified


def test_standardisation_uses_the_training_split_and_is_in_the_contract(wine_csv: Path, wine: tuple) -> None:
    x, _, _ = wine
    dataset = csv_dataset(str(wine_csv))
    info = dataset.info
    x_train, x_test = np.asarray(dataset.x_train), np.asarray(dataset.x_test)  # rows decoded as the pipeline does
    np.testing.assert_allclose(x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(x_train.std(axis=0), 1, atol=1e-4)
    contract = info.to_dict()
    assert contract["feature_mean"] == pytest.approx(x.mean(axis=0), rel=0.05)  # training split only: close
    # raw rows + the contract give exactly the model's inputs
    raw = np.asarray(contract["feature_std"]) * x_test + np.asarray(contract["feature_mean"])
    np.testing.assert_allclose(info.normalise(raw), x_test, atol=1e-5)
    raw_only = csv_dataset(str(wine_csv), standardise=False)
    assert raw_only.info.feature_mean is None and np.asarray(raw_only.x_train).max() > 100  # proline is in the hundreds


def test_a_constant_column_is_not_divided_by_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [f"{i % 7},5,{'a' if i % 2 else 'b'}" for i in range(40)]
    path = tmp_path / "t.csv"
    path.write_text("x,const,y\n" + "\n".join(rows) + "\n")
    dataset = csv_dataset(str(path))
    assert dataset.info.feature_std[1] == 1.0 and np.isfinite(np.asarray(dataset.x_train)).all()
    assert "const are constant in the training split" in capsys.readouterr().err


@pytest.mark.parametrize(("header", "label"), [("auto", "cultivar"), (True, 0), ("auto", -14), (True, "cultivar")])
def test_label_by_name_or_index_anywhere(tmp_path: Path, wine: tuple, header: object, label: object) -> None:
    x, y, names = wine
    path = write_table(tmp_path / "w.csv", x, y + 1, names, label_first=True)
    dataset = csv_dataset(str(path), label=label, header=header)
    assert dataset.info.class_names == ["1", "2", "3"] and dataset.info.feature_names == names


def test_no_header_is_detected_and_columns_are_numbered(tmp_path: Path, wine: tuple) -> None:
    x, y, _ = wine
    dataset = csv_dataset(str(write_table(tmp_path / "w.csv", x, y, None)))
    assert dataset.info.feature_names == [f"column_{i}" for i in range(13)]
    assert len(dataset.x_train) + len(dataset.x_test) == 178  # the first row is data, not a header


def test_numeric_labels_sort_numerically_and_name_alike(tmp_path: Path) -> None:
    rows = [f"{i},{[10, 2, 1.0, 1][i % 4]}" for i in range(40)]
    path = tmp_path / "t.csv"
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    assert csv_dataset(str(path)).info.class_names == ["1", "2", "10"]


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_the_delimiter_is_sniffed(tmp_path: Path, wine: tuple, delimiter: str) -> None:
    x, y, names = wine
    path = write_table(tmp_path / "w.csv", x, y, names, delimiter=delimiter)
    assert csv_dataset(str(path)).info.feature_names == names
    assert csv_dataset(str(path), delimiter=delimiter).info.feature_names == names


def test_chosen_features_in_order(wine_csv: Path) -> None:
    dataset = csv_dataset(str(wine_csv), features=["proline", "alcohol"])
    assert dataset.info.feature_names == ["proline", "alcohol"] and dataset.x_train.shape[1] == 2


def test_separate_test_file(tmp_path: Path, wine: tuple) -> None:
    x, y, names = wine
    train = write_table(tmp_path / "train.csv", x[::2], y[::2], names)
    test = write_table(tmp_path / "test.csv", x[1::2][:, ::-1], y[1::2], names[::-1])  # columns in another order
    dataset = csv_dataset(str(train), test_path=str(test))
    assert len(dataset.x_train) == 89 and len(dataset.x_test) == 89
    raw = csv_dataset(str(train), test_path=str(test), standardise=False)
    assert sorted(np.asarray(raw.x_test)[:, 12].tolist()) == sorted(x[1::2, 12].tolist())  # proline found by name


# --------------------------------------------------------------------------- refusals


def test_a_missing_value_names_the_line_and_column(wine_csv: Path) -> None:
    lines = wine_csv.read_text().splitlines()
    cells = lines[41].split(",")
    cells[3] = ""
    lines[41] = ",".join(cells)
    wine_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"wine.csv' line 42, column 'alcalinity_of_ash': missing value") as caught:
        csv_dataset(str(wine_csv))
    assert "fill in every value" in caught.value.hint


@pytest.mark.parametrize(("cell", "message"), [("NA", "missing value \\('NA'\\)"), ("12,5", "has 15 value"),
                                               ("abc", "'abc' is not a number")])
def test_a_bad_cell_names_the_line_and_column(wine_csv: Path, cell: str, message: str) -> None:
    lines = wine_csv.read_text().splitlines()
    cells = lines[9].split(",")
    cells[0] = cell
    lines[9] = ",".join(cells)
    wine_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=f"line 10.*{message}"):
        csv_dataset(str(wine_csv))


def test_an_unknown_label_column_suggests_one(wine_csv: Path) -> None:
    with pytest.raises(DataError, match="has no column 'cultivr'") as caught:
        csv_dataset(str(wine_csv), label="cultivr")
    assert "cultivar" in caught.value.hint
    with pytest.raises(DataError, match="label column index 20 is out of range"):
        csv_dataset(str(wine_csv), label=20)


@pytest.mark.parametrize(("content", "message"), [
    ("", "holds no rows"),
    ("a,b,c\n", "has a header but no rows"),
    ("a,b\n1,x\n2,x\n", "holds one value, 'x'"),
    ("a,a,b\n1,2,x\n", "names column 'a' twice"),
    ("y\nu\nv\n", "no feature columns"),
])
def test_tables_zoo_cannot_learn_from(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        csv_dataset(str(path))


def test_a_folder_or_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        csv_dataset(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="is a folder") as caught:
        csv_dataset(str(tmp_path))
    assert "image-folder" in caught.value.hint
    with pytest.raises(DataError, match="no file given"):
        csv_dataset()


def test_a_test_label_unknown_to_training_names_the_line(tmp_path: Path, wine: tuple) -> None:
    x, y, names = wine
    train = write_table(tmp_path / "train.csv", x, y, names)
    test = write_table(tmp_path / "test.csv", x[:5], [0, 1, 7, 2, 0], names)
    with pytest.raises(DataError, match="test.csv' line 4: label '7' is not a class"):
        csv_dataset(str(train), test_path=str(test))


def test_the_conformance_kit_accepts_it(wine_csv: Path) -> None:
    from zoo_core.testing import assert_conforms

    assert_conforms("dataset", "csv", {"path": str(wine_csv)})


# --------------------------------------------------------------------------- streaming


def test_the_dataset_holds_byte_offsets_and_labels_never_the_values(wine_csv: Path, wine: tuple) -> None:
    x, _, _ = wine
    dataset = csv_dataset(str(wine_csv), standardise=False, cache="none")
    assert dataset.cache == "none" and dataset.train_files.dtype.kind == "U"
    lines = wine_csv.read_bytes().splitlines(keepends=True)
    for entry in [*dataset.train_files[:5], *dataset.test_files[:5]]:
        row = dataset.read(entry)
        assert row in lines[1:]  # the entry names the bytes of one data row, header excluded
        np.testing.assert_array_equal(np.asarray(dataset.decode(str(entry))),
                                      np.asarray(row.decode().split(",")[:13], dtype=np.float32))
    everything = np.concatenate([np.asarray(dataset.x_train), np.asarray(dataset.x_test)])
    assert sorted(map(tuple, everything.tolist())) == sorted(map(tuple, x.astype(np.float32).tolist()))


def test_quotes_line_endings_and_a_byte_order_mark_keep_the_offsets_right(tmp_path: Path) -> None:
    rows = [f'{i},{i * 0.5},"{"big, red" if i % 2 else "small"}"' for i in range(12)]
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "x,y,label\r\n".encode() + "\r\n".join(rows).encode() + b"\r\n")
    dataset = csv_dataset(str(path), standardise=False, test_split=0.25)
    assert dataset.info.class_names == ["big, red", "small"]
    decoded = {tuple(values) for values in np.asarray(dataset.x_train).tolist() + np.asarray(dataset.x_test).tolist()}
    assert decoded == {(float(i), i * 0.5) for i in range(12)}
    for entry, label in zip(dataset.train_files, dataset.y_train):
        first = int(np.asarray(dataset.decode(str(entry)))[0])
        assert dataset.info.class_names[label] == ("big, red" if first % 2 else "small")


def test_statistics_folded_chunk_by_chunk_equal_numpy_s(tmp_path: Path, wine: tuple,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo_plugins.datasets import _csv_rows

    x, y, names = wine
    path = write_table(tmp_path / "w.csv", x, y, names)
    whole = csv_dataset(str(path))
    monkeypatch.setattr(_csv_rows, "CHUNK", 7)  # 178 rows: 26 chunks, the last one short
    chunked = csv_dataset(str(path))
    np.testing.assert_allclose(chunked.info.feature_mean, whole.info.feature_mean, rtol=1e-12)
    np.testing.assert_allclose(chunked.info.feature_std, whole.info.feature_std, rtol=1e-12)
    train = np.asarray([row.split(",")[:13] for row in path.read_text().splitlines()[1:]], dtype=np.float64)
    rows = {chunked.read(entry).decode().rstrip("\n") for entry in chunked.train_files}  # the training rows
    chosen = np.asarray([line in rows for line in path.read_text().splitlines()[1:]])
    assert chosen.sum() == len(chunked.y_train) == 142
    np.testing.assert_allclose(chunked.info.feature_mean, train[chosen].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(chunked.info.feature_std, train[chosen].std(axis=0), rtol=1e-12)


def test_the_first_bad_line_is_named_even_when_a_later_one_in_its_chunk_is_bad_too(
        wine_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo_plugins.datasets import _csv_rows

    monkeypatch.setattr(_csv_rows, "CHUNK", 50)
    lines = wine_csv.read_text().splitlines()
    lines[120] = "abc," + lines[120].split(",", 1)[1]  # line 121: a word where a number goes
    lines[130] = lines[130] + ",extra"  # line 131, same chunk: one value too many
    wine_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 121, column 'alcohol': 'abc' is not a number"):
        csv_dataset(str(wine_csv))
    lines[120] = "1e39," + lines[120].split(",", 1)[1]
    wine_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 121, column 'alcohol': '1e39' is too large"):
        csv_dataset(str(wine_csv))


def test_the_fingerprint_follows_the_values_and_a_table_changed_mid_run_is_named(wine_csv: Path) -> None:
    from zoo_core.training.prepare import fingerprint

    before = fingerprint(csv_dataset(str(wine_csv)))
    assert fingerprint(csv_dataset(str(wine_csv))) == before
    text = wine_csv.read_text()
    wine_csv.write_text(text.replace("14.23,", "14.24,", 1))  # one digit of one value: the same offsets
    dataset = csv_dataset(str(wine_csv))
    after = fingerprint(dataset)
    assert after != before and list(after) == list(before)
    wine_csv.write_text("alcohol\n")  # the table emptied while a run reads it
    with pytest.raises(DataError, match="wine.csv' changed while zoo read it") as caught:
        np.asarray(dataset.x_train[:3])
    assert "start the run again" in caught.value.hint


def test_cache_auto_keeps_a_small_table_in_memory_and_streams_a_large_one(wine_csv: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo_plugins.datasets import csv as csv_module

    small = csv_dataset(str(wine_csv))
    assert small.cache == "memory" and small.info.extra["cache"] == "memory"
    monkeypatch.setattr(csv_module, "AUTO_MEMORY", 142 * 13 * 4 - 1)  # one byte less than the training rows
    large = csv_dataset(str(wine_csv))
    assert large.cache == "none" and large.info.extra["cache"] == "none"
    assert csv_dataset(str(wine_csv), cache="disk").cache == "disk"


@pytest.mark.slow
def test_a_streamed_table_trains_to_the_figures_of_one_held_in_memory(tmp_path: Path, wine_csv: Path) -> None:
    figures = {}
    for cache in ("none", "memory"):
        result = run_cli("train", "-d", "csv", "-a", "mlp", "--set", f"dataset.path={wine_csv}", "--set",
                         f"dataset.cache={cache}", "--set", "epochs=6", "--set", "batch_size=16", "--set",
                         "optimizer.learning_rate=0.01", "--set",
                         "exporters=[]", "--set", "architecture.hidden=[16]", "--runs-dir", str(tmp_path / cache),
                         "--quiet")
        assert result.exit_code == 0, result.output
        (run,) = (tmp_path / cache).iterdir()
        manifest = json.loads((run / "manifest.json").read_text())
        figures[cache] = (json.loads((run / "metrics.json").read_text()), manifest)
    (streamed, manifest), (held, held_manifest) = figures["none"], figures["memory"]
    assert streamed["accuracy"] == held["accuracy"] >= 0.8
    assert streamed["loss"] == pytest.approx(held["loss"], rel=1e-5)
    assert manifest["data_fingerprint"] == held_manifest["data_fingerprint"]
    assert manifest["input_pipeline"]["streaming"] is True and manifest["input_pipeline"]["batches"] == 6 * 8
    assert held_manifest["input_pipeline"]["streaming"] is False  # trained as arrays, in the graph


# --------------------------------------------------------------------------- a user's own registry.toml


REGISTRY = """
[datasets.wine]
component = "csv"
path = "wine.csv"
label = "cultivar"

[runs.wine-mlp]
dataset = "wine"
architecture = { component = "mlp", hidden = [32], dropout = 0.0 }
optimizer = { component = "adam", learning_rate = 0.01 }
loss = "sparse-categorical-crossentropy"
exporters = ["tflite"]
epochs = 30
batch_size = 16
"""


@pytest.mark.slow
def test_zoo_run_from_a_users_registry_and_predict_on_a_csv(tmp_path: Path, wine_csv: Path,
                                                            monkeypatch: pytest.MonkeyPatch, wine: tuple) -> None:
    x, y, names = wine
    (tmp_path / "registry.toml").write_text(REGISTRY)
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", "wine-mlp", "--quiet")
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["data_source"] == "wine.csv"
    assert manifest["dataset"]["feature_std"] and manifest["dataset"]["feature_names"] == names
    assert json.loads((run / "metrics.json").read_text())["accuracy"] >= 0.9
    raw = tmp_path / "new wines.csv"
    write_table(raw, x[::30], y[::30], names)  # raw features and the label column: drop the label
    lines = [",".join(line.split(",")[:-1]) for line in raw.read_text().splitlines()]
    raw.write_text("\n".join(lines) + "\n")
    (tflite,) = (run / "exports").rglob("*.tflite")
    for model in (str(run), str(tflite)):
        contract_inputs = load_input(raw, json.loads((run / "manifest.json").read_text())["dataset"])
        assert contract_inputs.shape == (6, 13)
        result = run_cli("predict", model, str(raw), "--json", "--top", "1")
        assert result.exit_code == 0, result.output
        answers = [answer["top"][0]["name"] for answer in json.loads(result.stdout)]
        assert sum(answer == f"class_{label}" for answer, label in zip(answers, y[::30])) >= 5, answers
    result = run_cli("evaluate", str(run))
    assert result.exit_code == 0, result.output


def test_predict_reads_the_features_of_a_table_with_its_label_column(wine_csv: Path, wine: tuple) -> None:
    """``zoo predict`` on a CSV like the training file: the header picks the model's features, the label is ignored."""
    x, _, _ = wine
    contract = csv_dataset(str(wine_csv)).info.to_dict()
    inputs = load_input(wine_csv, contract)
    assert inputs.shape == (178, 13)
    np.testing.assert_allclose(inputs, DatasetInfo.from_dict(contract).normalise(x), atol=1e-5)
    lines = wine_csv.read_text().splitlines()
    wine_csv.write_text("\n".join(lines[:5] + [lines[5] + ",extra"]) + "\n")
    with pytest.raises(DataError, match="line 6 has 15 values; the header has 14 columns"):
        load_input(wine_csv, contract)
