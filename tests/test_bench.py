"""``zoo bench`` on two tiny mnist-mlp runs (trained once for the module): every format, measured and checked.

The runs are trained on small slices (5,000 training and 1,000 test images,
small hidden layers) with only the float32 TFLite export, so the bench reuses
that one and exports the others (ONNX, SavedModel, float16, dynamic, int8) itself.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from zoo_core.cli import app

pytestmark = pytest.mark.slow

TINY = ["--set", "max_train_samples=5000", "--set", "max_test_samples=1000", "--set", "batch_size=64",
        "--set", 'exporters=["tflite"]', "--quiet"]
FORMATS = ["keras", "onnx", "savedmodel", "tflite", "tflite-float16", "tflite-dynamic", "tflite-int8"]
HIDDEN = {"a": 32, "b": 24}
EPOCHS = {"a": 2, "b": 3}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def zoo(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def runs(runs_dir: Path) -> dict[str, Path]:
    """Two completed mnist-mlp runs, 'a' (hidden 32, 2 epochs) and 'b' (hidden 24, 3 epochs)."""
    made = {}
    for name in ("a", "b"):
        before = set(runs_dir.iterdir())
        result = zoo("run", "mnist-mlp", "--runs-dir", str(runs_dir), *TINY, "--set", f"epochs={EPOCHS[name]}",
                     "--set", f"architecture.hidden=[{HIDDEN[name]}]", "--set", "optimizer.learning_rate=0.003")
        assert result.exit_code == 0, result.output
        (made[name],) = set(runs_dir.iterdir()) - before
    return made


@pytest.fixture(scope="module")
def benched(runs: dict[str, Path], runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "out"
    result = zoo("bench", runs["a"].name, str(runs["b"]), "--runs-dir", str(runs_dir), "--out", str(out),
                 "--repeat", "20")
    rows = json.loads((out / "bench.json").read_text())["rows"] if (out / "bench.json").exists() else []
    return {"result": result, "out": out, "rows": rows}


def rows_of(benched: dict, run: Path) -> dict[str, dict]:
    return {row["format"]: row for row in benched["rows"] if row["run_id"] == run.name}


def test_bench_measures_every_format_of_both_runs(benched: dict, runs: dict[str, Path]) -> None:
    assert benched["result"].exit_code == 0, benched["result"].output
    for run in runs.values():
        assert list(rows_of(benched, run)) == FORMATS
    assert all(row["status"] == "ok" for row in benched["rows"])


def test_each_format_is_as_accurate_as_keras_within_its_verification_thresholds(benched: dict,
                                                                                runs: dict[str, Path]) -> None:
    for run in runs.values():
        rows = rows_of(benched, run)
        keras_accuracy = json.loads((run / "metrics.json").read_text())["accuracy"]
        assert rows["keras"]["accuracy"] == pytest.approx(keras_accuracy, abs=1e-9)
        assert rows["keras"]["check"] == "reference"
        for name in FORMATS[1:]:
            row = rows[name]
            assert row["check"] == "ok", row
            limits = row["thresholds"]
            assert limits, f"{name}: no thresholds recorded"
            assert row["argmax_agreement"] >= limits.get("min_argmax_agreement", 0.0)
            assert row["max_abs_diff"] <= limits.get("max_abs_diff", 1.0)
            assert keras_accuracy - row["accuracy"] <= limits.get("max_accuracy_drop", 1.0) + 1e-12
            assert row["delta_vs_keras"] == pytest.approx(row["accuracy"] - keras_accuracy)
        assert abs(rows["tflite"]["delta_vs_keras"]) < 1e-9  # float32: the same answers
        assert abs(rows["onnx"]["delta_vs_keras"]) < 1e-9 and rows["onnx"]["max_abs_diff"] <= 1e-5


def test_latency_throughput_and_size_are_measured(benched: dict, runs: dict[str, Path]) -> None:
    for row in benched["rows"]:
        assert row["latency_us"] > 0 and row["images_per_second"] > 0 and row["size_bytes"] > 0, row
    rows = rows_of(benched, runs["a"])
    assert rows["tflite-int8"]["size_bytes"] < rows["tflite"]["size_bytes"] / 2  # int8 weights: a quarter of float32's


def test_params_and_macs_are_the_model_s(benched: dict, runs: dict[str, Path]) -> None:
    import keras

    for name, run in runs.items():
        model = keras.models.load_model(run / "model.keras")
        hidden = HIDDEN[name]
        for row in rows_of(benched, run).values():
            assert row["params"] == model.count_params()
            assert row["macs"] == 784 * hidden + hidden * 10


def test_the_run_s_own_export_is_reused_and_the_new_ones_are_recorded(benched: dict, runs: dict[str, Path]) -> None:
    for run in runs.values():
        rows = rows_of(benched, run)
        assert rows["tflite"]["reused"] is True  # the run exported float32 TFLite itself
        assert [rows[name]["reused"] for name in ("savedmodel", "tflite-float16", "tflite-dynamic", "tflite-int8")] \
            == [False] * 4
        manifest = json.loads((run / "manifest.json").read_text())
        variants = {(e["format"], e["variant"]) for e in manifest["exports"] if e["status"] == "ok"}
        assert {("savedmodel", "float32"), ("tflite", "float32"), ("tflite", "float16"), ("tflite", "dynamic"),
                ("tflite", "int8")} <= variants
        for row in rows.values():
            assert Path(row["path"]).resolve().is_relative_to(run.resolve())


def test_a_second_bench_reuses_every_export(benched: dict, runs: dict[str, Path], runs_dir: Path,
                                            tmp_path: Path) -> None:
    exports_before = sorted(p.name for p in (runs["b"] / "exports").iterdir())
    result = zoo("bench", runs["b"].name, "--runs-dir", str(runs_dir), "--out", str(tmp_path), "--repeat", "5",
                 "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]  # --json: stdout is bench.json
    assert json.loads((tmp_path / "bench.json").read_text())["rows"] == rows
    assert [row["reused"] for row in rows if row["format"] != "keras"] == [True] * 6
    assert sorted(p.name for p in (runs["b"] / "exports").iterdir()) == exports_before


def test_csv_json_markdown_and_png_are_written(benched: dict) -> None:
    out = benched["out"]
    with open(out / "bench.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 14 and {"model", "format", "accuracy", "latency_us", "images_per_second", "params",
                                 "macs", "size_bytes", "delta_vs_keras", "check"} <= set(table[0])
    data = json.loads((out / "bench.json").read_text())
    assert data["latency_repeats"] == 20 and data["machine"]["cpus"] >= 1 and len(data["rows"]) == 14
    assert data["machine"]["onnxruntime"].split(".")[0].isdigit()  # the runtime of the onnx rows
    markdown = (out / "bench.md").read_text()
    assert "| model | format | accuracy | Δ vs keras |" in markdown and markdown.count("tflite-int8") == 2
    assert "![accuracy against latency and size](bench.png)" in markdown
    png = out / "bench.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(png) as image:
        assert image.size[0] >= 1000 and image.size[1] >= 400
        colours = image.convert("RGB").getcolors(1 << 20)
    counts = {colour: n for n, colour in colours}
    assert counts.get((31, 119, 180), 0) > 30 and counts.get((255, 127, 14), 0) > 30  # both models' colours
    assert [p.name for p in out.iterdir() if ".tmp" in p.name] == []


def test_the_table_is_printed_unwrapped_and_says_where_the_files_are(benched: dict) -> None:
    output = benched["result"].stdout
    header = next(line for line in output.splitlines() if line.startswith("model"))
    assert "MACs" in header and "batch 1,000" in header
    int8_lines = [line for line in output.splitlines() if "tflite-int8" in line]
    assert len(int8_lines) == 2 and all(" ok " in line and "/s" in line for line in int8_lines)
    assert f"written to {benched['out']}" in output


@pytest.mark.parametrize("args, message", [
    ([], "nothing to bench"),
    (["mnist-ml"], "did you mean 'mnist-mlp'"),
    (["no-such-run"], "no run 'no-such-run'"),
    (["--repeat", "0", "mnist-mlp"], "--repeat must be 1 or more"),
    (["--set", "epochs=1", "mnist-mlp"], "--train-missing"),
])
def test_bad_input_is_a_clear_error(args: list[str], message: str, runs: dict[str, Path], runs_dir: Path) -> None:
    result = zoo("bench", *args, "--runs-dir", str(runs_dir))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_a_run_that_is_not_finished_is_refused(runs: dict[str, Path], runs_dir: Path) -> None:
    stopped = runs_dir / "mnist-mlp-20000101-000000-stoppd"
    stopped.mkdir()
    try:
        manifest = json.loads((runs["b"] / "manifest.json").read_text())
        (stopped / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
        result = zoo("bench", stopped.name, "--runs-dir", str(runs_dir))
    finally:
        for path in stopped.iterdir():
            path.unlink()
        stopped.rmdir()
    assert result.exit_code == 2
    assert "is not finished (status: interrupted)" in result.stderr and "zoo resume" in result.stderr


def test_a_recipe_without_a_completed_run_needs_train_missing(tmp_path: Path) -> None:
    result = zoo("bench", "mnist-mlp", "--runs-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "recipe 'mnist-mlp' has no completed run" in result.stderr and "--train-missing" in result.stderr


def test_out_that_is_a_file_is_refused_before_any_work(runs: dict[str, Path], runs_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("not a folder")
    result = zoo("bench", runs["a"].name, "--runs-dir", str(runs_dir), "--out", str(target))
    assert result.exit_code == 2 and "is a file" in result.stderr


def test_train_missing_trains_the_recipe_then_benches_it(tmp_path: Path) -> None:
    root, out = tmp_path / "runs", tmp_path / "out"
    result = zoo("bench", "mnist-mlp", "--train-missing", "--runs-dir", str(root), "--out", str(out),
                 "--repeat", "5", *TINY[:-1], "--set", "epochs=1", "--set", "architecture.hidden=[32]",
                 "--set", "optimizer.learning_rate=0.003")
    assert result.exit_code == 0, result.output
    (run,) = [p for p in root.iterdir() if p.name.startswith("mnist-mlp-")]
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"
    assert "trained mnist-mlp" in result.stderr
    rows = json.loads((out / "bench.json").read_text())["rows"]
    assert [row["format"] for row in rows] == FORMATS and all(row["check"] in ("ok", "reference") for row in rows)


def test_an_artifact_that_misses_its_exporter_s_promise_is_flagged(runs: dict[str, Path], runs_dir: Path,
                                                                  benched: dict, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_core.bench.suite as suite

    def strict(figures: dict, thresholds: dict) -> list[str]:
        return ["argmax_agreement = 0.5, needs >= 0.99"] if thresholds.get("max_accuracy_drop") else []

    monkeypatch.setattr(suite, "check", strict)  # as if the dynamic and int8 files answered differently now
    result = zoo("bench", runs["b"].name, "--runs-dir", str(runs_dir), "--out", str(tmp_path), "--repeat", "5")
    assert result.exit_code == 1
    flagged = [line.split()[1] for line in result.stdout.splitlines() if "MISMATCH" in line]
    assert flagged == ["tflite-dynamic", "tflite-int8"]
    assert "accuracy does not match the Keras model" in result.stderr
    rows = json.loads((tmp_path / "bench.json").read_text())["rows"]  # written all the same
    assert [row["check"] for row in rows] == ["reference", "ok", "ok", "ok", "ok", "mismatch", "mismatch"]
    assert "Problems:" in (tmp_path / "bench.md").read_text()


NPZ_PLUGIN = '''
"""A loose plugin file: an exporter of the model's weights as .npz, a format zoo has no runtime for."""

from typing import Any

from zoo_core import Component, hookimpl


def npz_weights(context: Any) -> Any:
    """The weights as one .npz file (not verified: a test stub)."""
    import numpy as np

    from zoo_core.export import ExportResult, sha256_of, staged

    with staged(context.destination, f"{context.model_name}-weights", ".npz", exporter="npz-weights") as stage:
        with open(stage.path, "wb") as handle:
            np.savez(handle, *context.model.get_weights())
    return ExportResult(format="npz-weights", variant="float32", path=str(stage.final),
                        size_bytes=stage.final.stat().st_size, sha256=sha256_of(stage.final))


@hookimpl
def register_exporters() -> list[Component]:
    return [Component("npz-weights", npz_weights)]
'''


def test_exporters_that_refuse_the_run_or_make_what_zoo_cannot_run_are_listed_not_measured(
        runs: dict[str, Path], runs_dir: Path, benched: dict, tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "npz_weights.py").write_text(NPZ_PLUGIN, encoding="utf-8")
    (tmp_path / "registry.toml").write_text('[exporters.tflite-int8-uncalibrated]\ncomponent = "tflite"\n'
                                            'quantize = "int8"\ncalibration_samples = 0\n', encoding="utf-8")
    result = zoo("--plugins-dir", str(tmp_path / "plugins"), "--registry", str(tmp_path / "registry.toml"),
                 "bench", runs["b"].name, "--runs-dir", str(runs_dir), "--out", str(tmp_path / "out"), "--repeat", "5")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert [row["format"] for row in data["rows"]] == FORMATS
    reasons = {row["exporter"]: row["reason"] for row in data["not_measured"]}
    assert "calibration_samples must be at least 1" in reasons["tflite-int8-uncalibrated"]
    assert "zoo cannot run its artifact 'mnist-mlp-weights.npz'" in reasons["npz-weights"]
    assert "not measured: mnist-mlp npz-weights" in result.stdout
    assert "Not measured:" in (tmp_path / "out" / "bench.md").read_text()
