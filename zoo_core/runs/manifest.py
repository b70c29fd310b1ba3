"""manifest.json: a run's status and record, rewritten atomically on every change."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from zoo_core import __version__
from zoo_core.files import write_json_atomic


class Manifest:
    """manifest.json of one run, rewritten atomically on every change."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self.save()

    def update(self, **values: Any) -> None:
        self.data.update(values)
        self.save()

    def save(self) -> None:
        write_json_atomic(self.path, self.data)

    def record(self, **values: Any) -> bool:
        """Like :meth:`update`, but never raises (used while reporting another failure)."""
        self.data.update(values)
        try:
            self.save()
            return True
        except Exception:  # noqa: BLE001 - e.g. the disk is full: the status then reads from the lock
            return False


def versions() -> dict[str, str]:
    """Versions of Python, TensorFlow, Keras and zoo, without importing TensorFlow."""
    def version_of(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"python": platform.python_version(), "tensorflow": version_of("tensorflow"),
            "keras": version_of("keras"), "zoo": __version__}
