"""Clean stops: SIGINT, SIGTERM and SIGHUP end a run at the next safe point, saved as 'interrupted'.

During an epoch the stop happens after the current call into TensorFlow (at
an epoch's end the epoch is checkpointed first); between an epoch's committed
checkpoint and the next epoch's start (and before the first), where
callbacks such as trackers may wait on a network, it is immediate.
:class:`RunInterrupted`
carries exit code 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP). A second
signal stops at once. Outside training (data loading, set-up, exports) the
stop is immediate, and a :class:`StopRequests` given ``what`` turns it into
a RunInterrupted with the same exit codes, naming the signal. SIGKILL cannot be caught; the checkpoint protocol
(zoo_core.runs.checkpoint) keeps the last committed checkpoint whole anyway.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from zoo_core.errors import ZooError

EXIT_INTERRUPTED = 130


class RunInterrupted(ZooError):
    """Ctrl-C or SIGTERM during a run: the run is saved as interrupted and can be resumed.

    Exit code 130 for SIGINT, 143 for SIGTERM (128 + the signal number).
    """

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, *, hint: str | None = None, signum: int = signal.SIGINT) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = 128 + int(signum)


class StopRequested(KeyboardInterrupt):
    """Raised (at a safe point) when SIGINT or SIGTERM asked the run to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum


def signal_name(signum: int) -> str:
    """'SIGINT', 'SIGTERM'...; 'signal N' for a number Python does not name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopRequests:
    """SIGINT, SIGTERM and SIGHUP handlers that turn a signal into a clean stop.

    While ``defer`` is true (inside an epoch of ``model.fit``, until its
    checkpoint is committed: :meth:`defer_until_committed`, :meth:`committed`)
    the first signal is only recorded and :meth:`pending` hands it to the
    StopAtSafePoint callback;
    otherwise, or on a second signal, StopRequested is raised at once. Only
    the main thread can install handlers; elsewhere this does nothing and
    Python's default Ctrl-C behaviour remains.
    """

    #: Ctrl-C; what orchestrators send (Kubernetes, systemd, docker stop); a closed terminal.
    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self, what: str = "", note: str = "nothing was left half-written") -> None:
        self.what = what  #: e.g. "the export of run 'X'": a stop that escapes the block becomes RunInterrupted
        self.note = note  #: what the message adds after it, e.g. "no run directory was created"
        self.signum: int | None = None
        self.defer = False
        self.quiet = False  # while recording a stop: remember further signals, do not raise
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                try:
                    self._previous[number] = signal.signal(number, self._handle)
                except (ValueError, OSError):  # pragma: no cover - e.g. an embedded interpreter
                    pass
        return self

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        for number, previous in self._previous.items():
            try:
                signal.signal(number, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError):  # pragma: no cover
                pass
        self._previous.clear()
        if isinstance(error, StopRequested) and self.what:
            raise stopped(self.what, error.signum, self.note) from None

    def _handle(self, signum: int, frame: Any) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if self.quiet or (first and self.defer):
            return
        raise StopRequested(signum)

    def pending(self) -> StopRequested | None:
        return StopRequested(self.signum) if self.signum is not None else None

    def defer_until_committed(self) -> None:
        """An epoch starts: a first signal waits for its checkpoint (StopAtSafePoint calls this)."""
        self.defer = True

    def committed(self) -> None:
        """The epoch's checkpoint is committed (the Checkpointer calls this): until the next epoch starts, nothing
        is half written, so a signal stops at once, even while a tracker waits for its server."""
        self.defer = False


def stopped(what: str, signum: int, note: str = "nothing was left half-written") -> RunInterrupted:
    """The error for a signal that stopped ``what`` outside training: exit code 128 + the signal number."""
    name = signal_name(signum)
    by = f"Ctrl-C ({name})" if signum == signal.SIGINT else name
    return RunInterrupted(f"stopped by {by} during {what}" + (f"; {note}" if note else ""), signum=signum)
