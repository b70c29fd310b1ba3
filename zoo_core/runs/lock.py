"""Which process works in a run directory: an exclusive ``flock`` on ``<run>/.lock``.

The operating system drops the lock when the process ends, however it ends
(even SIGKILL), so a 'running' manifest whose lock is free belongs to a dead
process. Where ``flock`` is not available the recorded pid is checked instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from zoo_core.errors import RunError
from zoo_core.files import describe_os_error

try:  # POSIX; elsewhere liveness falls back to the recorded pid
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"


class RunBusy(RunError):
    """Another zoo process is working in this run directory."""


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
            pid = _recorded_pid(self.directory)
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


def _recorded_pid(directory: Path) -> Any:
    """The pid manifest.json records (for messages), or None."""
    try:
        return json.loads((directory / "manifest.json").read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError, AttributeError):
        return None


def lock_held(path: Path) -> bool | None:
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


def process_alive(pid: Any, host: Any) -> bool:
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
