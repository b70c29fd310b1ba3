"""The run's callback components (``callbacks = [...]``): built, their states saved, told how the run ended.

The contract is in zoo_core.hookspecs (``register_callbacks``), in
:class:`~zoo_core.training.callbacks.context.ZooCallback` and in
docs/plugins.md. Their parameters are checked before any work
(zoo_core.training.parameter_checks); here: :func:`build_components` makes
each with its :class:`~zoo_core.training.callbacks.context.CallbackContext`,
:func:`checkpoint_extra` is what a checkpoint keeps of them (their states,
why one stopped training), and :func:`told_the_end` hands them the
:class:`~zoo_core.training.callbacks.context.RunSummary`.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from zoo_core._util.text import printable
from zoo_core.errors import ConfigError, ZooError
from zoo_core.registry import ComponentChoice
from zoo_core.training.callbacks.context import CallbackContext, RunSummary
from zoo_core.training.session import RunSession


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


def build_components(session: RunSession, steps_per_epoch: int) -> list[Built]:
    """Build each callback component of the run with its context (a resume hands each its saved state)."""
    config, prepared, run_dir = session.config, session.prepared, session.run.dir
    saved = (prepared.checkpoint or {}).get("callbacks") or {}
    built = []
    for key, choice in zip(keys(config.callbacks), config.callbacks):
        state = saved.get(key)
        context = CallbackContext(run_dir=run_dir, run_id=run_dir.name, recipe=None if config.recipe == "adhoc"
                                  else config.recipe, config=config.to_dict(), settings=dict(config.settings),
                                  dataset=prepared.dataset.info, name=key, is_chief=session.strategy.is_chief,
                                  initial_epoch=prepared.first_epoch, steps_per_epoch=steps_per_epoch,
                                  history=[dict(row) for row in prepared.rows],
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
