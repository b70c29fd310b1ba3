"""zoo sweep on a real PostgreSQL server (docs/sweeps.md "Storage, and several machines").

A PostgreSQL server is started for this module on 127.0.0.1 on a free port,
in a temporary folder, and always stopped afterwards. Three ``zoo sweep``
processes, each with its own runs root as on separate machines, share one
study through ``--storage postgresql://...``; one is killed mid-trial and the
study still ends with every trial counted once. A bare ``postgresql://`` URL
takes whichever driver is installed; a missing driver, a wrong password or
database is a clear error (exit 2) naming the URL with its password masked.

The server binaries must be installed (.ci/run installs them): without them
these tests fail, they do not skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import run_cli, subprocess_env, zoo_executable
from zoo_core.errors import ConfigError
from zoo_core.sweeps import storage

optuna = pytest.importorskip("optuna")

#: Where Debian and Ubuntu's postgresql packages put the server programs (15 is what CI installs).
SERVER_BINARIES = "/usr/lib/postgresql/{version}/bin"
PASSWORD = "s3cret-pw"
SLICE = 'max_train_samples = 1000, max_test_samples = 500, "architecture.hidden" = [16], exporters = []'
SHARED = f"""
    [sweeps.shared]
    run = "mnist-mlp"
    trials = 3
    sampler = "random"
    set = {{ epochs = 1, {SLICE} }}
    [sweeps.shared.space]
    "optimizer.learning_rate" = {{ low = 1e-3, high = 1e-2, log = true }}
"""


@dataclass
class Server:
    """A running PostgreSQL server: user ``zoo`` with :data:`PASSWORD`, database ``zoo_sweeps``."""

    port: int

    def url(self, password: str = PASSWORD, database: str = "zoo_sweeps", scheme: str = "postgresql") -> str:
        return f"{scheme}://zoo:{password}@127.0.0.1:{self.port}/{database}"


def _server_binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent.parent.name)
    preferred = Path(SERVER_BINARIES.format(version=15)) / "initdb"
    initdb = preferred if preferred.is_file() else (found[-1] if found else shutil.which("initdb"))
    if not initdb:
        pytest.fail(f"the PostgreSQL server programs (initdb, pg_ctl) are not installed: none in "
                    f"{SERVER_BINARIES.format(version='*')} or on PATH. Install them (apt-get install -y postgresql), "
                    "as .ci/run does.")
    return Path(initdb).parent


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A PostgreSQL server in a temporary folder; stopped (and the folder removed) whatever the tests do.

    initdb and pg_ctl refuse to run as root: as root they run as the
    ``postgres`` user, in a folder of /tmp that it owns (pytest's own tmp
    folders are private to root).
    """
    binaries = _server_binaries()
    as_root = os.geteuid() == 0
    if as_root and not _user_exists("postgres"):
        pytest.fail("initdb refuses to run as root, and the 'postgres' user to run it as is missing: install the "
                    "postgresql package (apt-get install -y postgresql), which creates it")
    folder = Path(tempfile.mkdtemp(prefix="zoo-postgres-")) if as_root else tmp_path_factory.mktemp("postgres")
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(folder, "postgres", "postgres")
    password_file = folder / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    if as_root:
        shutil.chown(password_file, "postgres", "postgres")
    data, port = folder / "data", _free_port()

    def postgres(program: str, *args: str) -> None:
        result = subprocess.run([*prefix, str(binaries / program), *args], cwd=folder, capture_output=True,
                                text=True, timeout=120)
        if result.returncode != 0:
            pytest.fail(f"{program} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    try:
        postgres("initdb", "--pgdata", str(data), "--username", "zoo", "--pwfile", str(password_file),
                 "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' -c fsync=off"
        postgres("pg_ctl", "--pgdata", str(data), "--log", str(folder / "server.log"), "--wait", "--timeout", "60",
                 "-o", options, "start")
        created = subprocess.run([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "zoo",
                                  "zoo_sweeps"], env={**os.environ, "PGPASSWORD": PASSWORD}, capture_output=True,
                                 text=True, timeout=60)  # the command docs/sweeps.md gives
        assert created.returncode == 0, created.stderr
        yield Server(port)
    finally:
        if (data / "postmaster.pid").is_file():
            subprocess.run([*prefix, str(binaries / "pg_ctl"), "--pgdata", str(data), "--mode", "immediate", "--wait",
                            "stop"], cwd=folder, capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def registry(folder: Path) -> None:
    (folder / "registry.toml").write_text(textwrap.dedent(SHARED), encoding="utf-8")


# -- the driver of a postgresql:// URL, and the masked password (no server needed) ------------------------------


@pytest.mark.parametrize(("installed", "driver"), [({"psycopg", "psycopg2"}, "psycopg"), ({"psycopg2"}, "psycopg2"),
                                                   ({"psycopg"}, "psycopg")])
def test_a_bare_postgresql_url_takes_whichever_driver_is_installed(monkeypatch: pytest.MonkeyPatch,
                                                                   installed: set[str], driver: str) -> None:
    monkeypatch.setattr(storage, "_installed", lambda module: module in installed)
    assert storage.with_driver("postgresql://zoo:pw@db.example:5432/zoo_sweeps") == \
        f"postgresql+{driver}://zoo:pw@db.example:5432/zoo_sweeps"
    assert storage.with_driver("postgresql+psycopg2://zoo:pw@db/x") == "postgresql+psycopg2://zoo:pw@db/x"
    assert storage.with_driver("sqlite:////tmp/x y/sweeps.db") == "sqlite:////tmp/x y/sweeps.db"


def test_the_password_is_masked_wherever_the_url_is_shown() -> None:
    assert storage.masked("postgresql://zoo:s3cret@10.0.0.5/zoo_sweeps") == "postgresql://zoo:***@10.0.0.5/zoo_sweeps"
    assert storage.masked("postgresql://zoo:a@b:c@host:5432/db") == "postgresql://zoo:***@host:5432/db"
    assert storage.masked("postgresql://zoo@host/db") == "postgresql://zoo@host/db"  # no password
    assert storage.masked("sqlite:///runs/sweeps/sweeps.db") == "sqlite:///runs/sweeps/sweeps.db"


def test_no_postgresql_driver_is_a_clear_error_with_the_pip_command_before_any_trial(
        in_tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry(in_tmp_cwd)
    monkeypatch.setattr(storage, "_installed", lambda module: False)
    with pytest.raises(ConfigError, match="neither psycopg nor psycopg2 is installed"):
        storage.with_driver("postgresql://zoo:pw@db/x")
    root = in_tmp_cwd / "runs"
    result = run_cli("sweep", "shared", "--runs-dir", str(root), "--storage", f"postgresql://zoo:{PASSWORD}@db/x")
    assert result.exit_code == 2, result.output
    assert "the sweep storage 'postgresql://zoo:***@db/x' needs a PostgreSQL driver" in result.stderr
    assert "pip install 'zoo[sweeps-postgres]'" in result.stderr
    assert PASSWORD not in result.output and "Traceback" not in result.output
    assert not list(root.glob("mnist-mlp-*"))  # no trial started


# -- a real server --------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("password", "database", "reason"), [
    ("wrong-pw", "zoo_sweeps", 'password authentication failed for user "zoo"'),
    (PASSWORD, "no_such_db", 'database "no_such_db" does not exist'),
])
def test_a_wrong_password_or_database_names_the_storage_with_the_password_masked(
        server: Server, in_tmp_cwd: Path, password: str, database: str, reason: str) -> None:
    registry(in_tmp_cwd)
    root = in_tmp_cwd / "runs"
    for command in (["sweep", "shared", "--runs-dir", str(root)], ["sweeps"]):
        result = run_cli(*command, "--storage", server.url(password, database))
        assert result.exit_code == 2, result.output
        assert f"cannot connect to the sweep storage '{server.url('***', database)}'" in result.stderr
        assert reason in result.stderr and "createdb" in result.stderr
        assert password not in result.output and "Traceback" not in result.output
    assert not list(root.glob("mnist-mlp-*"))
    closed = run_cli("sweeps", "--storage", server.url().replace(str(server.port), str(_free_port())))
    assert closed.exit_code == 2 and "Connection refused" in closed.stderr and PASSWORD not in closed.output


@pytest.mark.slow
def test_a_bare_postgresql_url_reaches_the_server_with_psycopg2_alone(server: Server, in_tmp_cwd: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    registry(in_tmp_cwd)
    monkeypatch.setattr(storage, "_installed", lambda module: module == "psycopg2")  # pip install psycopg2-binary
    opened: list[str] = []
    rdb_storage = storage._rdb_storage
    monkeypatch.setattr(storage, "_rdb_storage", lambda url: opened.append(url) or rdb_storage(url))
    result = run_cli("sweeps", "--storage", server.url(), "--json")
    assert result.exit_code == 0, result.output
    assert opened == [server.url(scheme="postgresql+psycopg2")]
    assert [(row["name"], row["finished"]) for row in json.loads(result.stdout) if row["name"] == "shared"] == \
        [("shared", 0)]


def _sweep(cwd: Path, root: Path, server: Server, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([zoo_executable(), "sweep", "shared", "--runs-dir", str(root), "--storage", server.url(),
                             "--quiet", *args], cwd=cwd, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(what: str, found: Callable[[], bool], processes: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 120
    while not found():
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"a zoo sweep ended ({process.returncode}) before {what}:\n{process.stderr.read()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_three_processes_share_one_study_on_postgresql_and_a_killed_trial_is_counted_once(
        server: Server, in_tmp_cwd: Path) -> None:
    tmp_path = in_tmp_cwd
    registry(tmp_path)
    roots = {name: tmp_path / name for name in ("killed", "first", "second")}  # each process its own runs root
    killed = _sweep(tmp_path, roots["killed"], server, "--set", "epochs=1000")  # a trial that outlives the test
    manifests = roots["killed"].glob
    _wait_for("the first trial trains", lambda: any(
        json.loads(p.read_text()).get("epochs_done", 0) >= 1 for p in manifests("mnist-mlp-*/manifest.json")), [killed])
    others = [_sweep(tmp_path, roots[name], server) for name in ("first", "second")]
    _wait_for("another process runs a trial", lambda: any(
        any(roots[name].glob("mnist-mlp-*/manifest.json")) for name in ("first", "second")), [killed, *others])
    killed.send_signal(signal.SIGKILL)  # mid-trial, while the others train: they find it dead after their trial
    killed.communicate(timeout=60)
    for process in others:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err

    trials = optuna.load_study(study_name="shared", storage=server.url(scheme="postgresql+psycopg")).trials
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == 3  # the target, over every process: none lost, none twice
    assert len({t.user_attrs["run"] for t in complete}) == 3
    assert {t.user_attrs["pid"] for t in complete} <= {process.pid for process in others}
    [lost] = [t for t in trials if t.user_attrs.get("pid") == killed.pid]
    assert lost.state.name == "FAIL" and "died" in lost.user_attrs["error"]
    assert [t.state.name for t in trials if t.params == lost.params] == ["FAIL", "COMPLETE"]  # run again, once
    surplus = [t for t in trials if t.state.name != "COMPLETE" and t.number != lost.number]
    assert all(str(t.user_attrs.get("error")).startswith("not needed") for t in surplus), surplus  # a start race

    [killed_run] = [p.name for p in roots["killed"].glob("mnist-mlp-*")]
    rows = json.loads(run_cli("runs", "--runs-dir", str(roots["killed"]), "--json").stdout)
    assert [(row["id"], row["status"], row["sweep"]) for row in rows] == \
        [(killed_run, "interrupted", f"shared#{lost.number}")]
    progress = run_cli("sweeps", "--storage", server.url(), "--runs-dir", str(roots["first"]), "--json")
    [row] = [row for row in json.loads(progress.stdout) if row["name"] == "shared"]
    assert (row["status"], row["finished"]) == ("done", 3)
