"""The mlflow callback checks its tracking store before any work (issue 27, item 7): a folder (MLflow 3 refuses
file stores), a SQLite file in a read-only folder, a server that does not answer are refused with exit code 2 in
seconds; and a signal while the tracker waits for its server stops the run at once, 'interrupted' with its
checkpoint. No network: a closed port on 127.0.0.1 is an unreachable server."""

from __future__ import annotations

import http.server
import json
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import subprocess_env
from test_callback_checks import SMALL, ZOO, refused


# -- the MLflow store -----------------------------------------------------------------------------


def test_a_file_store_is_refused_with_a_sqlite_uri(builtin_catalog: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    error = refused(builtin_catalog, tmp_path, 'callbacks=["mlflow"]',
                    f"callbacks.mlflow.tracking_uri={(tmp_path / 'mlruns').as_uri()}")
    assert "is a folder (a file store), which MLflow" in error.message
    assert f"--set callbacks.mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}" in error.hint
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(tmp_path / "mlruns"))  # a bare path is a folder too
    error = refused(builtin_catalog, tmp_path, 'callbacks=["mlflow"]')
    assert f"MLFLOW_TRACKING_URI={tmp_path / 'mlruns'} is a folder" in error.message
    assert "MLFLOW_TRACKING_URI=sqlite:///" in error.hint
    assert not (tmp_path / "mlruns").exists()


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs (root ignores a folder's permission bits, not a read-only mount): skipped only where
    mounting is not allowed."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        folder.chmod(0o555)
        probe = folder / "probe"
        try:
            probe.touch()
        except OSError:
            yield folder  # not root: the permission bits hold
            return
        probe.unlink()
        pytest.skip(f"cannot make a read-only folder here (mount: {mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_sqlite_store_in_a_read_only_folder_is_refused_at_once(builtin_catalog: Any, tmp_path: Path,
                                                                 read_only_folder: Path) -> None:
    started = time.monotonic()
    error = refused(builtin_catalog, tmp_path, 'callbacks=["mlflow"]',
                    f"callbacks.mlflow.tracking_uri=sqlite:///{read_only_folder / 'mlflow.db'}")
    assert time.monotonic() - started < 10
    assert f"cannot write {read_only_folder}" in error.message
    assert "a folder you can write: --set callbacks.mlflow.tracking_uri=sqlite:///" in error.hint
    error = refused(builtin_catalog, tmp_path, 'callbacks=["mlflow"]',
                    f"callbacks.mlflow.tracking_uri=sqlite:///{tmp_path / 'missing' / 'mlflow.db'}")
    assert f"the folder {tmp_path / 'missing'} does not exist" in error.message


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the socket is closed


def test_an_unreachable_server_is_refused_in_seconds(builtin_catalog: Any, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    error = refused(builtin_catalog, tmp_path, 'callbacks=["mlflow"]', f"callbacks.mlflow.tracking_uri={uri}")
    assert f"cannot use the MLflow tracking server {uri} (callbacks.mlflow.tracking_uri)" in error.message
    assert "mlflow server --host HOST --port PORT" in error.hint
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    error = refused(builtin_catalog, tmp_path, 'callbacks=["mlflow"]')
    assert "(MLFLOW_TRACKING_URI)" in error.message and "MLFLOW_TRACKING_URI=http://HOST:PORT" in error.hint
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_an_unreachable_server_exits_2_before_any_run_directory(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    started = time.monotonic()
    result = subprocess.run([ZOO, "run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), *SMALL,
                             "--set", 'callbacks=["mlflow"]'], capture_output=True, text=True, timeout=120,
                            env=subprocess_env(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{closed_port()}"))
    assert result.returncode == 2, result.stderr
    assert "cannot use the MLflow tracking server" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
    assert time.monotonic() - started < 100


# -- a stop while the tracker waits -------------------------------------------------------------------


class _AnswersOnlyTheCheck(http.server.BaseHTTPRequestHandler):
    """A tracking server that answers zoo's check of the store, then goes silent for MLflow's own calls."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.headers.get("User-Agent", "").startswith("Python-urllib"):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")
        else:
            time.sleep(600)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_sigterm_while_the_tracker_waits_for_its_server_ends_the_run_interrupted(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AnswersOnlyTheCheck)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runs = tmp_path / "runs"
    try:
        process = subprocess.Popen([ZOO, "run", "mnist-mlp", "--runs-dir", str(runs), *SMALL, "--set", "epochs=2",
                                    "--set", 'callbacks=["mlflow"]'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=subprocess_env(MLFLOW_TRACKING_URI=f"http://127.0.0.1:"
                                                                                     f"{server.server_address[1]}"))
        deadline = time.monotonic() + 240
        while not list(runs.glob("*/checkpoint")) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # the tracker is waiting for the server now (MLflow retries for minutes)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("SIGTERM did not stop a run whose tracker waits for its server")
    finally:
        server.shutdown()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted (SIGTERM)" in stderr and "zoo resume" in stderr and "Traceback" not in stderr
    run_dir = next(path for path in runs.iterdir() if (path / "manifest.json").exists())
    assert json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["status"] == "interrupted"
    assert (run_dir / "checkpoint").is_dir()


WAITER = '''
"""Callback waiter: after epoch 1's checkpoint it waits for a server that never answers (a marker file says so)."""
import time
from typing import Any

from zoo_core import Component, hookimpl


def waiter(context: Any) -> Any:
    """Wait ten minutes at the end of epoch 1, after its checkpoint, as a tracker whose server went away."""
    import keras

    class Waiter(keras.callbacks.Callback):
        zoo_after_checkpoint = True

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch == 0:
                (context.run_dir / "waiting").touch()
                time.sleep(600)

    return Waiter()


@hookimpl
def register_callbacks() -> list[Component]:
    return [Component("waiter", waiter)]
'''


@pytest.mark.slow
def test_sigterm_while_a_tracker_waits_after_the_checkpoint_ends_the_run_interrupted(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "waiter.py").write_text(WAITER, encoding="utf-8")
    runs = tmp_path / "runs"
    process = subprocess.Popen([ZOO, "--plugins-dir", str(plugins), "run", "mnist-mlp", "--runs-dir", str(runs),
                                *SMALL, "--set", "epochs=2", "--set", 'callbacks=["waiter"]'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
    deadline = time.monotonic() + 240
    while not list(runs.glob("*/waiting")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("SIGTERM waited for a callback after the epoch's checkpoint")
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted (SIGTERM) after 1 of 2 epoch(s); its checkpoint is saved" in stderr, stderr
    run_dir = next(runs.glob("*/waiting")).parent
    record = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert record["status"] == "interrupted" and record["epochs_done"] == 1


def test_the_tracker_does_not_wait_again_for_a_store_that_did_not_answer(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from zoo_core.training.callbacks.context import CallbackContext, RunSummary
    from zoo_plugins.callbacks._mlflow_tracker import MlflowTracker

    context = CallbackContext(run_dir=tmp_path, run_id="x", recipe=None, config={}, settings={"epochs": 2},
                              dataset=None, name="mlflow", runs_root=tmp_path)
    tracker = MlflowTracker(context, experiment="zoo", tracking_uri=f"http://127.0.0.1:{closed_port()}",
                            run_name="", log_exports=False)
    tracker.run_id = "an-mlflow-run"

    def waits(*args: Any) -> None:
        raise KeyboardInterrupt  # a SIGTERM while MLflow retries

    tracker._log_epoch = waits  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        tracker.on_epoch_end(0, {"loss": 1.0})
    tracker.on_run_end(RunSummary(status="interrupted", run_dir=tmp_path))
    assert tracker._client is None  # never asked the store again
