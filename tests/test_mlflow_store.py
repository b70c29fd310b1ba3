"""The mlflow callback checks its tracking store before any work (issue 27, item 7): a folder (MLflow 3 refuses
file stores), a SQLite file in a read-only folder, a server that does not answer are refused with exit code 2 in
seconds. No network: a closed port on 127.0.0.1 is an unreachable server."""

from __future__ import annotations

import socket
import subprocess
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
