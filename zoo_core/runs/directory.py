"""Run directories: creating them safely, finding them again, reading their records.

A run directory is never reused: its name is the recipe, a UTC timestamp and
a random suffix, created with ``mkdir`` (which fails if it exists), so two
runs started at the same moment get two directories. Layout::

    runs/<recipe>-<YYYYmmdd-HHMMSS>-<xxxxxx>/
        config.toml   manifest.json   history.csv   metrics.json
        model.keras   plots/   report.md   exports/   checkpoint/
        .lock         (while a process works in it, or left by a killed one: zoo_core.runs.lock)

Run references from the user (``zoo evaluate REF``) are a run id under the
runs root, an existing run directory, or a recipe name; nothing else is
looked up, so a reference such as ``../../etc`` cannot reach outside the
runs root unless it is itself a zoo run directory. A run that holds a link
is refused (``zoo_core.runs.links``): zoo would write or read through it.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo_core._util.toml import read_toml
from zoo_core.errors import RunError
from zoo_core.files import describe_os_error
from zoo_core.runs.formats import check_format
from zoo_core.runs.links import check_no_links
from zoo_core.runs.lock import LOCK_FILE, lock_held, process_alive
from zoo_core.runs.manifest import MANIFEST_FORMAT

RUNS_ROOT_ENV = "ZOO_RUNS_DIR"
STATUSES = ("running", "completed", "failed", "interrupted", "pruned")  # pruned: stopped early by zoo sweep
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: A name that is one folder as it is, never a path (a run id; a sweep's name, zoo_core.sweeps.definition):
#: letters, digits, '.', '_' and '-', not starting with '.' or '-' (so never '.' or '..').
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


class RunNotFound(RunError):
    """A run reference (id, directory or recipe) that points at no usable run: a user mistake."""

    exit_code = 2


def runs_root(path: str | Path | None = None) -> Path:
    """The runs root: ``path``, else ``$ZOO_RUNS_DIR``, else ``./runs``."""
    return Path(path or os.environ.get(RUNS_ROOT_ENV) or "runs")


#: The longest name safe_name returns: a run directory adds a 23-character stamp, an export file a variant
#: and a suffix, and file systems allow 255 bytes per name.
MAX_NAME = 80


def safe_name(text: str) -> str:
    """A file-system-safe version of a name (no separators, no '..'), at most :data:`MAX_NAME` characters.

    A longer name keeps its first characters and ends in a short hash of the
    whole, so two long names that differ only at the end stay apart.
    """
    cleaned = _SAFE.sub("-", text).strip(".-")
    if len(cleaned) > MAX_NAME:
        import hashlib

        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        cleaned = f"{cleaned[: MAX_NAME - 9].rstrip('.-')}-{digest}"
    return cleaned or "run"


def utc_now() -> str:
    """The current UTC time, ISO 8601, seconds precision."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def check_writable(root: Path, needed_bytes: int = 0, what: str = "the runs root",
                   hint: str = "choose a writable folder with --runs-dir or ZOO_RUNS_DIR") -> None:
    """Refuse, with a clear RunError, a folder that cannot be created or written, or is nearly full.

    Writes (and fsyncs) a small probe file, then checks that ``needed_bytes``
    plus a margin are free. Called before any training starts (and by
    evaluate and export, for the run directory and the export folder).
    ``what`` names the folder in the message, ``hint`` says what to do.
    """
    probe = root / f".zoo-write-test-{os.urandom(4).hex()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(probe, "xb") as handle:
            handle.write(b"zoo write test\n" * 64)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise RunError(f"cannot write to {what} '{root}': {describe_os_error(error)}",
                       hint=hint + (", or free some disk space" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "")
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


def create_run_dir(root: Path, recipe: str) -> Path:
    """Create a new, unique run directory under ``root``; check it is writable."""
    check_writable(root)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for _ in range(50):
        directory = root / f"{safe_name(recipe)}-{stamp}-{os.urandom(3).hex()}"
        try:
            directory.mkdir()
            return directory
        except FileExistsError:
            continue
        except OSError as error:
            raise RunError(f"cannot create a run directory in '{root}': {describe_os_error(error)}",
                           hint="choose a writable folder with --runs-dir or ZOO_RUNS_DIR") from None
    raise RunError(f"could not create a new run directory in '{root}'")


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

    def check_format(self) -> None:
        """Refuse a run whose manifest.json a newer zoo wrote (NewerFormat, exit code 2) or whose format is damaged."""
        try:
            check_format(self.dir / "manifest.json", self.manifest(), MANIFEST_FORMAT)
        except RunError:
            raise
        except ValueError as error:
            raise RunError(f"run '{self.id}': its manifest.json is damaged: {error}",
                           hint=f"restore it, or start a new run from its config: zoo run --config "
                                f"{self.dir / 'config.toml'}") from None

    def process_alive(self, manifest: dict[str, Any] | None = None) -> bool:
        """Whether a process still works in this run: its lock is held (or, without a lock file, its pid lives)."""
        held = lock_held(self.dir / LOCK_FILE)
        if held is not None:
            return held
        manifest = self.manifest() if manifest is None else manifest
        return process_alive(manifest.get("pid"), manifest.get("host"))

    def config_table(self) -> dict[str, Any]:
        """The run's config.toml as a table."""
        path = self.dir / "config.toml"
        if not path.exists():
            raise RunError(f"run '{self.id}' has no config.toml", hint="is this a zoo run directory?")
        return read_toml(path, error=RunError,
                         hint="if config.toml was edited by hand, fix it; otherwise start a new run with the same "
                              "settings (zoo run RECIPE --set ...)")[0]

    def model_file(self, hint: str) -> Path:
        """The run's model.keras; a RunError saying the run has none (with ``hint``) if it is missing."""
        path = self.dir / "model.keras"
        if not path.is_file():
            raise RunError(f"run '{self.id}' has no model.keras (status: {self.status()})", hint=hint)
        return path

    def metrics(self) -> dict[str, Any]:
        """metrics.json, or an empty dict."""
        try:
            return json.loads((self.dir / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}


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
    (exit code 2) with the recent runs as a hint otherwise, LinkInRun
    (exit code 2) for a run that holds a symbolic link, and NewerFormat (exit
    code 2) for a run whose manifest.json a newer zoo wrote.
    """
    run = _find_run(str(reference), root, statuses, allow_paths)
    check_no_links(run.dir)
    run.check_format()
    return run


def _find_run(reference: str, root: Path, statuses: tuple[str, ...], allow_paths: bool) -> Run:
    if not reference.strip():
        raise RunNotFound("no run given: pass a run id, a run directory or a recipe name",
                          hint="'zoo runs' lists the runs")
    if "\x00" in reference:
        raise RunNotFound(f"no run {reference!r}: a run reference cannot contain NUL characters")
    plain = PLAIN_NAME.match(reference) is not None and reference not in (".", "..")
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
    mine = [run for run in runs if run.manifest().get("recipe") == reference]
    if not plain and not mine:  # a recipe's name may hold '/' too (its run directory's name is cleaned)
        if not allow_paths:
            raise RunNotFound(f"no run '{reference}': give a run id (a folder name in '{root}'), not a path",
                              hint=where_hint)
        what = "does not exist" if not os.path.lexists(reference) else "is not a zoo run directory (no manifest.json)"
        raise RunNotFound(f"no run '{reference}': the path {what}", hint=where_hint)
    if plain and (root / reference).exists() and not _inside(root / reference, root):
        raise RunNotFound(f"no run '{reference}': it points outside the runs root '{root}'", hint=where_hint)
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
