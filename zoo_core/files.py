"""Writing files safely: atomic writes, staging beside the destination, and what an OSError means.

Each helper writes to a temporary file in the destination's own directory (so
the final ``os.replace`` is a rename on one file system) and removes it if
anything fails. The staging helpers below do the same for artifacts that must
never overwrite anything (exports); ``zoo_core.export.staged`` combines them.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    Create the file at the yielded path inside the ``with`` block (it does not
    exist yet, so it gets the usual permissions). If the block raises, the
    temporary file is removed and ``path`` is left untouched. The parent
    directory is created if needed. The temporary name is hidden, unique, and
    keeps the final suffix (e.g. ``.png``) for tools that infer a format from it.
    For single files only; folders go through :func:`move_into_place`.

    Links are never written through: a link at ``path`` is replaced by the
    rename (what it points to is left as it was), and the temporary's name is
    drawn at random, unused, when the block starts, so no link can wait there
    (zoo's own writers also open it with ``"x"``, which refuses any existing name).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = _unused_name(final, 12, final.suffix)
    try:
        yield temporary
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (flushed to disk first) and return the path."""
    with atomic_path(path) as temporary:
        with open(temporary, "x", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON (plus a final newline) to ``path`` atomically."""
    return write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# --- staging: write beside the final place, move into place, leave nothing behind on failure ---


def make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, deepest first.

    Pass the list to :func:`remove_empty_folders` on failure so that an export
    that did not succeed leaves not even an empty folder behind.
    """
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove each folder if it is empty (deepest first, as :func:`make_folders` lists them)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


def temporary_beside(final: Path) -> Path:
    """A hidden, unused name in ``final``'s folder for staging (same file system)."""
    return _unused_name(final, 8)


def _unused_name(final: Path, digits: int, suffix: str = "") -> Path:
    """``.NAME.<random hex>.tmp[SUFFIX]`` beside ``final``: a name nothing has, not even a link."""
    while True:
        temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex[:digits]}.tmp{suffix}")
        if not os.path.lexists(temporary):
            return temporary


def move_into_place(temporary: Path, final: Path) -> None:
    """Move a verified file or folder to its final name; never overwrite.

    ``temporary`` must be on the same file system (create it beside ``final``)
    so the move is atomic: readers see nothing or everything.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    if temporary.is_file():
        try:
            os.link(temporary, final)  # atomic and never overwrites, even if another process races us
        except FileExistsError:
            raise FileExistsError(f"{final} already exists") from None
        except OSError:  # a file system without hard links
            os.replace(temporary, final)
        else:
            temporary.unlink()
    else:
        os.rename(temporary, final)  # fails if another process put a non-empty folder there


def remove_quietly(path: Path) -> None:
    """Delete a temporary file or folder if it is there."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink(missing_ok=True)


# --- a killed process's leftovers ---------------------------------------------------------

#: zoo's own hidden temporaries: ``atomic_path``'s ``.NAME.<12 hex>.tmp[.SUFFIX]``, ``temporary_beside``'s (and
#: so ``zoo_core.export.staged``'s and the TFLite exporter's scratch) ``.NAME.<8 hex>.tmp[.SUFFIX]``, the write
#: probe of ``zoo_core.runs.check_writable`` and the manifest's reserve (``zoo_core.runs.manifest``).
_TEMPORARY = re.compile(r"^\..+\.(?:[0-9a-f]{8}|[0-9a-f]{12})\.tmp(?:\.[A-Za-z0-9]{1,12})?$"
                        r"|^\.zoo-write-test-[0-9a-f]{8}$|^\.manifest\.reserve$")


def is_zoo_temporary(name: str) -> bool:
    """Whether a file or folder name is one of zoo's own hidden temporaries (never a user's file name)."""
    return _TEMPORARY.match(name) is not None


def remove_temporaries(folder: Path) -> list[Path]:
    """Remove zoo's hidden temporaries anywhere under ``folder`` (what a killed process left); return them.

    Only names :func:`is_zoo_temporary` accepts are touched, symbolic links
    are never followed, and the caller must make sure no live process writes
    there (hold the run's lock: ``zoo_core.runs.RunLock``).
    """
    removed: list[Path] = []
    for parent, folders, files in os.walk(folder):
        for name in [*folders, *files]:
            if is_zoo_temporary(name):
                path = Path(parent) / name
                try:
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:
                        path.unlink(missing_ok=True)
                except OSError:  # e.g. a read-only folder: it stays, harmlessly
                    continue
                removed.append(path)
        folders[:] = [name for name in folders if not is_zoo_temporary(name)]
    return removed


# --- what an OSError while writing means -------------------------------------------------

#: errno values that mean "the disk or the folder will not take this write".
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                errno.EFBIG, errno.EISDIR, errno.ENOENT}
#: errno values that mean the disk itself takes no more writes: nothing later in the run can succeed.
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def describe_os_error(error: OSError) -> str:
    """A short reason for an OSError: 'No space left on device', 'Not a directory', ..."""
    if error.errno == errno.ENOSPC:
        return "no space left on the device (the disk is full)"
    if error.errno == errno.EDQUOT:
        return "disk quota exceeded"
    return error.strerror or str(error) or type(error).__name__
