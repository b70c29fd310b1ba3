"""The example plugin package (examples/zoo-digits) end to end.

It is installed with real pip into a temporary folder, and the real ``zoo``
console script runs with that folder on PYTHONPATH: its components appear in
``zoo list``, ``zoo show`` and ``zoo plugins`` under the plugin's name, train,
evaluate and export to TFLite with verification, mix with the built-in
components both ways, and its own exporter works through ``zoo export``.
A loose ``.py`` plugin file in a ``--plugins-dir`` folder is used by
``zoo train`` too. The trainings run concurrently, as separate processes.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import subprocess_env
from example_package import COMPONENTS, PLUGIN, install_example

ZOO = Path(sys.executable).with_name("zoo")
TIMEOUT = 600

#: name -> the zoo command line of one training run (each gets its own --runs-dir).
TRAININGS: dict[str, list[str]] = {
    # the brief's run: the plugin's dataset and architecture, built-in optimizer, loss and exporter
    "digits-small-cnn": ["train", "--dataset", "digits", "--architecture", "small-cnn", "--optimizer", "adam",
                         "--loss", "sparse-categorical-crossentropy", "--exporter", "tflite", "--set", "epochs=2"],
    # a built-in dataset on the plugin's architecture and optimizer, exported by a built-in exporter
    "mnist-small-cnn": ["train", "--dataset", "mnist", "--architecture", "small-cnn", "--optimizer", "lion",
                        "--loss", "sparse-categorical-crossentropy", "--exporter", "savedmodel",
                        "--set", "epochs=1", "--set", "max_train_samples=2000", "--set", "max_test_samples=500",
                        "--set", "optimizer.learning_rate=0.001"],
}

LOOSE_PLUGIN = '''
    """A loose plugin file: SGD with Nesterov momentum, for a quick experiment."""

    from typing import Any

    from zoo_core import Component, hookimpl


    def nesterov(learning_rate: float = 0.05, momentum: float = 0.9) -> Any:
        """SGD with Nesterov momentum, from a loose file.

        Args:
            learning_rate: step size.
            momentum: momentum factor in [0, 1).
        """
        import keras

        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum, nesterov=True)


    @hookimpl
    def register_optimizers() -> list[Component]:
        return [Component("loose-nesterov", nesterov)]
'''


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_example(tmp_path_factory)


def zoo(*args: str, cwd: Path, site: Path | None, **env: str) -> subprocess.CompletedProcess[str]:
    """The real ``zoo`` console script, with the example installed (``site``) or not."""
    return subprocess.run([str(ZOO), *args], cwd=cwd, env=subprocess_env([site] if site else [], **env),
                          capture_output=True, text=True, timeout=TIMEOUT)


def only_run(root: Path) -> Path:
    """The one run directory under a runs root."""
    [run] = [path for path in root.iterdir() if path.is_dir()]
    return run


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def digits_test_split() -> tuple[Any, Any]:
    """The digits dataset's test split at its default parameters, rebuilt here with scikit-learn.

    Raw pixel values 0..16 (uint8), as a user has them; the dataset scales them by 1/16.
    """
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    _, x_test, _, y_test = train_test_split(bunch.images.astype(np.uint8), bunch.target, test_size=0.2,
                                            stratify=bunch.target, random_state=0)
    return x_test, y_test


def tflite_answers(path: Path, x: Any) -> Any:
    """The class probabilities of a float .tflite file for model-scaled ``x``, run here with ai_edge_litert."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    given, answer = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(given["index"], [len(x), *x.shape[1:]])
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], x.astype("float32"))
    interpreter.invoke()
    return interpreter.get_tensor(answer["index"])


def component_record(manifest: dict, kind: str) -> dict:
    [record] = [c for c in manifest["components"] if c["kind"] == kind]
    return record


# -- introspection: no TensorFlow, fast ---------------------------------------------------


def test_zoo_list_shows_the_plugin_s_components_with_its_name(example_site: Path, tmp_path: Path) -> None:
    listed = zoo("list", "--json", cwd=tmp_path, site=example_site)
    assert listed.returncode == 0, listed.stderr
    rows = {(row["kind"], row["name"]): row for row in json.loads(listed.stdout) if row["type"] == "component"}
    for kind, name in COMPONENTS:
        assert rows[(kind, name)]["plugin"] == PLUGIN
        assert rows[(kind, name)]["qualified_name"] == f"{PLUGIN}:{name}"
    assert rows[("dataset", "mnist")]["plugin"] == "mnist"  # the built-ins are still there
    text = zoo("list", cwd=tmp_path, site=example_site)
    assert text.returncode == 0 and text.stderr == ""
    for kind, name in COMPONENTS:
        line = next(line for line in text.stdout.splitlines() if line.startswith(name + " "))
        assert line.rstrip().endswith(PLUGIN), line


def test_zoo_show_describes_the_plugin_s_components(example_site: Path, tmp_path: Path) -> None:
    shown = zoo("show", "digits", cwd=tmp_path, site=example_site)
    assert shown.returncode == 0, shown.stderr
    assert "plugin: zoo-digits (zoo-digits 0.1.0)" in shown.stdout
    assert "test_fraction" in shown.stdout and "stratified" in shown.stdout
    data = json.loads(zoo("show", "small-cnn", "--json", cwd=tmp_path, site=example_site).stdout)
    assert data["factory"] == "zoo_digits.models:small_cnn"
    parameters = {p["name"]: p for p in data["parameters"]}
    assert list(parameters) == ["filters", "kernel_size", "dense", "dropout"]
    assert (parameters["filters"]["type"], parameters["filters"]["default"]) == ("list[int]", [16, 32])
    assert parameters["dropout"]["help"].startswith("dropout rate")


def test_zoo_plugins_reports_the_distribution_and_its_hooks(example_site: Path, tmp_path: Path) -> None:
    records = {r["name"]: r for r in json.loads(zoo("plugins", "--json", cwd=tmp_path, site=example_site).stdout)}
    record = records[PLUGIN]
    assert (record["distribution"], record["version"], record["status"], record["builtin"]) == (
        "zoo-digits", "0.1.0", "loaded", False)
    assert record["hooks"] == ["register_datasets", "register_architectures", "register_optimizers",
                               "register_exporters"]
    assert sorted((c["kind"], c["name"]) for c in record["components"]) == sorted(COMPONENTS)


def test_the_plugin_s_parameters_are_checked_before_any_work(example_site: Path, tmp_path: Path) -> None:
    typo = zoo("train", "--dataset", "digits", "--architecture", "small-cnn", "--set", "architecture.filterz=[8]",
               cwd=tmp_path, site=example_site)
    assert typo.returncode == 2
    assert "has no parameter 'filterz'" in typo.stderr and "did you mean 'filters'" in typo.stderr
    wrong = zoo("train", "--dataset", "digits", "--architecture", "mlp", "--set", "dataset.test_fraction=high",
                cwd=tmp_path, site=example_site)
    assert wrong.returncode == 2 and "test_fraction" in wrong.stderr and "must be a number" in wrong.stderr
    assert not (tmp_path / "runs").exists()  # refused before a run directory was made


def test_without_the_package_its_names_are_unknown(tmp_path: Path) -> None:
    missing = zoo("train", "--dataset", "digits", "--architecture", "small-cnn", cwd=tmp_path, site=None)
    assert missing.returncode == 2 and "unknown dataset 'digits'" in missing.stderr


# -- training runs (concurrent processes) ------------------------------------------------


@pytest.fixture(scope="module")
def trainings(example_site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Start every training of TRAININGS plus the --plugins-dir one at once (separate processes); wait for all.

    Returns name -> {"returncode", "stdout", "stderr", "root" (its runs root)}.
    """
    base = tmp_path_factory.mktemp("trainings")
    plugins = base / "loose-plugins"
    plugins.mkdir()
    (plugins / "my_optimizers.py").write_text(textwrap.dedent(LOOSE_PLUGIN), encoding="utf-8")
    commands = {name: ([*args, "--runs-dir", str(base / name)], example_site) for name, args in TRAININGS.items()}
    # the plugin's dataset on a built-in architecture, trained by an optimizer from a loose plugin file
    commands["digits-mlp-plugins-dir"] = (["--plugins-dir", str(plugins), "train", "--dataset", "digits",
                                           "--architecture", "mlp", "--optimizer", "loose-nesterov",
                                           "--set", "epochs=5", "--runs-dir", str(base / "digits-mlp-plugins-dir")],
                                          example_site)
    jobs = {name: subprocess.Popen([str(ZOO), *args], cwd=base, env=subprocess_env([site] if site else []),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name, (args, site) in commands.items()}
    results = {}
    for name, job in jobs.items():
        stdout, stderr = job.communicate(timeout=TIMEOUT)
        results[name] = {"returncode": job.returncode, "stdout": stdout, "stderr": stderr, "root": base / name}
    return results


def finished_run(trainings: dict[str, dict[str, Any]], name: str) -> Path:
    """The run directory of a training that must have succeeded."""
    result = trainings[name]
    assert result["returncode"] == 0, f"zoo {name} failed:\n{result['stdout']}\n{result['stderr'][-3000:]}"
    run = only_run(result["root"])
    assert read_json(run / "manifest.json")["status"] == "completed"
    return run


@pytest.mark.slow
def test_the_plugin_s_dataset_and_architecture_train_evaluate_and_export_to_tflite(
        trainings: dict[str, dict[str, Any]]) -> None:
    run = finished_run(trainings, "digits-small-cnn")
    manifest = read_json(run / "manifest.json")
    for kind, plugin in (("dataset", PLUGIN), ("architecture", PLUGIN), ("optimizer", "keras-optimizers"),
                         ("loss", "keras-losses")):
        record = component_record(manifest, kind)
        assert record["plugin"] == plugin
    assert (component_record(manifest, "dataset")["distribution"], component_record(manifest, "dataset")["version"]) \
        == ("zoo-digits", "0.1.0")
    assert manifest["plugins"]["zoo-digits"] == "0.1.0"
    # the dataset's facts, not MNIST's, flow through the run
    info = manifest["dataset"]
    assert (info["name"], info["input_shape"], info["num_classes"]) == ("digits", [8, 8], 10)
    assert (info["raw_value_range"], info["scale"]) == ([0.0, 16.0], 1 / 16)
    assert manifest["samples"] == {"train": 1437, "test": 360}
    # trained and evaluated
    with open(run / "history.csv", newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 2
    metrics = read_json(run / "metrics.json")
    assert metrics["samples"] == 360 and metrics["accuracy"] > 0.5
    assert [row["name"] for row in metrics["per_class"]] == [str(d) for d in range(10)]
    assert len(metrics["confusion_matrix"]) == 10
    assert (run / "model.keras").is_file() and (run / "report.md").is_file()
    assert {"samples", "curves", "confusion_matrix", "predictions"} <= set(manifest["plots"])
    assert all((run / "plots" / f"{plot}.png").is_file() for plot in manifest["plots"])
    # exported to TFLite and verified with the real runtime
    [export] = manifest["exports"]
    assert (export["format"], export["variant"], export["status"]) == ("tflite", "float32", "ok")
    assert Path(export["path"]).is_file() and Path(export["path"]).with_suffix(".json").is_file()
    assert export["figures"]["samples"] == 360
    # the .tflite, run here on the test split, classifies as the run's Keras model did (metrics.json)
    x_test, y_test = digits_test_split()
    accuracy = float((tflite_answers(Path(export["path"]), x_test / 16.0).argmax(1) == y_test).mean())
    assert len(y_test) == 360 and accuracy == pytest.approx(metrics["accuracy"], abs=1 / 360)
    assert export["figures"]["accuracy"] == accuracy
    config = (run / "config.toml").read_text(encoding="utf-8")
    assert 'component = "zoo-digits:digits"' in config and 'component = "zoo-digits:small-cnn"' in config


@pytest.mark.slow
def test_the_plugin_s_dataset_trains_on_a_builtin_architecture_with_a_loose_plugin_file(
        trainings: dict[str, dict[str, Any]]) -> None:
    run = finished_run(trainings, "digits-mlp-plugins-dir")
    manifest = read_json(run / "manifest.json")
    assert component_record(manifest, "dataset")["plugin"] == PLUGIN
    assert component_record(manifest, "architecture")["plugin"] == "mlp"
    optimizer = component_record(manifest, "optimizer")
    assert (optimizer["name"], optimizer["plugin"], optimizer["distribution"]) == (
        "loose-nesterov", "my_optimizers", "(plugins dir)")
    assert optimizer["params"] == {"learning_rate": 0.05, "momentum": 0.9}
    assert read_json(run / "metrics.json")["accuracy"] > 0.8


@pytest.mark.slow
def test_a_builtin_dataset_trains_on_the_plugin_s_architecture_and_optimizer(
        trainings: dict[str, dict[str, Any]]) -> None:
    run = finished_run(trainings, "mnist-small-cnn")
    manifest = read_json(run / "manifest.json")
    assert component_record(manifest, "dataset")["plugin"] == "mnist"
    assert component_record(manifest, "architecture")["plugin"] == PLUGIN
    optimizer = component_record(manifest, "optimizer")
    assert (optimizer["name"], optimizer["plugin"], optimizer["params"]["learning_rate"]) == ("lion", PLUGIN, 0.001)
    assert read_json(run / "metrics.json")["accuracy"] > 0.5
    [export] = manifest["exports"]
    assert (export["format"], export["status"]) == ("savedmodel", "ok")


@pytest.mark.slow
def test_the_plugin_s_exporter_exports_a_finished_run(trainings: dict[str, dict[str, Any]], example_site: Path,
                                                      tmp_path: Path) -> None:
    run = finished_run(trainings, "digits-small-cnn")
    exported = zoo("export", str(run), "--format", "keras-file", "--json", cwd=tmp_path, site=example_site)
    assert exported.returncode == 0, exported.stderr[-3000:]
    [result] = json.loads(exported.stdout)
    assert (result["format"], result["status"]) == ("keras", "ok")
    path = Path(result["path"])
    assert path == run / "exports" / "adhoc.keras" and path.is_file()
    assert result["figures"]["samples"] == 360
    sidecar = read_json(path.with_suffix(".json"))
    assert sidecar["class_names"] == [str(d) for d in range(10)] and sidecar["sha256"] == result["sha256"]
    assert sidecar["input"]["input_shape"] == [8, 8]
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith(".")]
    formats = [e["format"] for e in read_json(run / "manifest.json")["exports"]]
    assert formats == ["tflite", "keras"]
    # the exported .keras file answers exactly as the run's model.keras (both loaded here)
    import keras
    import numpy as np

    x_test, y_test = digits_test_split()
    scaled = (x_test / 16.0).astype(np.float32)
    exported_model = keras.models.load_model(path, safe_mode=True)
    run_model = keras.models.load_model(run / "model.keras", safe_mode=True)
    np.testing.assert_array_equal(exported_model.predict(scaled, verbose=0), run_model.predict(scaled, verbose=0))
    # zoo predict on raw digits (0..16, as a user has them) gives the .tflite's own answers on scaled ones
    raw = x_test
    np.save(tmp_path / "raw.npy", raw)
    tflite = next((run / "exports").glob("*.tflite"))
    predicted = zoo("predict", str(tflite), str(tmp_path / "raw.npy"), "--json", cwd=tmp_path, site=None)
    assert predicted.returncode == 0, predicted.stderr
    answers = [int(a["top"][0]["name"]) for a in json.loads(predicted.stdout)]
    expected = tflite_answers(tflite, raw / 16.0).argmax(1)
    assert answers == expected.tolist()
    accuracy = read_json(run / "metrics.json")["accuracy"]  # and they are the run's answers
    assert float(np.mean(np.array(answers) == y_test)) == pytest.approx(accuracy, abs=1 / 360)


@pytest.mark.slow
def test_zoo_predict_maps_a_png_s_pixels_onto_the_digits_raw_range(trainings: dict[str, dict[str, Any]],
                                                                   tmp_path: Path) -> None:
    """PNGs of test digits (pixel = raw * 255 / 16) answer as their raw values 0..16 do, not as 16x brighter ones."""
    import numpy as np
    from PIL import Image

    run = finished_run(trainings, "digits-small-cnn")
    tflite = next((run / "exports").glob("*.tflite"))
    x_test, _ = digits_test_split()
    count = 40
    pngs = [tmp_path / f"digit-{index}.png" for index in range(count)]
    for raw, png in zip(x_test, pngs):
        Image.fromarray(np.rint(raw.astype(np.float64) * 255 / 16).astype(np.uint8)).save(png)  # raw is uint8
    predicted = zoo("predict", str(tflite), *map(str, pngs), "--json", "--top", "10", cwd=tmp_path, site=None)
    assert predicted.returncode == 0, predicted.stderr
    probabilities = np.zeros((count, 10))
    for row, answer in enumerate(json.loads(predicted.stdout)):
        for item in answer["top"]:
            probabilities[row, item["index"]] = item["probability"]
    expected = tflite_answers(tflite, x_test[:count] / 16.0)  # pixels within half a level of the raw values
    assert np.abs(probabilities - expected).max() < 0.05
    assert (probabilities.argmax(1) == expected.argmax(1)).mean() >= 0.95
