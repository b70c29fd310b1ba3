"""Atomic file writes: readers see the old file or the complete new one, never half.

Each helper writes to a temporary file in the destination's own directory (so
the final ``os.replace`` is a rename on one file system) and removes it if
anything fails.
"""

from __future__ import annotations

import errno
import json
import os
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
    For single files only; folders go through ``zoo_core.export.move_into_place``.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.tmp{final.suffix}")
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
