"""Where a run's seconds go: contiguous phases from the process start, for manifest.json's ``timings``.

:class:`PhaseClock` records laps: each :meth:`~PhaseClock.lap` ends the
phase that began where the previous lap ended (the first begins when the
process started, so "startup" holds the interpreter, the imports and the
command line). The phases therefore add up to the run's wall time up to the
last lap, with nothing left out. Work done beside a phase (in another
thread) is recorded apart, in :meth:`~PhaseClock.beside`.
"""

from __future__ import annotations

import os
import time
from typing import Any

#: The phases a ``zoo run`` records, in order (exports add one ``export <format> <variant>`` each).
PHASES = ("startup", "data", "import tensorflow", "model", "setup", "training", "evaluation", "save model", "plots",
          "report")


#: The most the interpreter's own start-up may add before zoo is imported (a process whose /proc start time is
#: older ran something else first and then exec'd zoo, e.g. ``bash -c 'setup; zoo run X'``).
INTERPRETER_STARTUP = 2.0


def process_age() -> float | None:
    """Seconds since this process started (Linux: /proc), or None where that is unknown.

    Capped at the time since zoo was imported plus :data:`INTERPRETER_STARTUP`:
    a process keeps its start time across exec, so a shell that did other work
    before exec'ing ``zoo`` must not count that work as zoo's start-up.
    """
    import zoo_core

    since_import = time.perf_counter() - zoo_core.IMPORTED_AT + INTERPRETER_STARTUP
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        return min(since_import, max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")))
    except (OSError, ValueError, IndexError):
        return None


class PhaseClock:
    """Contiguous phases of one run, in seconds.

    ``from_process_start``: the first phase began when the process did
    (right for the first run of a process: ``zoo run``); otherwise it begins
    now.
    """

    def __init__(self, from_process_start: bool = False) -> None:
        self._mark = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self.background: dict[str, float] = {}
        age = process_age() if from_process_start else None
        if age is not None:
            self._mark -= age

    def lap(self, name: str) -> float:
        """End the current phase as ``name`` (added to any earlier phase of that name); return its seconds."""
        now = time.perf_counter()
        seconds = now - self._mark
        self._mark = now
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 3)
        return seconds

    def beside(self, name: str, seconds: float) -> None:
        """Record work that ran beside the phases (in another thread), which the phases do not add up."""
        self.background[name] = round(seconds, 3)

    def record(self) -> dict[str, Any]:
        """What manifest.json keeps: the phases in order, their total, and the work done beside them."""
        record: dict[str, Any] = dict(self.seconds)
        record["total"] = round(sum(self.seconds.values()), 3)
        if self.background:
            record["beside"] = dict(self.background)
        return record
