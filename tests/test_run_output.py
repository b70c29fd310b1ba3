"""What the run commands print and record: exporter parameter mistakes (exit 2, before any work),
completed runs with problems in 'zoo runs', the exports table, --quiet, TensorFlow's log lines, .lock."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli, subprocess_env, zoo_executable
from zoo_core.cli.app import UNFOLDED_WIDTH, out
from zoo_core.cli.render import render_exports
from zoo_core.components import Component
from zoo_core.errors import ConfigError, ExportError, ZooError
from zoo_core.export import ExportResult
from zoo_core.registry import ComponentChoice
from zoo_core.training import native_logs
from zoo_core.training.parameter_checks import check_exporters

TINY = ["--set", "max_train_samples=600", "--set", "max_test_samples=200", "--set", "epochs=2",
        "--set", "exporters=[]"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small completed run (no exports), trained with --quiet."""
    root = tmp_path_factory.mktemp("runs")
    result = run_cli("run", "mnist-mlp", "--runs-dir", str(root), *TINY, "--quiet")
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.stdout and "epoch 1/2" not in result.stdout + result.stderr  # result, no progress
    (run_dir,) = [path for path in root.iterdir() if path.is_dir()]
    return run_dir


def one_line(text: str) -> str:
    return " ".join(text.split())


# -- 6b: exporter parameters are checked before any work ----------------------------------------


@pytest.mark.slow
def test_a_bad_exporter_parameter_stops_zoo_run_before_training_with_exit_2(tmp_path: Path) -> None:
    result = run_cli("run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), *TINY[:-2],
                     "--set", "exporters.savedmodel.max_abs_diff=-1")
    assert result.exit_code == 2, result.output
    message = one_line(result.stderr)
    assert message.startswith("error: exporter 'savedmodel' refuses its parameters: savedmodel: max_abs_diff must "
                              "be 0 or more, got -1.0")
    assert "hint: e.g. --set exporters.savedmodel.max_abs_diff=1e-05 (the default)" in message
    assert not list((tmp_path / "runs").glob("*/manifest.json"))  # no run directory: nothing was trained


@pytest.mark.slow
def test_a_bad_exporter_parameter_stops_zoo_export_with_exit_2_and_its_hint(finished: Path) -> None:
    result = run_cli("export", str(finished), "-f", "savedmodel", "--set", "max_abs_diff=-1")
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert "hint: e.g. --set max_abs_diff=1e-05 (the default)" in one_line(result.stderr)
    result = run_cli("export", str(finished), "-f", "tflite-int8", "--set", "calibration_samples=0")
    assert result.exit_code == 2, result.output
    assert one_line(result.stderr) == ("error: exporter 'tflite-int8' refuses its parameters: tflite: calibration_samples "
                                       "must be at least 1, got 0 hint: a few hundred training images calibrate int8 "
                                       "well, e.g. 500")  # the exporter's own hint
    assert not list((finished / "exports").iterdir())  # nothing exported
    assert json.loads((finished / "manifest.json").read_text())["exports"] == []


def exporter(factory: Any, **params: Any) -> ComponentChoice:
    component = Component("probe", factory, kind="exporter", plugin="probe")
    return ComponentChoice("exporter", "probe", component, params)


def test_the_check_call_stops_where_the_exporter_starts_working(tmp_path: Path) -> None:
    calls: list[str] = []

    def probe(context: Any, level: int = 1) -> Any:
        """A probe exporter.

        Args:
            level: must be 1 or more.
        """
        if level < 1:
            raise ExportError(f"probe: level must be 1 or more, got {level}")
        calls.append(f"checked {len(context.dataset)} {context.model_name}")
        (Path(context.destination) / "written").write_text("work")  # never reached by the check
        calls.append("worked")

    check_exporters([exporter(probe)], dataset=[1, 2, 3], model_name="my run")
    assert calls == ["checked 3 my-run"] and not list(tmp_path.iterdir())
    with pytest.raises(ConfigError) as refused:
        check_exporters([exporter(probe, level=0)], dataset=[], model_name="x")
    assert refused.value.message == "exporter 'probe' refuses its parameters: probe: level must be 1 or more, got 0"
    assert refused.value.hint == "e.g. --set exporters.probe.level=1 (the default); 'zoo show probe' lists its parameters"


def test_an_exporter_that_fails_otherwise_is_left_to_the_real_export() -> None:
    def buggy(context: Any) -> Any:
        """Crashes on its first line."""
        raise KeyError("metadata")

    check_exporters([exporter(buggy)], dataset=None, model_name="x")  # no opinion: the export records the crash


# -- 6c: zoo runs marks completed runs with problems ------------------------------------------


def write_run(root: Path, name: str, exports: list[dict], problems: list[str] | None = None) -> Path:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    (run_dir / "config.toml").write_text("")
    (run_dir / "manifest.json").write_text(json.dumps({
        "run_id": name, "recipe": "mnist-mlp", "status": "completed", "started": f"2026-01-0{len(name) % 9}T00:00:00",
        "metrics": {"accuracy": 0.97}, "settings": {"epochs": 2}, "epochs_done": 2, "exports": exports,
        "problems": problems or []}))
    return run_dir


FAILED = {"format": "savedmodel", "variant": "savedmodel", "status": "failed", "path": "",
          "message": "savedmodel: max_abs_diff must be 0 or more, got -1.0"}
OK = {"format": "savedmodel", "variant": "float32", "status": "ok", "path": "x"}


def test_zoo_runs_marks_a_completed_run_whose_export_failed(tmp_path: Path) -> None:
    write_run(tmp_path, "bad-export", [FAILED])
    write_run(tmp_path, "fixed-later", [FAILED, OK])
    write_run(tmp_path, "plot-problem", [OK], problems=["plots: ValueError: boom"])
    result = run_cli("runs", "--runs-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.split()}
    assert lines["bad-export"].split()[2] == "completed*" and lines["plot-problem"].split()[2] == "completed*"
    assert lines["fixed-later"].split()[2] == "completed"  # a later export of the format succeeded
    assert "* completed with problems" in result.stdout
    assert out._width is None  # printing the table at its natural width did not pin the console's width
    assert "bad-export: export savedmodel failed: savedmodel: max_abs_diff must be 0 or more" in result.stdout
    rows = {row["id"]: row for row in json.loads(run_cli("runs", "--runs-dir", str(tmp_path), "--json").stdout)}
    assert rows["bad-export"]["status"] == "completed"
    assert rows["bad-export"]["problems"] == ["export savedmodel failed: " + FAILED["message"]]
    assert rows["fixed-later"]["problems"] == [] and rows["plot-problem"]["problems"] == ["plots: ValueError: boom"]


# -- 6d: the exports table, on a narrow terminal and piped ------------------------------------


def results() -> list[ExportResult]:
    long_path = "/very/long/folder/name/runs/mnist-mlp-20261130-023712-4a66de/exports/mnist-mlp-float32.tflite"
    return [ExportResult(format="tflite", variant="float32", path=long_path, size_bytes=442_000,
                         figures={"accuracy": 0.9798, "max_abs_diff": 1.7e-6, "latency_us": 5.0,
                                  "conversion_seconds": 0.6}),
            ExportResult(format="savedmodel", variant="savedmodel", path="", status="failed",
                         message="savedmodel: version 1 already exists at /very/long/folder/exports/mnist-mlp/1; "
                                 "hint: use version=0 for the next free version (2)")]


def test_a_failed_export_keeps_the_table_whole_on_an_80_column_terminal(capsys: pytest.CaptureFixture[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(out, "_width", 80)
    render_exports(results())
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["format", "variant", "size", "accuracy", "max", "|diff|", "latency", "time", "status"]
    assert lines[2].split() == ["tflite", "float32", "432", "KB", "0.9798", "1.7e-06", "5", "µs", "0.6", "s", "ok"]
    assert lines[3].split() == ["savedmodel", "savedmodel", "-", "-", "-", "-", "-", "failed", "(1)"]
    assert lines[4] == f"  tflite float32: {results()[0].path}"  # the path whole, below the table
    assert one_line(" ".join(lines[5:])).startswith("(1) savedmodel failed: savedmodel: version 1 already exists")
    assert all(len(line) <= 80 for line in lines[:4])


def test_piped_output_is_not_folded(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert not out.is_terminal and out.width == UNFOLDED_WIDTH
    render_exports(results())
    lines = capsys.readouterr().out.splitlines()
    assert results()[0].path in lines[2]  # the whole path on its row, not in 5-character pieces
    monkeypatch.setenv("COLUMNS", "80")
    assert out.width == 80  # an explicit width still wins


def test_piped_zoo_show_settings_keeps_each_setting_on_one_line(tmp_path: Path) -> None:
    env = subprocess_env()
    env.pop("COLUMNS")
    result = subprocess.run([zoo_executable(), "show", "settings"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("validation "))
    assert "'last' | 'stratified'" in line and line.rstrip().endswith("drawn with the seed)")


# -- 6e: --quiet drops the progress, not the result --------------------------------------------


@pytest.mark.slow
def test_resume_quiet_prints_the_result(finished: Path, tmp_path: Path) -> None:
    copy = tmp_path / finished.name
    subprocess.run(["cp", "-r", str(finished), str(copy)], check=True)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest.update(status="interrupted")  # as if killed after its last checkpoint
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli("resume", str(copy), "--quiet")
    assert result.exit_code == 0, result.output
    assert f"run {copy.name}" in result.stdout and "test accuracy" in result.stdout
    assert "epoch" not in result.stdout and result.stderr == ""


# -- 6f: TensorFlow's log lines are hidden, real messages are not ------------------------------

NOISE = (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
         b"E0000 00:00:1796006113.543619   23617 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
         b"I0000 00:00:1796006121.015020   23976 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n"
         b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with flags.\n"
         b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
         b"fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, output_inference_type: FLOAT32\n")


def test_native_log_lines_are_hidden_and_other_stderr_is_kept(capfd: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZOO_DEBUG", raising=False)
    with native_logs.quiet_native_stderr():
        os.write(2, NOISE + b"warning: tflite int8 calibrates on only 20 training images\n")
    assert capfd.readouterr().err == "warning: tflite int8 calibrates on only 20 training images\n"
    with pytest.raises(ZooError):
        with native_logs.quiet_native_stderr():
            os.write(2, NOISE)
            raise ZooError("a clear message")
    assert capfd.readouterr().err == ""  # the message says it all
    with pytest.raises(RuntimeError):
        with native_logs.quiet_native_stderr():
            os.write(2, NOISE)
            raise RuntimeError("a crash")
    assert capfd.readouterr().err == NOISE.decode()  # everything, to debug a crash
    monkeypatch.setenv("ZOO_DEBUG", "1")
    with native_logs.quiet_native_stderr():
        os.write(2, NOISE)
    assert capfd.readouterr().err == NOISE.decode()


@pytest.mark.slow
def test_evaluate_export_and_predict_print_no_tensorflow_log_lines(finished: Path, tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28), np.float32))
    out = tmp_path / "out"
    for command in (["evaluate", str(finished)], ["export", str(finished), "-f", "tflite-dynamic", "--out", str(out)],
                    ["predict", str(out / "mnist-mlp-dynamic.tflite"), str(tmp_path / "x.npy")]):
        result = subprocess.run([zoo_executable(), *command], cwd=tmp_path, env=subprocess_env(), capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", (command, result.stderr)


# -- 6g: no .lock in a finished run ---------------------------------------------------------


def test_a_finished_run_keeps_no_lock_file(finished: Path) -> None:
    assert not (finished / ".lock").exists()
