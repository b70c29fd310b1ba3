"""What the datasets that read a user's files (csv, image-folder) share: refusing, before anything is opened,
what is not a regular file or a folder (a link loop, a FIFO, a socket, a device), opening a file so that it
can never block, and short lists in messages.

A FIFO (named pipe) blocks whoever opens it until another process writes
to it: zoo checks what a path is with ``os.stat`` before opening it, opens
with ``O_NONBLOCK`` and checks again on the open file (a file swapped for a
FIFO in between is refused too), so loading never hangs on one.

Importing this module imports nothing heavy.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO, Iterable

from zoo_core.errors import DataError

#: How many items (columns, classes, files) a message names before "... (N more)".
NAMED = 5
#: The hint for a link loop.
LOOP_HINT = "point the link at a real file or folder, or remove it"


class NotRegularFile(OSError):
    """A path that is a FIFO, a socket, a device or a folder where a file was expected (the message says which)."""


def some(items: Iterable[Any], shown: int = NAMED) -> str:
    """``'a, b, c, d, e ... (3 more)'``: the first ``shown`` items, then how many more (messages stay short)."""
    items = list(items)
    named = ", ".join(str(item) for item in items[:shown])
    return named + (f" ... ({len(items) - shown} more)" if len(items) > shown else "")


def shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, cut after ``limit`` characters (a 100 KB cell stays a short line)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


def kind(mode: int) -> str:
    """What a ``st_mode`` is, in words: 'a folder', 'a FIFO (named pipe)'..."""
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def path_mode(path: Path, where: str) -> int | None:
    """``st_mode`` of ``path`` (links followed), None if nothing is there; DataError for a link loop, a link to
    nothing, or a path that cannot be examined (e.g. no permission)."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise DataError(f"{where}: '{path}' is a link to '{os.readlink(path)}', which does not exist",
                            hint=LOOP_HINT) from None
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise DataError(f"{where}: '{path}' is a link loop (a symbolic link that leads back to itself)",
                            hint=LOOP_HINT) from None
        raise DataError(f"{where}: cannot examine '{path}' ({error.strerror or error})",
                        hint="check that the path exists and that you may read it") from None


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading in binary mode; NotRegularFile (or another OSError) unless it is a regular
    file. Never blocks: checked before opening, opened with O_NONBLOCK, checked again on the open file."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(f"{kind(mode)}, not a regular file")
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{kind(mode)}, not a regular file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
