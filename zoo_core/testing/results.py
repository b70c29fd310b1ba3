"""Check results, the report of a component's checks, and the runner that records them."""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from zoo_core._util.text import first_line as text_first_line
from zoo_core.components import KIND_TABLE, KINDS, Component
from zoo_core.errors import ZooError


@dataclass
class CheckResult:
    """The outcome of one check of one component.

    Args:
        kind: the component's kind, e.g. ``"dataset"``.
        name: the component's name.
        check: the check's name, e.g. ``"labels_in_range"``.
        status: ``"passed"``, ``"failed"`` or ``"skipped"`` (a check it needs failed, or it does not apply).
        message: for a failure, which contract was broken and how to fix it.
        seconds: how long the check took.
    """

    kind: str
    name: str
    check: str
    status: str
    message: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True unless the check failed (a skipped check is not a failure of its own)."""
        return self.status != "failed"

    def __str__(self) -> str:
        text = f"{self.status.upper():7} {self.kind} '{self.name}' {self.check}"
        return f"{text}: {self.message}" if self.message else text


class ConformanceError(AssertionError):
    """A component broke one or more contracts; ``results`` holds every check."""

    def __init__(self, results: list[CheckResult]) -> None:
        self.results = results
        super().__init__(report(results))


def report(results: list[CheckResult]) -> str:
    """A readable summary: every failure with its message, then the checks that passed."""
    if not results:
        return "no checks ran"
    first = results[0]
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    passed = [r for r in results if r.status == "passed"]
    lines = [f"{first.kind} '{first.name}' broke {len(failed)} of {len(results)} zoo contract checks"
             if failed else f"{first.kind} '{first.name}' passed {len(passed)} zoo contract checks"
             + (f", {len(skipped)} skipped" if skipped else "")]
    lines += [f"  FAILED {r.check}: {r.message}" for r in failed]
    if skipped:
        lines.append(f"  skipped: {', '.join(f'{r.check} ({r.message})' for r in skipped)}")
    if passed:
        lines.append(f"  passed: {', '.join(r.check for r in passed)}")
    return "\n".join(lines)


class Broken(Exception):
    """Raised inside a check: the message says which contract was broken and how to fix it."""


class Skip(Exception):
    """Raised inside a check that does not apply to this component; the message says why."""


class Checks:
    """Runs named checks in order, recording each result; a check that failed or was skipped
    skips those that need it (their message starts with "needs ")."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind, self.name = kind, name
        self.results: list[CheckResult] = []
        self.blocked: set[str] = set()  # checks that did not pass: failed or skipped

    def run(self, check: str, function: Callable[..., Any], *args: Any, needs: Iterable[str] = ()) -> Any:
        """Run ``function(*args)`` as the check ``check``; return its value, or None if it failed or was skipped."""
        missing = [need for need in needs if need in self.blocked]
        if missing:
            self._record(check, "skipped", f"needs {', '.join(missing)}", 0.0)
            self.blocked.add(check)
            return None
        start = time.perf_counter()
        try:
            value = function(*args)
        except Broken as error:
            self._fail(check, str(error), start)
            return None
        except Skip as error:
            self.blocked.add(check)
            self._record(check, "skipped", str(error), time.perf_counter() - start)
            return None
        except ZooError as error:
            self._fail(check, f"raised {type(error).__name__}: {error}", start)
            return None
        except Exception as error:  # noqa: BLE001 - a factory may raise anything; report it as a failure
            self._fail(check, f"raised {type(error).__name__}: {first_line(error)} "
                              f"(at {where(error)})", start)
            return None
        self._record(check, "passed", "", time.perf_counter() - start)
        return value

    def _fail(self, check: str, message: str, start: float) -> None:
        self.blocked.add(check)
        self._record(check, "failed", message, time.perf_counter() - start)

    def _record(self, check: str, status: str, message: str, seconds: float) -> None:
        self.results.append(CheckResult(self.kind, self.name, check, status, message, round(seconds, 3)))


def first_line(error: BaseException) -> str:
    """The first line of an error's message, or "(no message)"."""
    return text_first_line(str(error)) or "(no message)"


def where(error: BaseException) -> str:
    """The innermost traceback frame outside zoo_core.testing, as file:line."""
    frames = [f for f in inspect.getinnerframes(error.__traceback__, context=0)
              if "zoo_core/testing/" not in f.filename.replace("\\", "/")] if error.__traceback__ else []
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "unknown place"


def refusal(results: list[CheckResult]) -> CheckResult | None:
    """The ``builds`` check skipped because the component refused the example data (e.g. an
    architecture that raised ConfigError for the dataset's input shape), or None."""
    return next((r for r in results if r.check == "builds" and r.status == "skipped"
                 and not r.message.startswith("needs ")), None)


#: Each kind's plural, as users write it in ``kinds=["architectures"]``, to its singular.
_SINGULAR = {**{kind.name: kind.name for kind in KIND_TABLE}, **{kind.plural: kind.name for kind in KIND_TABLE}}


def kind_of(word: str) -> str:
    """The kind ``word`` names, singular or plural (``"architectures"`` -> ``"architecture"``).

    Raises ValueError listing the valid kinds (with a did-you-mean) for any other word.
    """
    if isinstance(word, str) and word.strip().lower() in _SINGULAR:
        return _SINGULAR[word.strip().lower()]
    import difflib

    close = difflib.get_close_matches(str(word).lower(), list(_SINGULAR), n=1, cutoff=0.6)
    guess = f": did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"kind must be one of {', '.join(KINDS)} (or their plurals), got {word!r}{guess}")


def resolve(kind: str, component: str | Component, catalog: Any) -> Component:
    """The Component to check: a name looked up in the catalog, or a spec given directly."""
    kind = kind_of(kind)
    if isinstance(component, Component):
        if component.kind and component.kind != kind:
            raise ValueError(f"component {component.name!r} is of kind {component.kind!r}, not {kind!r}")
        component.kind = kind
        return component
    if catalog is None:
        from zoo_core.plugins import load_catalog

        catalog = load_catalog()
    return catalog.find(kind, component)
