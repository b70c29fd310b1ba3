"""The onnx exporter and .onnx files in zoo predict: verified exports with zoo's metadata inside, the same
bytes twice, the Keras model's answers in a process that has only onnxruntime and numpy, and, without the
onnx extra, the pip command before any work.

A tiny MLP and a tiny CNN are trained once for the module (on 2,000 MNIST images); one tiny mnist-mlp run
goes through the CLI (zoo run with the onnx exporter, zoo export, zoo predict). The three bigger
convolutional nets are exported to ONNX in tests/test_architectures.py, the bench rows are in
tests/test_bench.py.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from test_exporters import MNIST, fake_context, rolled_keras_probabilities, small_mnist, tiny_model
from zoo_core.data import Dataset
from zoo_core.errors import ConfigError, DataError, ExportError
from zoo_core.export import ExportContext, keras_probabilities, sha256_of

pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")

pytestmark = pytest.mark.slow

TINY_RUN = ["--set", "max_train_samples=1000", "--set", "max_test_samples=300", "--set", "epochs=1",
            "--set", "architecture.hidden=[32]", "--set", 'exporters=["onnx", "tflite"]', "--quiet"]
INSTALL = "pip install 'zoo[onnx]'"


def tiny_cnn(dataset: Dataset) -> Any:
    """zoo's cnn with one block of 8 filters, trained 2 epochs (a few seconds)."""
    import keras

    from zoo_plugins.architectures.cnn import cnn

    keras.utils.set_random_seed(0)
    model = cnn(dataset.info.input_shape, 10, filters=[8], dense=32, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy")
    model.fit(dataset.x_train, dataset.y_train, epochs=2, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return small_mnist(train=2000, test=500)


@pytest.fixture(scope="module")
def models(dataset: Dataset) -> dict[str, Any]:
    return {"mlp": tiny_model(dataset), "cnn": tiny_cnn(dataset)}


def context(model: Any, dataset: Dataset, destination: Path, name: str) -> ExportContext:
    return ExportContext(model=model, dataset=dataset, destination=destination, model_name=name,
                         metadata={"run": "run-20260101-000000", "recipe": "test"})


@pytest.fixture(scope="module")
def exported(models: dict[str, Any], dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each model exported once to ONNX (and the MLP to float32 TFLite), into one folder."""
    from zoo_plugins.exporters.onnx import onnx
    from zoo_plugins.exporters.tflite import tflite

    folder = tmp_path_factory.mktemp("exports")
    results = {name: onnx(context(model, dataset, folder, f"tiny-{name}")) for name, model in models.items()}
    results["tflite"] = tflite(context(models["mlp"], dataset, folder, "tiny-mlp"))
    return results


# -- the exporter ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_onnx_export_is_verified_against_keras_with_onnxruntime(exported: dict[str, Any], name: str) -> None:
    result = exported[name]
    assert (result.format, result.variant, result.status) == ("onnx", "float32", "ok")
    path = Path(result.path)
    assert path.name == f"tiny-{name}.onnx" and path.is_file() and path.with_suffix(".json").is_file()
    assert result.size_bytes == path.stat().st_size and result.sha256 == sha256_of(path)
    figures = result.figures
    assert figures["samples"] == 500 and figures["keras_accuracy"] > 0.8, figures
    assert figures["max_abs_diff"] <= 1e-5 and figures["argmax_agreement"] >= 0.999, figures
    assert figures["accuracy"] == pytest.approx(figures["keras_accuracy"], abs=0.002)
    assert figures["latency_us"] > 0 and figures["conversion_seconds"] > 0
    assert result.thresholds == {"max_abs_diff": 1e-5, "min_argmax_agreement": 0.999}
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["sha256"] == result.sha256 and sidecar["verification"]["figures"] == figures


def test_the_file_carries_zoo_s_input_contract_and_a_dynamic_batch(exported: dict[str, Any], dataset: Dataset) -> None:
    import onnx

    from zoo_core.predict import read_onnx_metadata

    path = Path(exported["mlp"].path)
    metadata = read_onnx_metadata(path)
    assert metadata["format"] == "onnx" and metadata["model_name"] == "tiny-mlp" and metadata["run"] == "run-20260101-000000"
    assert metadata["class_names"] == [str(digit) for digit in range(10)]
    assert metadata["input"] == json.loads(json.dumps(dataset.info.to_dict()))  # the same contract as TFLite's
    assert metadata["signature"] == {"input": "image", "output": "probabilities"}
    assert metadata["tensors"]["input"] == {"name": "image", "shape": [-1, 28, 28], "dtype": "float32"}
    assert metadata["tensors"]["output"] == {"name": "probabilities", "shape": [-1, 10], "dtype": "float32"}
    assert metadata["conversion"]["opset"] == 15 and metadata["versions"]["tf2onnx"].startswith("1.")
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [(entry.key) for entry in model.metadata_props] == ["zoo_metadata"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {opset.domain: opset.version for opset in model.opset_import}[""] == 15
    assert {node.domain for node in model.graph.node} <= {"", "ai.onnx.ml"}  # standard ops only


def test_a_second_export_takes_the_next_name_with_the_same_bytes(exported: dict[str, Any], models: dict[str, Any],
                                                                  dataset: Dataset) -> None:
    from zoo_plugins.exporters.onnx import onnx

    first = Path(exported["mlp"].path)
    again = onnx(context(models["mlp"], dataset, first.parent, "tiny-mlp"), verify_samples=50)
    assert Path(again.path).name == "tiny-mlp-2.onnx"
    assert again.sha256 == exported["mlp"].sha256  # reproducible: the same model gives the same file
    assert sha256_of(first) == exported["mlp"].sha256  # the first file is untouched


def test_normalise_undoes_what_changes_from_one_conversion_to_the_next(exported: dict[str, Any]) -> None:
    """tf2onnx's name counter runs on within a process, and its constants' names and initializer order follow
    the hash order of the process: normalised, both give the same bytes."""
    import re

    import onnx

    from zoo_plugins.exporters.onnx import _rename, normalise

    model = onnx.load(exported["cnn"].path)
    assert model.graph.initializer and any(re.search(r"__\d+", init.name) for init in model.graph.initializer)
    other = onnx.ModelProto()
    other.CopyFrom(model)
    counted = {name for name in [*(i.name for i in other.graph.initializer), *(n for node in other.graph.node
                                                                             for n in node.output)]
               if re.fullmatch(r".*__\d+(:\d+)?", name)}
    _rename(other.graph, {name: re.sub(r"__(\d+)", lambda m: f"__{int(m.group(1)) + 100}", name) for name in counted})
    reversed_initializers = [onnx.TensorProto.FromString(t.SerializeToString()) for t in other.graph.initializer][::-1]
    del other.graph.initializer[:]
    other.graph.initializer.extend(reversed_initializers)
    other.graph.doc_string = "converted from b'__inference_serve_1234'"
    assert other.SerializeToString(deterministic=True) != model.SerializeToString(deterministic=True)
    assert normalise(other).SerializeToString(deterministic=True) == model.SerializeToString(deterministic=True)


def test_failed_verification_leaves_nothing(models: dict[str, Any], dataset: Dataset, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo_core.export import verify
    from zoo_plugins.exporters.onnx import onnx

    monkeypatch.setattr(verify, "keras_probabilities", rolled_keras_probabilities)
    destination = tmp_path / "exports"
    with pytest.raises(ExportError) as failure:
        onnx(context(models["mlp"], dataset, destination, "tiny-mlp"), verify_samples=100)
    assert "onnx tiny-mlp.onnx: verification failed" in str(failure.value)
    assert "max_abs_diff" in str(failure.value) and "argmax_agreement" in str(failure.value)
    assert "--set opset=17" in failure.value.hint
    assert not destination.exists()


@pytest.mark.parametrize("params, words", [({"opset": 12}, "opset must be 13 to 18"),
                                           ({"verify_samples": -1}, "verify_samples")])
def test_bad_parameters_are_refused_before_conversion(tmp_path: Path, params: dict[str, Any], words: str) -> None:
    from zoo_plugins.exporters.onnx import onnx

    with pytest.raises(ExportError, match=words):
        onnx(fake_context(tmp_path), **params)  # its model is None: a conversion would crash instead
    assert not (tmp_path / "out").exists()


# -- running .onnx files ---------------------------------------------------------------------------


def test_predict_on_onnx_gives_the_classes_of_tflite_and_keras(exported: dict[str, Any], models: dict[str, Any],
                                                               dataset: Dataset) -> None:
    from zoo_core.predict import ONNXPredictor, load_predictor

    onnx_model, tflite_model = load_predictor(Path(exported["mlp"].path)), load_predictor(Path(exported["tflite"].path))
    assert isinstance(onnx_model, ONNXPredictor) and onnx_model.input_shape == (28, 28)
    assert onnx_model.metadata["class_names"] == tflite_model.metadata["class_names"]
    x = dataset.x_test
    keras = keras_probabilities(models["mlp"], x)
    answers = onnx_model.predict(x)
    assert answers.shape == (500, 10) and np.abs(answers - keras).max() <= 1e-5
    assert (answers.argmax(1) == keras.argmax(1)).all()
    assert (answers.argmax(1) == tflite_model.predict(x).argmax(1)).all()
    assert onnx_model.predict(x[0]).shape == (1, 10)  # one example without its batch axis
    assert onnx_model.predict(x[:0]).shape == (0, 10)
    assert onnx_model.latency_us(x[:1], repeats=5) > 0


def test_zoo_predict_answers_the_same_for_onnx_and_tflite(exported: dict[str, Any], tmp_path: Path) -> None:
    with np.load(MNIST) as data:
        digit, label = data["x_test"][0], int(data["y_test"][0])
    Image.fromarray(digit).save(tmp_path / "digit.png")
    answers = {}
    for name in ("mlp", "tflite"):
        result = run_cli("predict", exported[name].path, str(tmp_path / "digit.png"), "--json", "--top", "3")
        assert result.exit_code == 0, result.output
        answers[name] = json.loads(result.stdout)[0]["top"]
    assert [row["name"] for row in answers["mlp"]] == [row["name"] for row in answers["tflite"]]
    assert answers["mlp"][0]["name"] == str(label)
    for onnx_row, tflite_row in zip(answers["mlp"], answers["tflite"]):
        assert onnx_row["probability"] == pytest.approx(tflite_row["probability"], abs=1e-5)


def test_a_damaged_onnx_file_is_a_clear_error(tmp_path: Path) -> None:
    from zoo_core.predict import load_predictor

    (tmp_path / "broken.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(DataError, match="is not a valid ONNX model"):
        load_predictor(tmp_path / "broken.onnx")
    result = run_cli("predict", str(tmp_path / "broken.onnx"), str(tmp_path / "digit.png"))
    assert result.exit_code == 2 and "is not a valid ONNX model" in result.stderr and "Traceback" not in result.output


CHILD = """
import importlib.abc, json, sys

class Refuse(importlib.abc.MetaPathFinder):
    '''This process has only onnxruntime and numpy: TensorFlow, Keras, the converters and zoo are refused.'''
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"tensorflow", "keras", "tf2onnx", "onnx", "zoo_core", "zoo_plugins", "jax", "torch"}:
            raise ImportError(f"{name} is not in this process")

sys.meta_path.insert(0, Refuse())
import numpy as np
import onnxruntime

results = {}
for name, path in json.loads(sys.argv[1]).items():
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    metadata = json.loads(session.get_modelmeta().custom_metadata_map["zoo_metadata"])
    contract = metadata["input"]
    raw = np.load(sys.argv[2])  # uint8 pixels, as a camera or a file gives them
    x = (raw.astype(np.float32) * contract["scale"] + contract["offset"]).astype(contract["input_dtype"])
    (probabilities,) = session.run([metadata["signature"]["output"]], {metadata["signature"]["input"]: x})
    np.save(sys.argv[3] + name + ".npy", probabilities)
    results[name] = metadata["class_names"]
heavy = sorted(m for m in ("tensorflow", "keras", "tf2onnx", "onnx", "zoo_core") if m in sys.modules)
print(json.dumps({"classes": results, "heavy": heavy}))
"""


def test_an_exported_file_answers_like_keras_in_a_process_with_only_onnxruntime(
        exported: dict[str, Any], models: dict[str, Any], tmp_path: Path) -> None:
    with np.load(MNIST) as data:
        raw = data["x_test"][:200]
    np.save(tmp_path / "raw.npy", raw)
    files = {name: exported[name].path for name in ("mlp", "cnn")}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), json.dumps(files), str(tmp_path / "raw.npy"),
                           str(tmp_path / "answer-")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["heavy"] == []
    for name in files:
        assert answer["classes"][name] == [str(digit) for digit in range(10)]
        probabilities = np.load(tmp_path / f"answer-{name}.npy")
        keras = keras_probabilities(models[name], raw.astype(np.float32) / 255)
        assert probabilities.shape == (200, 10) and np.abs(probabilities - keras).max() <= 1e-5, name
        assert (probabilities.argmax(1) == keras.argmax(1)).all(), name


# -- through the CLI: zoo run, zoo export --------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny mnist-mlp run (1 epoch on 1,000 images) exporting onnx and tflite."""
    runs = tmp_path_factory.mktemp("runs")
    result = run_cli("run", "mnist-mlp", "--runs-dir", str(runs), *TINY_RUN)
    assert result.exit_code == 0, result.output
    (run,) = [path for path in runs.iterdir() if path.is_dir()]
    return run


def test_a_run_exports_onnx_and_records_it(tiny_run: Path) -> None:
    exports = json.loads((tiny_run / "manifest.json").read_text())["exports"]
    onnx_record = next(record for record in exports if record["format"] == "onnx")
    assert onnx_record["status"] == "ok" and onnx_record["figures"]["samples"] == 300
    assert (tiny_run / "exports" / "mnist-mlp.onnx").is_file()
    assert "onnx" in (tiny_run / "report.md").read_text()


def test_zoo_export_adds_an_onnx_file_to_a_finished_run(tiny_run: Path) -> None:
    result = run_cli("export", str(tiny_run), "--format", "onnx", "--set", "opset=17", "--set", "verify_samples=100",
                     "--json")
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["status"] == "ok" and Path(record["path"]).name == "mnist-mlp-2.onnx"
    from zoo_core.predict import read_onnx_metadata

    assert read_onnx_metadata(Path(record["path"]))["conversion"]["opset"] == 17


# -- without the onnx extra --------------------------------------------------------------------------------


@pytest.fixture
def without_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the onnx extra were not installed: the requirement check finds no tf2onnx, onnx or onnxruntime,
    and onnxruntime cannot be imported."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("tf2onnx", "onnx", "onnxruntime") else real(name, *a))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError


def test_without_the_extra_zoo_list_says_what_to_install(without_onnx: None) -> None:
    listed = run_cli("list", "exporters", "--json")
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "onnx")
    assert row["unavailable"] == f"needs tf2onnx, onnx, onnxruntime, which are not installed: {INSTALL}"
    assert "unavailable" not in next(r for r in json.loads(listed.stdout) if r["name"] == "tflite")


def test_without_the_extra_a_run_that_asks_for_onnx_stops_before_any_work(without_onnx: None, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = run_cli("run", "mnist-mlp", "--runs-dir", str(runs), *TINY_RUN)
    assert result.exit_code == 2, result.output
    assert f"exporter 'onnx' needs tf2onnx, onnx, onnxruntime, which are not installed: {INSTALL}" in result.stderr
    assert "Traceback" not in result.output
    assert not runs.exists() or not any(runs.iterdir())  # before any run directory


def test_without_the_extra_zoo_export_and_zoo_predict_say_what_to_install(without_onnx: None, tiny_run: Path,
                                                                         tmp_path: Path) -> None:
    before = sorted(path.name for path in (tiny_run / "exports").iterdir())
    result = run_cli("export", str(tiny_run), "--format", "onnx")
    assert result.exit_code == 2 and INSTALL in result.stderr, result.output
    assert sorted(path.name for path in (tiny_run / "exports").iterdir()) == before
    (tmp_path / "digit.npy").write_bytes(b"")
    result = run_cli("predict", str(tiny_run / "exports" / "mnist-mlp.onnx"), str(tmp_path / "digit.npy"))
    assert result.exit_code == 2 and "needs onnxruntime, which is not installed" in result.stderr
    assert INSTALL in result.stderr and "Traceback" not in result.output
    from zoo_core.predict import load_predictor

    with pytest.raises(ConfigError, match="needs onnxruntime"):
        load_predictor(tiny_run / "exports" / "mnist-mlp.onnx")


def test_without_the_extra_zoo_bench_lists_onnx_as_not_measured_with_the_reason(
        without_onnx: None, builtin_catalog: Any, dataset: Dataset, tmp_path: Path) -> None:
    from zoo_core.bench.artifacts import applicable_exporters
    from zoo_core.registry import load_registry

    chosen, skipped = applicable_exporters(load_registry(builtin_catalog, cwd=tmp_path), dataset, "mnist-mlp")
    assert "onnx" not in [choice.ref for choice in chosen] and "tflite" in [choice.ref for choice in chosen]
    (onnx_row,) = [artifact for artifact in skipped if artifact.exporter == "onnx"]
    assert onnx_row.status == "not applicable" and INSTALL in onnx_row.message
