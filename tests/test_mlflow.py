"""The mlflow callback against a real local tracking store (and a local tracking server), read back with
MLflow's own client: params, metrics per epoch, test metrics, artifacts, tags; a run killed and resumed is one
MLflow run with every epoch once; without MLflow installed, zoo list says so and a run fails before any work."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli, subprocess_env
from test_callbacks import KILLER, TINY, manifest, only_run

ZOO = str(Path(sys.executable).with_name("zoo"))


def zoo(*args: str, plugins_dir: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    extra = ["--plugins-dir", str(plugins_dir)] if plugins_dir else []
    return subprocess.run([ZOO, *extra, *args], capture_output=True, text=True, timeout=900,
                          env=subprocess_env(**env))


def client(uri: str) -> Any:
    pytest.importorskip("mlflow")
    import warnings

    from mlflow.tracking import MlflowClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # SQLAlchemy's, from inside MLflow
        found = MlflowClient(tracking_uri=uri)
        found.search_experiments(max_results=1)
    return found


def the_run(mlflow: Any, experiment: str = "zoo") -> Any:
    found = mlflow.get_experiment_by_name(experiment)
    assert found is not None, [e.name for e in mlflow.search_experiments()]
    runs = mlflow.search_runs([found.experiment_id])
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def steps(mlflow: Any, run_id: str, key: str) -> list[int]:
    return sorted(metric.step for metric in mlflow.get_metric_history(run_id, key))


def artifacts(mlflow: Any, run_id: str, path: str | None = None) -> list[str]:
    return sorted(item.path for item in mlflow.list_artifacts(run_id, path))


# -- without the extra ------------------------------------------------------------------------------


@pytest.fixture
def without_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if MLflow were not installed: the requirement check finds no module."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))


def test_without_mlflow_zoo_list_says_the_extra_is_needed(without_mlflow: None, in_tmp_cwd: Path) -> None:
    listed = run_cli("list", "callbacks", "--json")
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "mlflow")
    assert row["unavailable"] == "needs mlflow, which is not installed: pip install 'zoo[mlflow]'"
    assert "unavailable" not in next(r for r in json.loads(listed.stdout) if r["name"] == "early-stopping")
    table = run_cli("list", "callbacks")
    assert table.exit_code == 0
    line = next(line for line in table.stdout.splitlines() if line.startswith("mlflow"))
    assert "unavailable: needs mlflow, which is not installed: pip install 'zoo[mlflow]'" in line
    shown = run_cli("show", "mlflow")
    assert "unavailable: needs mlflow" in shown.stdout and "experiment" in shown.stdout  # parameters still shown


def test_without_mlflow_a_run_that_asks_for_it_fails_before_any_work(without_mlflow: None, in_tmp_cwd: Path) -> None:
    runs = in_tmp_cwd / "runs"
    result = run_cli("run", "mnist-mlp", "--runs-dir", str(runs), *TINY, "--set", 'callbacks=["mlflow"]')
    assert result.exit_code == 2, result.output
    assert "callback 'mlflow' needs mlflow, which is not installed: pip install 'zoo[mlflow]'" in result.stderr
    assert "Traceback" not in result.output
    assert not runs.exists() or not any(runs.iterdir())  # before any run directory


# -- a real local store ---------------------------------------------------------------------------


@pytest.mark.slow
def test_mlflow_logs_params_metrics_and_artifacts_to_a_local_store(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = zoo("run", "mnist-mlp", "--runs-dir", str(runs), *TINY, "--set", "epochs=3",
                 "--set", 'exporters=["tflite"]', "--set", 'callbacks=["mlflow"]',
                 "--set", "callbacks.mlflow.experiment=zoo-test")
    assert result.returncode == 0, result.stderr
    assert "INFO mlflow" not in result.stderr and "Warning" not in result.stderr, result.stderr
    run_dir = only_run(runs)
    mlflow = client(f"sqlite:///{runs / 'mlflow.db'}")  # the default store, beside the runs
    run = the_run(mlflow, "zoo-test")
    assert run.info.status == "FINISHED"
    assert run.data.tags["zoo.run_id"] == run_dir.name and run.data.tags["zoo.recipe"] == "mnist-mlp"
    params = run.data.params
    assert params["optimizer.learning_rate"] == "0.001" and params["epochs"] == "3"
    assert params["optimizer.component"] == "keras-optimizers:adam" and params["architecture.hidden"] == "[128, 64]"
    assert params["callbacks.mlflow.experiment"] == "zoo-test" and params["exporters.tflite.quantize"] == "none"
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert steps(mlflow, run.info.run_id, key) == [1, 2, 3], key
    rows = [row for row in (run_dir / "history.csv").read_text(encoding="utf-8").splitlines()[1:]]
    by_step = {m.step: m.value for m in mlflow.get_metric_history(run.info.run_id, "val_loss")}
    assert [by_step[n] for n in (1, 2, 3)] == pytest.approx([float(r.split(",")[3]) for r in rows])
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["accuracy"])
    assert run.data.metrics["test_f1_macro"] == pytest.approx(metrics["f1_macro"])
    top = artifacts(mlflow, run.info.run_id)
    assert {"report.md", "config.toml", "manifest.json", "history.csv", "metrics.json", "plots", "exports"} <= set(top)
    assert "plots/curves.png" in artifacts(mlflow, run.info.run_id, "plots")
    assert artifacts(mlflow, run.info.run_id, "exports") == ["exports/mnist-mlp-float32.tflite"]
    stored = runs / "mlartifacts"
    assert stored.is_dir() and list(stored.rglob("report.md"))


@pytest.mark.slow
def test_a_killed_and_resumed_run_is_one_mlflow_run_with_every_epoch_once(tmp_path: Path) -> None:
    """Killed twice: once right after epoch 2's checkpoint (before MLflow logged it: the resume must fill the
    gap), once at epoch 3's end before its checkpoint (the epoch is redone: it must not be logged twice)."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "killer.py").write_text(KILLER, encoding="utf-8")
    runs = tmp_path / "runs"
    (tmp_path / "registry.toml").write_text("""
[runs.tracked]
dataset = "mnist"
architecture = "mlp"
optimizer = "adam"
loss = "sparse-categorical-crossentropy"
exporters = []
epochs = 4
callbacks = [{ component = "killer", at = 2, when = "after" }, "mlflow", { component = "killer", at = 3, when = "before" }]
""", encoding="utf-8")
    common = ["--registry", str(tmp_path / "registry.toml")]
    first = zoo("run", "tracked", *common, "--runs-dir", str(runs), *TINY, plugins_dir=plugins)
    assert first.returncode == -9, first.stderr
    run_dir = only_run(runs)
    uri = f"sqlite:///{runs / 'mlflow.db'}"
    run_id = the_run(client(uri)).info.run_id
    assert steps(client(uri), run_id, "loss") == [1]  # epoch 2 was committed, not logged
    second = zoo("resume", str(run_dir), plugins_dir=plugins)
    assert second.returncode == -9, second.stderr
    assert manifest(run_dir)["epochs_done"] == 2
    assert steps(client(uri), run_id, "loss") == [1, 2]  # the gap filled; epoch 3 not committed, not logged
    third = zoo("resume", str(run_dir), plugins_dir=plugins)
    assert third.returncode == 0, third.stderr
    mlflow = client(uri)
    run = the_run(mlflow)
    assert run.info.run_id == run_id and run.info.status == "FINISHED"
    for key in ("loss", "val_accuracy", "seconds"):
        assert steps(mlflow, run_id, key) == [1, 2, 3, 4], key
    assert "test_accuracy" in run.data.metrics and "report.md" in artifacts(mlflow, run_id)


# -- a local tracking server ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: How long the tracking server may take to answer /health: generous, since a loaded machine (2 cores shared by
#: several test runs) makes its start slow. A server that never answers within it fails the test, never skips it.
SERVER_START_SECONDS = 600


def wait_for_server(server: subprocess.Popen, uri: str, seconds: float) -> None:
    """Return once ``uri``/health answers 200; fail the test if ``server`` exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None:
            pytest.fail(f"the MLflow server exited (code {server.returncode}) before answering {uri}/health")
        if time.monotonic() > deadline:
            pytest.fail(f"the MLflow server did not answer {uri}/health within {seconds:.0f} s")
        time.sleep(1)


def outcome_of_waiting(server: subprocess.Popen, seconds: float) -> BaseException | None:
    """What waiting for ``server`` on a port nobody listens on ends with (pytest's skip and fail are BaseExceptions)."""
    try:
        wait_for_server(server, f"http://127.0.0.1:{free_port()}", seconds)
    except BaseException as error:  # noqa: BLE001 - the outcome is what is tested
        return error
    return None


def test_a_server_that_never_answers_fails_the_test_not_skips_it() -> None:
    """Stand-in 'servers' that never answer: waiting for them is a failure (pytest.fail), never a skip."""
    silent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        outcome = outcome_of_waiting(silent, 2)
    finally:
        silent.kill()
        silent.wait()
    assert isinstance(outcome, pytest.fail.Exception) and "did not answer" in str(outcome), repr(outcome)
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    outcome = outcome_of_waiting(exited, 60)
    assert isinstance(outcome, pytest.fail.Exception) and "exited (code 0)" in str(outcome), repr(outcome)


@pytest.mark.slow
def test_mlflow_logs_to_a_tracking_server(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1",
                               "--port", str(port), "--workers", "1",
                               "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
                               "--artifacts-destination", str(tmp_path / "server-artifacts")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ}, cwd=tmp_path)
    try:
        uri = f"http://127.0.0.1:{port}"
        wait_for_server(server, uri, SERVER_START_SECONDS)
        result = zoo("run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), *TINY, "--set", "epochs=2",
                     "--set", 'callbacks=["mlflow"]', MLFLOW_TRACKING_URI=uri)
        assert result.returncode == 0, result.stderr
        assert not (tmp_path / "runs" / "mlflow.db").exists()  # the environment's URI, not the local default
        mlflow = client(uri)
        run = the_run(mlflow)
        assert run.data.tags["zoo.run_id"] == only_run(tmp_path / "runs").name
        assert steps(mlflow, run.info.run_id, "loss") == [1, 2]
        assert "report.md" in artifacts(mlflow, run.info.run_id)
        assert list((tmp_path / "server-artifacts").rglob("report.md"))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
