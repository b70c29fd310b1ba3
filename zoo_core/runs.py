"""Run directories: creating them safely, finding them again, reading their records.

A run directory is never reused: its name is the recipe, a UTC timestamp and
a random suffix, created with ``mkdir`` (which fails if it exists), so two
runs started at the same moment get two directories. Layout::

    runs/<recipe>-<YYYYmmdd-HHMMSS>-<xxxx>/
        config.toml   manifest.json   history.csv   metrics.json
        model.keras   plots/   report.md   exports/   checkpoint/
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from zoo_core.errors import RunError

RUNS_ROOT_ENV = "ZOO_RUNS_DIR"
STATUSES = ("running", "completed", "failed", "interrupted")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


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


def create_run_dir(root: Path, recipe: str) -> Path:
    """Create a new, unique run directory under ``root``; check it is writable."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".zoo-write-test-{secrets.token_hex(4)}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        raise RunError(f"cannot write to the runs root '{root}': {error.strerror or error}",
                       hint="choose a writable folder with --runs-dir or ZOO_RUNS_DIR") from None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for _ in range(20):
        directory = root / f"{safe_name(recipe)}-{stamp}-{secrets.token_hex(2)}"
        try:
            directory.mkdir()
            return directory
        except FileExistsError:
            continue
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
            return json.loads((self.dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"status": "unknown", "run_id": self.id}

    def status(self) -> str:
        """The recorded status; a 'running' run whose process is gone is 'interrupted'."""
        manifest = self.manifest()
        status = manifest.get("status", "unknown")
        if status == "running" and not _process_alive(manifest.get("pid"), manifest.get("host")):
            return "interrupted"
        return status

    def config_table(self) -> dict[str, Any]:
        """The run's config.toml as a table."""
        path = self.dir / "config.toml"
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"run '{self.id}' has no config.toml", hint="is this a zoo run directory?") from None
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise RunError(f"{path}: cannot read: {error}") from None

    def metrics(self) -> dict[str, Any]:
        """metrics.json, or an empty dict."""
        try:
            return json.loads((self.dir / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}


def _process_alive(pid: Any, host: Any) -> bool:
    """Whether the process that wrote a 'running' manifest still runs (on this host)."""
    import socket

    if not isinstance(pid, int) or host != socket.gethostname():
        return True  # cannot tell from here: trust the record
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_runs(root: Path) -> list[Run]:
    """Every run directory under ``root``, newest first."""
    if not root.is_dir():
        return []
    runs = [Run(path) for path in root.iterdir() if (path / "config.toml").is_file() or (path / "manifest.json").is_file()]
    return sorted(runs, key=lambda run: (run.manifest().get("started", ""), run.id), reverse=True)


def find_run(reference: str, root: Path) -> Run:
    """A run from a directory path, a run id under ``root``, or a recipe name (its latest completed run)."""
    path = Path(reference)
    if path.is_dir() and ((path / "config.toml").is_file() or (path / "manifest.json").is_file()):
        return Run(path)
    if reference and safe_name(reference) == reference and (root / reference).is_dir():
        return Run(root / reference)
    runs = list_runs(root)
    completed = [run for run in runs if run.manifest().get("recipe") == reference and run.status() == "completed"]
    if completed:
        return completed[0]
    recent = ", ".join(run.id for run in runs[:5]) or "none yet"
    if any(run.manifest().get("recipe") == reference for run in runs):
        raise RunError(f"recipe '{reference}' has no completed run in '{root}'",
                       hint="'zoo runs' lists runs and their status; resume one with 'zoo resume RUN'")
    raise RunError(f"no run '{reference}': not a run directory, a run id in '{root}', or a recipe with a completed run",
                   hint=f"recent runs: {recent} ('zoo runs' lists them; --runs-dir sets the root)")
