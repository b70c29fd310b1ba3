"""manifest.json: a run's status and record, rewritten atomically on every change.

A run's manifest must say how the run ended even when the disk filled up:
while a run trains, :class:`Manifest` keeps a small reserve file
(``<run>/.manifest.reserve``) and, when recording the final status fails for
lack of space, deletes it and writes again. The reserve is written as a new
file (whatever had its name is removed first, a link included): never
through a link (``zoo_core.runs.links``). Every write stamps the file with
its ``format`` and the ``zoo_version`` that wrote it (:func:`write_manifest`);
a manifest in a newer format is refused (``zoo_core.runs.formats``).
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from zoo_core import __version__
from zoo_core.files import DISK_ERRNOS, write_json_atomic
from zoo_core.runs.formats import stamp
from zoo_core.runs.links import NOFOLLOW

#: Version of manifest.json. 1: every manifest so far (those without a ``format`` field too).
MANIFEST_FORMAT = 1

#: The file that keeps room for the last manifest write of a run on a full disk.
RESERVE_FILE = ".manifest.reserve"
#: Its size: many times a manifest's (a few KB), so the final status always fits.
RESERVE_BYTES = 1 << 20


class Manifest:
    """manifest.json of one run, rewritten atomically on every change.

    With ``reserve=True`` (a run that trains) a reserve file keeps room for
    the last write: see :meth:`record` and :meth:`free_reserve`.
    """

    def __init__(self, path: Path, data: dict[str, Any], reserve: bool = False) -> None:
        self.path = path
        self.data = data
        self.save()
        if reserve:
            self._reserve()

    @property
    def reserve_path(self) -> Path:
        """The reserve file beside manifest.json."""
        return self.path.parent / RESERVE_FILE

    def update(self, **values: Any) -> None:
        """Change values and rewrite the file (raises OSError if it cannot)."""
        self.data.update(values)
        self.save()

    def save(self) -> None:
        """Rewrite manifest.json atomically."""
        write_manifest(self.path, self.data)

    def record(self, **values: Any) -> bool:
        """Like :meth:`update`, but never raises (used while reporting another failure).

        On a full disk the reserve file is given up to make room, and the
        write is tried again: the run's final status and reason get recorded.
        """
        self.data.update(values)
        try:
            self.save()
            return True
        except OSError as error:
            if error.errno not in DISK_ERRNOS or not self.free_reserve():
                return False
        except Exception:  # noqa: BLE001 - e.g. a value that is not JSON: the status then reads from the lock
            return False
        try:
            self.save()
            return True
        except Exception:  # noqa: BLE001 - the status then reads from the lock ('interrupted')
            return False

    def free_reserve(self) -> bool:
        """Remove the reserve file; True if there was one (its space is free again)."""
        try:
            self.reserve_path.unlink()
            return True
        except OSError:
            return False

    def _reserve(self) -> None:
        """Write the reserve file (best effort: a disk too full for it fails soon anyway)."""
        try:
            self.reserve_path.unlink(missing_ok=True)  # a resumed run's old reserve, or a link: removed, not followed
            fd = os.open(self.reserve_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as handle:
                handle.write(bytes(RESERVE_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            self.free_reserve()


def write_manifest(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as manifest.json at ``path``, atomically, stamped with its format and this zoo's version."""
    write_json_atomic(path, stamp(data, MANIFEST_FORMAT))


def package_version(name: str) -> str:
    """The installed version of the distribution ``name`` (without importing it), or "not installed"."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Versions of Python, TensorFlow, Keras and zoo, without importing TensorFlow."""
    return {"python": platform.python_version(), "tensorflow": package_version("tensorflow"),
            "keras": package_version("keras"), "zoo": __version__}
