"""Which process works in a run directory: an exclusive ``flock`` on ``<run>/.lock``.

The operating system drops the lock when the process ends, however it ends
(even SIGKILL), so a 'running' manifest whose lock is free belongs to a dead
process. Where ``flock`` is not available the recorded pid is checked instead.

The lock file exists only while it is needed: a process that releases the
lock of a run whose manifest no longer says 'running' (completed, failed,
interrupted) removes the file, while still holding the lock. Whoever takes
the lock checks afterwards that the file it locked is still the one at
``<run>/.lock`` (and starts again if not), so two processes never both hold
it. A run whose manifest still says 'running' keeps its file: it is what
tells a live run from a killed one.

The lock file is opened without following links and must be a plain file
with no other name: a link planted at ``.lock`` (or anywhere in the run) is
refused (``zoo_core.runs.links``), never written through.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from zoo_core.errors import RunError
from zoo_core.files import describe_os_error
from zoo_core.runs.links import NOFOLLOW, check_no_links, link_error

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
        """Take the lock, or raise RunBusy naming the process that holds it (LinkInRun if the run holds a link)."""
        check_no_links(self.directory, what)
        if fcntl is None:  # pragma: no cover
            return self
        path = self.directory / LOCK_FILE
        for _ in range(100):  # another process may remove the file between our open and our flock: retry
            fd = self._open(path, what)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = lock_holder(fd, path)
                os.close(fd)
                raise RunBusy(f"cannot {what} run '{self.directory.name}': another zoo process"
                              + (f" (pid {pid})" if pid else "") + " is working in it",
                              hint="wait for it to finish, or stop it first (Ctrl-C) and try again") from None
            if _same_file(fd, path):
                self._fd = fd
                _write_holder(fd)
                return self
            os.close(fd)  # we locked a file that was just removed: lock the new one
        raise RunError(f"cannot {what} run '{self.directory.name}': its lock file keeps changing",
                       hint="another zoo process is starting and finishing in it; try again")

    def _open(self, path: Path, what: str) -> int:
        """Open (or create) the lock file, never through a link; refuse one that is not zoo's own plain file."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | NOFOLLOW | getattr(os, "O_NONBLOCK", 0), 0o644)
        except OSError as error:
            if path.is_symlink():  # ELOOP: planted since the check in acquire
                raise link_error(self.directory, path, what) from None
            raise RunError(f"cannot {what} run '{self.directory.name}': cannot open {path}: "
                           f"{describe_os_error(error)}") from None
        found = os.fstat(fd)
        problem = ("is not a plain file" if not stat.S_ISREG(found.st_mode)
                   else f"is a hard link (the same file as {found.st_nlink - 1} other name(s))"
                   if found.st_nlink > 1 else "")
        if problem:
            os.close(fd)
            raise link_error(self.directory, path, what, problem)
        return fd

    def release(self) -> None:
        """Drop the lock; remove the lock file first if the run is no longer 'running' (nothing to tell apart)."""
        if self._fd is None:
            return
        try:
            path = self.directory / LOCK_FILE
            if _recorded_status(self.directory) != "running" and _same_file(self._fd, path):
                try:
                    path.unlink()  # while still holding the lock: a waiting process then sees the file changed
                except OSError:
                    pass  # a read-only folder: the empty file stays, harmlessly
        finally:
            try:
                os.close(self._fd)  # closing drops the flock
            finally:
                self._fd = None

    def __enter__(self) -> "RunLock":
        return self if self._fd is not None else self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _write_holder(fd: int) -> None:
    """Write 'PID HOST' into the lock file we hold, so a process that finds it busy can name us."""
    import socket

    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
    except OSError:  # a full disk: the lock holds all the same, it is only not named
        pass


def lock_holder(fd: int, path: Path) -> int | None:
    """The pid of the live process that holds the flock on the file open as ``fd``, or None if unknown.

    The kernel's table of locks (``/proc/locks``, Linux) is the truth; else
    the pid the holder wrote into the lock file, if that process lives on
    this host. Never the pid manifest.json records: that process may be long
    dead while another one (an export, a resume) holds the lock.
    """
    try:
        here = os.fstat(fd)
    except OSError:
        return None
    held = _kernel_holder(here.st_dev, here.st_ino)
    if held is not None:
        return held
    try:
        pid_text, _, host = path.read_text(encoding="utf-8").strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    import socket

    if host != socket.gethostname() or pid == os.getpid() or not _alive(pid):
        return None
    return pid


def _kernel_holder(device: int, inode: int) -> int | None:
    """The pid /proc/locks gives for a FLOCK on (device, inode), or None (no such table, or not listed)."""
    wanted = f"{os.major(device):02x}:{os.minor(device):02x}:{inode}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            try:
                pid = int(fields[4])
            except ValueError:
                continue
            if pid > 0:
                return pid
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _recorded_status(directory: Path) -> Any:
    """The status manifest.json records, or None."""
    return _manifest_value(directory, "status")


def _manifest_value(directory: Path, key: str) -> Any:
    try:
        return json.loads((directory / "manifest.json").read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError, AttributeError):
        return None


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file at ``path`` (not removed, replaced, or replaced by a link)."""
    try:
        here, there = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def lock_held(path: Path) -> bool | None:
    """True if another open file description holds ``path``'s flock, False if free, None if unknown."""
    if fcntl is None or path.is_symlink() or not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | getattr(os, "O_NONBLOCK", 0))  # never a link, never waits
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
