"""Run directories: creating them safely, finding them again, reading their records.

A run directory is never reused: its name is the recipe, a UTC timestamp and
a random suffix, created with ``mkdir`` (which fails if it exists), so two
runs started at the same moment get two directories. Layout::

    runs/<recipe>-<YYYYmmdd-HHMMSS>-<xxxxxx>/
        config.toml   manifest.json   history.csv   metrics.json
        model.keras   plots/   report.md   exports/   checkpoint/   .lock

The process working in a run directory holds an exclusive ``flock`` on its
``.lock`` file. The operating system drops the lock when the process ends,
however it ends (even SIGKILL), so a 'running' manifest whose lock is free
belongs to a dead process: :meth:`Run.status` reports it as 'interrupted'.
Where ``flock`` is not available the recorded pid is checked instead.

Run references from the user (``zoo evaluate REF``) are a run id under the
runs root, an existing run directory, or a recipe name; nothing else is
looked up, so a reference such as ``../../etc`` cannot reach outside the
runs root unless it is itself a zoo run directory.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo_core._util.toml import read_toml
from zoo_core.errors import RunError

try:  # POSIX; elsewhere liveness falls back to the recorded pid
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

RUNS_ROOT_ENV = "ZOO_RUNS_DIR"
STATUSES = ("running", "completed", "failed", "interrupted")
LOCK_FILE = ".lock"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RUN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")

#: errno values that mean "the disk or the folder will not take this write".
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                errno.EFBIG, errno.EISDIR, errno.ENOENT}
#: errno values that mean the disk itself takes no more writes: nothing later in the run can succeed.
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


class RunNotFound(RunError):
    """A run reference (id, directory or recipe) that points at no usable run: a user mistake."""

    exit_code = 2


class RunBusy(RunError):
    """Another zoo process is working in this run directory."""


def runs_root(path: str | Path | None = None) -> Path:
    """The runs root: ``path``, else ``$ZOO_RUNS_DIR``, else ``./runs``."""
    return Path(path or os.environ.get(RUNS_ROOT_ENV) or "runs")


def safe_name(text: str) -> str:
    """A file-system-safe version of a name (no separators, no '..')."""
    cleaned = _SAFE.sub("-", text).strip(".-")
    return cleaned or "run"


def utc_now() -> str:
    """The current UTC time, ISO 8601, seconds precision."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def check_writable(root: Path, needed_bytes: int = 0) -> None:
    """Refuse, with a clear RunError, a runs root that cannot be created or written, or is nearly full.

    Writes (and fsyncs) a small probe file, then checks that ``needed_bytes``
    plus a margin are free. Called before any training starts.
    """
    probe = root / f".zoo-write-test-{secrets.token_hex(4)}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(probe, "xb") as handle:
            handle.write(b"zoo write test\n" * 64)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise RunError(f"cannot write to the runs root '{root}': {describe_os_error(error)}",
                       hint="choose a writable folder with --runs-dir or ZOO_RUNS_DIR"
                            + (", or free some disk space" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "")
                       ) from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    if needed_bytes > 0:
        try:
            free = shutil.disk_usage(root).free
        except OSError:
            return
        if free < needed_bytes:
            raise RunError(f"not enough free disk space in the runs root '{root}': {free / 2**20:.0f} MB free, "
                           f"about {needed_bytes / 2**20:.0f} MB needed for checkpoints, model, plots and exports",
                           hint="free some space, or choose another folder with --runs-dir or ZOO_RUNS_DIR")


def describe_os_error(error: OSError) -> str:
    """A short reason for an OSError: 'No space left on device', 'Not a directory', ..."""
    if error.errno == errno.ENOSPC:
        return "no space left on the device (the disk is full)"
    if error.errno == errno.EDQUOT:
        return "disk quota exceeded"
    return error.strerror or str(error) or type(error).__name__


def create_run_dir(root: Path, recipe: str) -> Path:
    """Create a new, unique run directory under ``root``; check it is writable."""
    check_writable(root)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for _ in range(50):
        directory = root / f"{safe_name(recipe)}-{stamp}-{secrets.token_hex(3)}"
        try:
            directory.mkdir()
            return directory
        except FileExistsError:
            continue
        except OSError as error:
            raise RunError(f"cannot create a run directory in '{root}': {describe_os_error(error)}",
                           hint="choose a writable folder with --runs-dir or ZOO_RUNS_DIR") from None
    raise RunError(f"could not create a new run directory in '{root}'")


class RunLock:
    """An exclusive lock on a run directory, held while a process trains or exports in it.

    ``flock`` on ``<run>/.lock``; the kernel releases it when the process
    exits, even on SIGKILL. Use as a context manager or call :meth:`release`.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None

    def acquire(self, what: str = "use") -> "RunLock":
        if fcntl is None:  # pragma: no cover
            return self
        path = self.directory / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise RunError(f"cannot {what} run '{self.directory.name}': cannot open {path}: "
                           f"{describe_os_error(error)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            pid = Run(self.directory).manifest().get("pid")
            raise RunBusy(f"cannot {what} run '{self.directory.name}': another zoo process"
                          + (f" (pid {pid})" if pid else "") + " is working in it",
                          hint="wait for it to finish, or stop it first (Ctrl-C) and try again") from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)  # closing drops the flock
            finally:
                self._fd = None

    def __enter__(self) -> "RunLock":
        return self if self._fd is not None else self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


@dataclass
class Run:
    """A run directory and what it records."""

    dir: Path

    @property
    def id(self) -> str:
        return self.dir.name

    def manifest(self) -> dict[str, Any]:
        """manifest.json, or a stub if it is missing or unreadable."""
        try:
            data = json.loads((self.dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        return data if isinstance(data, dict) else {"status": "unknown", "run_id": self.id}

    def status(self) -> str:
        """The recorded status; a 'running' run whose process is gone is 'interrupted'."""
        manifest = self.manifest()
        status = manifest.get("status")
        if status not in STATUSES:
            return "unknown"
        if status == "running" and not self.process_alive(manifest):
            return "interrupted"
        return status

    def process_alive(self, manifest: dict[str, Any] | None = None) -> bool:
        """Whether a process still works in this run: its lock is held (or, without a lock file, its pid lives)."""
        held = _lock_held(self.dir / LOCK_FILE)
        if held is not None:
            return held
        manifest = self.manifest() if manifest is None else manifest
        return _process_alive(manifest.get("pid"), manifest.get("host"))

    def config_table(self) -> dict[str, Any]:
        """The run's config.toml as a table."""
        path = self.dir / "config.toml"
        if not path.exists():
            raise RunError(f"run '{self.id}' has no config.toml", hint="is this a zoo run directory?")
        return read_toml(path, error=RunError,
                         hint="if config.toml was edited by hand, fix it; otherwise start a new run with the same "
                              "settings (zoo run RECIPE --set ...)")[0]

    def metrics(self) -> dict[str, Any]:
        """metrics.json, or an empty dict."""
        try:
            return json.loads((self.dir / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}


def _lock_held(path: Path) -> bool | None:
    """True if another open file description holds ``path``'s flock, False if free, None if unknown."""
    if fcntl is None or not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # also releases the probe's lock if it got it
    return False


def _process_alive(pid: Any, host: Any) -> bool:
    """Whether the process that wrote a 'running' manifest still runs (on this host)."""
    import socket

    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 1 or host != socket.gethostname():
        return True  # cannot tell from here: trust the record
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a zoo run directory (a folder with a manifest.json or config.toml)."""
    try:
        return path.is_dir() and ((path / "manifest.json").is_file() or (path / "config.toml").is_file())
    except OSError:
        return False


def list_runs(root: Path) -> list[Run]:
    """Every run directory under ``root``, newest first."""
    try:
        if not root.is_dir():
            return []
        runs = [Run(path) for path in root.iterdir()
                if not path.name.startswith(".") and is_run_dir(path) and _inside(path, root)]
    except OSError as error:
        raise RunError(f"cannot read the runs root '{root}': {describe_os_error(error)}",
                       hint="choose another folder with --runs-dir or ZOO_RUNS_DIR") from None
    return sorted(runs, key=lambda run: (str(run.manifest().get("started") or ""), run.id), reverse=True)


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


def find_run(reference: str, root: Path, statuses: tuple[str, ...] = ("completed",),
             allow_paths: bool = True) -> Run:
    """A run from a run id under ``root``, a run directory path, or a recipe name.

    A recipe name means its latest run whose status is in ``statuses``
    (completed, by default; ``zoo resume`` asks for interrupted or failed).
    A run id must be a plain name (no '/' or '..') and resolve inside
    ``root`` (a symlink out of the root is refused). A path (anything with a
    separator) is accepted only if it is a zoo run directory, and only when
    ``allow_paths`` (the CLI allows them, as README says; a service taking
    references from untrusted users should pass False). Raises RunNotFound
    (exit code 2) with the recent runs as a hint otherwise.
    """
    reference = str(reference)
    if not reference.strip():
        raise RunNotFound("no run given: pass a run id, a run directory or a recipe name",
                          hint="'zoo runs' lists the runs")
    if "\x00" in reference:
        raise RunNotFound(f"no run {reference!r}: a run reference cannot contain NUL characters")
    plain = _RUN_ID.match(reference) is not None and reference not in (".", "..")
    if plain:
        candidate = root / reference
        if is_run_dir(candidate) and _inside(candidate, root):
            return Run(candidate)
    elif allow_paths:
        path = Path(reference)
        if is_run_dir(path):
            return Run(path)
    runs = list_runs(root)
    recent = ", ".join(run.id for run in runs[:5]) or "none yet"
    where_hint = f"recent runs in '{root}': {recent} ('zoo runs' lists them; --runs-dir sets the root)"
    if not plain:
        if not allow_paths:
            raise RunNotFound(f"no run '{reference}': give a run id (a folder name in '{root}'), not a path",
                              hint=where_hint)
        what = "does not exist" if not os.path.lexists(reference) else "is not a zoo run directory (no manifest.json)"
        raise RunNotFound(f"no run '{reference}': the path {what}", hint=where_hint)
    if plain and (root / reference).exists() and not _inside(root / reference, root):
        raise RunNotFound(f"no run '{reference}': it points outside the runs root '{root}'", hint=where_hint)
    mine = [run for run in runs if run.manifest().get("recipe") == reference]
    matching = [run for run in mine if run.status() in statuses]
    if matching:
        return matching[0]
    if mine:
        wanted = " or ".join(statuses)
        seen = ", ".join(f"{run.id} ({run.status()})" for run in mine[:3])
        hint = ("'zoo runs' lists runs and their status; resume one with 'zoo resume RUN'"
                if "completed" in statuses else "'zoo runs' lists runs and their status")
        raise RunNotFound(f"recipe '{reference}' has no {wanted} run in '{root}' (its latest: {seen})", hint=hint)
    raise RunNotFound(f"no run '{reference}': not a run id in '{root}', a run directory, or a recipe with a run there",
                      hint=where_hint)
