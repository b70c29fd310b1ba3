"""The ``mlflow`` callback's tracking store, checked before any work (imported by its factory only).

MLflow itself finds out late and slowly that it cannot use a store: it
refuses a folder (a file store) only once the run has started, retries a
SQLite file in a read-only folder for about two minutes and an unreachable
server for about four. :func:`check_store` answers in a few seconds, without
MLflow, with a ConfigError that says what to change; the factory calls it at
its top, so zoo's dry run of the callbacks (before the run directory exists)
reports it with exit code 2.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

#: Seconds to wait for a tracking server's answer before calling it unreachable.
TIMEOUT = 5.0


def check_store(uri: str, setting: str) -> None:
    """A ConfigError unless MLflow can use the store ``uri``; ``setting`` is how the user gave it (the ``--set``
    key, or MLFLOW_TRACKING_URI), for the message. Other schemes (databricks, postgresql...) are left to MLflow."""
    from zoo_core.errors import ConfigError

    scheme = urllib.parse.urlparse(uri).scheme.lower()
    if scheme in ("", "file") or len(scheme) == 1:  # a folder (C:\\ on Windows): MLflow's file store
        if _file_store_refused():
            import mlflow

            folder = _file_store_folder(uri)
            raise ConfigError(f"callback mlflow: {setting}={uri} is a folder (a file store), which MLflow "
                              f"{mlflow.__version__} refuses", hint=f"use a SQLite file: {_set(setting)}sqlite:///"
                              f"{(folder.parent / 'mlflow.db').as_posix()} ('mlflow migrate-filestore' moves what "
                              "the folder holds), or set MLFLOW_ALLOW_FILE_STORE=true")
    elif scheme == "sqlite":
        _check_sqlite(uri, setting)
    elif scheme in ("http", "https"):
        _check_server(uri, setting)


def _file_store_refused() -> bool:
    """MLflow's own rule (MLflow 3's later releases): no file store unless MLFLOW_ALLOW_FILE_STORE is true."""
    try:
        from mlflow.environment_variables import MLFLOW_ALLOW_FILE_STORE
    except ImportError:  # an MLflow from before the rule
        return False
    try:
        return not MLFLOW_ALLOW_FILE_STORE.get()
    except ValueError:  # a value MLflow cannot read: it refuses too
        return True


def _set(setting: str) -> str:
    return f"--set {setting}=" if not setting.isupper() else f"{setting}="


def _file_store_folder(uri: str) -> Path:
    if uri.lower().startswith("file:"):
        return Path(urllib.request.url2pathname(urllib.parse.urlparse(uri).path)).absolute()
    return Path(uri).absolute()


def _check_sqlite(uri: str, setting: str) -> None:
    """The database's folder exists and takes new files (SQLite writes a journal beside the database), and an
    existing database file can be written."""
    from zoo_core.errors import ConfigError

    name = uri[len("sqlite:///"):] if uri.lower().startswith("sqlite:///") else ""
    if not name or name.startswith(":memory:"):
        return  # an in-memory database: nothing to check
    path = Path(name.split("?", 1)[0]).absolute()
    fix = f"choose a SQLite file in a folder you can write: {_set(setting)}sqlite:///PATH/mlflow.db"
    if not path.parent.is_dir():
        raise ConfigError(f"callback mlflow: {setting}={uri}: the folder {path.parent} does not exist",
                          hint=f"create it, or {fix}")
    for target, write in ((path.parent, _new_file_in), (path, _open_for_writing)):
        try:
            write(target)
        except OSError as error:
            raise ConfigError(f"callback mlflow: {setting}={uri}: cannot write {target} "
                              f"({error.strerror or error})", hint=fix) from None


def _new_file_in(folder: Path) -> None:
    with tempfile.TemporaryFile(dir=folder, prefix=".zoo-mlflow-"):
        pass


def _open_for_writing(path: Path) -> None:
    if path.exists():
        os.close(os.open(path, os.O_RDWR))


def _check_server(uri: str, setting: str) -> None:
    """The tracking server answers MLflow's API within :data:`TIMEOUT` seconds. Silence, a refused connection, a
    404 (not an MLflow server: MLflow's calls would fail) or a 5xx (MLflow would retry for minutes) is refused;
    any other answer (a 401 or 403 for a client without credentials) is MLflow's to deal with."""
    from zoo_core.errors import ConfigError

    probe = uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        with urllib.request.urlopen(probe, timeout=TIMEOUT):
            return
    except urllib.error.HTTPError as error:
        if error.code != 404 and error.code < 500:
            return
        reason = f"HTTP {error.code} {error.reason} for {probe}"
        if error.code == 404:
            reason += " (is it an MLflow tracking server?)"
    except (OSError, ValueError) as error:
        reason = str(getattr(error, "reason", None) or error)
        if isinstance(getattr(error, "reason", error), TimeoutError) or "timed out" in reason:
            reason = f"no answer in {TIMEOUT:g} s"
    raise ConfigError(f"callback mlflow: cannot use the MLflow tracking server {uri} ({setting}): {reason}",
                      hint=f"start the server (mlflow server --host HOST --port PORT), or fix the address: "
                           f"{_set(setting)}http://HOST:PORT; or leave mlflow out of the run's callbacks")
