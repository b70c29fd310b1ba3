"""The format number of a run's files, and refusing a file written in a format newer than this zoo knows.

manifest.json (:data:`zoo_core.runs.manifest.MANIFEST_FORMAT`) and
``checkpoint/state.json`` (:data:`zoo_core.runs.checkpoint.CHECKPOINT_FORMAT`)
each hold ``format``, a whole number that grows when what the file means
changes, and ``zoo_version``, the version of zoo that wrote it. A file
without ``format`` was written before the field existed: it is the oldest
format, :data:`FIRST_FORMAT`, which every zoo reads. A file in a newer format
than this zoo knows is refused (:class:`NewerFormat`, exit code 2), never read
as if it were current: it was written by a newer zoo, and the fix is to
upgrade zoo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core import __version__
from zoo_core.errors import RunError

#: The format of a file that has no ``format`` field (written before the field existed).
FIRST_FORMAT = 1


class NewerFormat(RunError, ValueError):
    """A run's file in a format newer than this zoo reads: written by a newer zoo; upgrading zoo is the fix.

    A ValueError too, so that code which treats any ValueError from a reader as
    "this file cannot be used" never goes on as if the file were current.
    """

    exit_code = 2


def stamp(data: dict[str, Any], known: int) -> dict[str, Any]:
    """``data`` with its ``format`` (``known``: the format this zoo writes) and this zoo's version (in place)."""
    data["format"] = known
    data["zoo_version"] = __version__
    return data


def check_format(path: Path, data: dict[str, Any], known: int) -> int:
    """The format of the file at ``path`` whose content is ``data``; refuse one newer than ``known``.

    Raises :class:`NewerFormat` naming the file, its format, the zoo that wrote
    it and the fix; ValueError if ``format`` is not a whole number from 1
    (a damaged file: the caller says what to do with it).
    """
    found = data.get("format", FIRST_FORMAT)
    if type(found) is not int or found < FIRST_FORMAT:
        raise ValueError(f"{path}: 'format' must be a whole number from {FIRST_FORMAT}, got {found!r}"[:400])
    if found > known:
        writer = written_by(data)
        by = f"zoo {writer}" if writer else "a newer zoo (it did not record its version)"
        raise NewerFormat(f"{path} is in format {found}, written by {by}; this zoo ({__version__}) reads "
                          f"formats up to {known}",
                          hint=f"upgrade zoo ({'to ' + writer + ' or later, ' if writer else ''}"
                               "pip install --upgrade zoo) to work with this run")
    return found


def written_by(data: dict[str, Any]) -> str | None:
    """The version of zoo that wrote a file: its ``zoo_version``, else a manifest's ``versions.zoo``; None if neither."""
    versions = data.get("versions")
    found = data.get("zoo_version") or (versions.get("zoo") if isinstance(versions, dict) else None)
    return str(found)[:40] if isinstance(found, (str, int, float)) and found else None
