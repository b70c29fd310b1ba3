"""The run's callback components (``callbacks = [...]``): checked before any work, built, saved, told the end.

The contract is in zoo_core.hookspecs (``register_callbacks``) and
docs/plugins.md. Here: :func:`check_requirements` (a component's optional
extra is installed) and :func:`check_callbacks` (each factory accepts its
parameters) run before the run directory exists; :func:`build_callbacks`
makes each callback with its :class:`~zoo_core.training.context.CallbackContext`;
:func:`states` is what the checkpoint saves of them, :func:`stop_record` why
one stopped training, and :func:`run_end` hands them the :class:`RunSummary`.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from zoo_core._util.text import printable
from zoo_core.components import PLURALS
from zoo_core.errors import ConfigError, ZooError
from zoo_core.registry import ComponentChoice, RunConfig
from zoo_core.training.context import CallbackContext, RunSummary


@dataclass
class Built:
    """One callback of the run: its key (the name the run lists it by), its choice and the Keras callback."""

    key: str
    choice: ComponentChoice
    callback: Any

    @property
    def after_checkpoint(self) -> bool:
        """Its ``on_epoch_end`` runs after the epoch's checkpoint is committed (``zoo_after_checkpoint``)."""
        return bool(getattr(self.callback, "zoo_after_checkpoint", False))


def check_requirements(config: RunConfig) -> None:
    """A component whose optional extra is not installed: a ConfigError (exit 2) with the pip command, before any work."""
    for choice in config.choices():
        problem = choice.component.requirement_problem()
        if problem:
            raise ConfigError(f"{choice.kind} '{choice.ref}' {problem}",
                              hint=f"install it, or leave the {choice.kind} out of the run's {PLURALS[choice.kind]}")


def keys(choices: list[ComponentChoice]) -> list[str]:
    """Each callback's key, the same in the run and its resumes: its component's name (``early-stopping``; a
    run's config.toml lists it as ``callbacks:early-stopping``); a second of the same component gets '#2'."""
    found: list[str] = []
    for choice in choices:
        key, number = choice.component.name, 1
        while key in found:
            number += 1
            key = f"{choice.component.name}#{number}"
        found.append(key)
    return found


class _ReachedTheWork(BaseException):
    """A callback factory called by :func:`check_callbacks` got past its parameter checks."""


class CheckContext:
    """The context of :func:`check_callbacks`: settings, config and dataset are real; reading the run's
    directory, id, state, history or runs root means the factory checked its parameters and starts working."""

    def __init__(self, config: RunConfig, dataset_info: Any, name: str) -> None:
        self.recipe, self.config, self.settings = config.recipe, config.to_dict(), dict(config.settings)
        self.dataset, self.name, self.is_chief, self.initial_epoch, self.steps_per_epoch = dataset_info, name, True, 0, 0

    @property
    def epochs(self) -> int:
        return int(self.settings["epochs"])

    def __getattr__(self, name: str) -> Any:  # run_dir, run_id, state, history, runs_root: not yet known
        raise _ReachedTheWork


def check_callbacks(config: RunConfig, dataset_info: Any) -> None:
    """Call each callback factory up to its first use of the run: a ZooError it raises is a ConfigError (exit 2)."""
    for key, choice in zip(keys(config.callbacks), config.callbacks):
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                choice.build(CheckContext(config, dataset_info, key))
        except _ReachedTheWork:
            continue
        except ZooError as error:
            raise ConfigError(f"callback '{choice.ref}' refuses its parameters: {error.message}",
                              hint=error.hint or f"'zoo show {choice.component.name}' lists its parameters; "
                                                 f"e.g. --set callbacks.{choice.ref}.PARAMETER=...") from None
        except Exception:  # noqa: BLE001 - not a parameter check; building it in the run reports it
            continue


def build_callbacks(config: RunConfig, run_dir: Path, dataset_info: Any, *, is_chief: bool, initial_epoch: int,
                    steps_per_epoch: int, history: list[dict], saved: dict[str, Any] | None) -> list[Built]:
    """Build each callback of the run with its context; ``saved`` is the checkpoint's ``callbacks`` record."""
    built = []
    for key, choice in zip(keys(config.callbacks), config.callbacks):
        state = (saved or {}).get(key)
        context = CallbackContext(run_dir=run_dir, run_id=run_dir.name, recipe=None if config.recipe == "adhoc"
                                  else config.recipe, config=config.to_dict(), settings=dict(config.settings),
                                  dataset=dataset_info, name=key, is_chief=is_chief, initial_epoch=initial_epoch,
                                  steps_per_epoch=steps_per_epoch, history=[dict(row) for row in history],
                                  state=dict(state) if isinstance(state, dict) else {}, runs_root=run_dir.parent)
        callback = choice.build(context)
        if not _is_keras_callback(callback):
            raise ConfigError(f"callback '{choice.ref}' returned {type(callback).__name__}, not a "
                              f"keras.callbacks.Callback (a bug in plugin '{choice.component.plugin}'?)")
        built.append(Built(key, choice, callback))
    return built


def _is_keras_callback(value: Any) -> bool:
    import keras

    return isinstance(value, keras.callbacks.Callback)


def states(built: list[Built]) -> dict[str, Any]:
    """``{key: zoo_state()}`` of the callbacks that have one, for the checkpoint (checked to be JSON)."""
    found = {}
    for item in built:
        method = getattr(item.callback, "zoo_state", None)
        if method is None:
            continue
        state = method()
        try:
            json.dumps(state)
        except (TypeError, ValueError) as error:
            raise ZooError(f"callback '{item.key}': zoo_state() must return a JSON-serialisable dict ({error})",
                           hint=f"a bug in plugin '{item.choice.component.plugin}'") from None
        if not isinstance(state, dict):
            raise ZooError(f"callback '{item.key}': zoo_state() returned {type(state).__name__}, not a dict")
        found[item.key] = state
    return found


def stop_record(built: list[Built], epochs_done: int, epochs: int) -> dict[str, Any]:
    """Why training stopped after ``epochs_done`` of ``epochs``: the callback(s) with a ``zoo_stop_reason``."""
    reasons = [(item.key, str(item.callback.zoo_stop_reason)) for item in built
               if getattr(item.callback, "zoo_stop_reason", None)]
    by = ", ".join(key for key, _ in reasons) or "a callback"
    reason = "; ".join(text for _, text in reasons) or "a callback set model.stop_training"
    return {"epoch": epochs_done, "epochs": epochs, "by": by, "reason": reason}


def run_end(built: list[Built], summary: RunSummary) -> list[str]:
    """Call each callback's ``on_run_end(summary)``; a failure is a problem (returned, warned), never a lost run."""
    problems = []
    for item in built:
        method = getattr(item.callback, "on_run_end", None)
        if method is None:
            continue
        try:
            method(summary)
        except Exception as error:  # noqa: BLE001 - a tracker that fails must not fail a trained run
            problem = f"callback {item.key}: on_run_end raised {type(error).__name__}: {error}"
            print(f"zoo: warning: {printable(problem)}", file=sys.stderr, flush=True)
            problems.append(problem)
    return problems


def checkpoint_extra(built: list[Built], epochs_done: int, epochs: int, stopping: bool) -> dict[str, Any]:
    """What a checkpoint keeps of the callbacks: their states, and why training stops if one stops it early."""
    extra: dict[str, Any] = {"callbacks": states(built)}
    if stopping and epochs_done < epochs:
        extra["stopped_early"] = stop_record(built, epochs_done, epochs)
    return extra


def summary(status: str, run_dir: Path, manifest: dict[str, Any], metrics: dict[str, Any] | None = None,
            error: str | None = None) -> RunSummary:
    """The :class:`RunSummary` of a run that ended with ``status``, from its manifest and directory."""
    plots = sorted((run_dir / "plots").glob("*.png")) if (run_dir / "plots").is_dir() else []
    report = run_dir / "report.md"
    files = [run_dir / name for name in ("config.toml", "manifest.json", "history.csv", "metrics.json")]
    return RunSummary(status=status, run_dir=run_dir, metrics=dict(metrics or {}),
                      plots=plots,
                      report=report if status == "completed" and report.is_file() else None,
                      exports=list(manifest.get("exports") or []), files=[path for path in files if path.is_file()],
                      epochs_done=int(manifest.get("epochs_done") or 0), stopped_early=manifest.get("stopped_early"),
                      error=error)


@contextlib.contextmanager
def told_the_end(built: list[Built], run_dir: Path, manifest: Any) -> Iterator[None]:
    """Around fit and finish: call each callback's ``on_run_end`` once the run is completed, failed or interrupted.

    A completed run's callbacks are told after everything is written; what
    they fail at is added to the manifest's ``problems`` (the run shows as
    ``completed*``). A failed or interrupted run's are told before the
    error goes on.
    """
    try:
        yield
    except KeyboardInterrupt:
        run_end(built, summary("interrupted", run_dir, manifest.data, error="interrupted"))
        raise
    except BaseException as error:
        run_end(built, summary("failed", run_dir, manifest.data, error=f"{type(error).__name__}: {error}"))
        raise
    if manifest.data.get("status") != "completed":  # a multi-worker run's other worker: the chief finishes
        return
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metrics = {}
    problems = run_end(built, summary("completed", run_dir, manifest.data, metrics))
    if problems:
        manifest.update(problems=[*manifest.data.get("problems", []), *problems])
