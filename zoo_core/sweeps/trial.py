"""One trial of a sweep: its parameters as ``--set`` keys, run as an ordinary zoo run, its metric read back.

The run directory is a normal one (``zoo runs`` lists it, ``zoo resume``
continues it); its manifest.json carries ``sweep = {name, study, trial}``. A
trial the pruner stops is recorded as ``pruned`` in its manifest (and in the
study); a trial that fails (a bad combination of choices, a NaN loss) is
recorded failed with its reason, and the sweep goes on.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo_core._util.text import error_line
from zoo_core.errors import ZooError
from zoo_core.files import write_json_atomic
from zoo_core.registry import Registry
from zoo_core.runs import list_runs, utc_now
from zoo_core.sweeps.definition import VALIDATION_METRICS, Choice, Range, Sweep, toml_value
from zoo_core.sweeps.study import choice_values, require_optuna, surplus


class TrialFailed(Exception):
    """A trial that failed for a reason recorded in its ``error`` user attribute; the sweep goes on."""


class Surplus(Exception):
    """A trial started when the study already had enough: failed at once, never run."""


@dataclass
class TrialSetup:
    """What every trial of one ``zoo sweep`` shares."""

    sweep: Sweep
    registry: Registry
    root: Path
    overrides: list[str]  #: the command's --set texts
    target: int


def suggest(trial: Any, sweep: Sweep) -> dict[str, Any]:
    """Draw the trial's value of every key of the space (choices that are not scalars come back parsed)."""
    from zoo_core._util.toml import parse_toml

    params: dict[str, Any] = {}
    for key, dimension in sweep.space.items():
        if isinstance(dimension, Choice):
            value = trial.suggest_categorical(key, choice_values(dimension))
            params[key] = value if dimension.scalar else parse_toml(f"v = {value}")["v"]
        elif isinstance(dimension, Range) and dimension.integer:
            params[key] = trial.suggest_int(key, dimension.low, dimension.high, step=dimension.step or 1,
                                            log=dimension.log)
        else:
            params[key] = trial.suggest_float(key, float(dimension.low), float(dimension.high), step=dimension.step,
                                              log=dimension.log)
    return params


def objective(setup: TrialSetup) -> Any:
    """The function Optuna calls per trial: one zoo run, its metric returned."""
    def run_trial(trial: Any) -> float:
        for stale in ("run", "error", "pruned"):  # a queued retry of a killed trial starts with its attributes
            if stale in trial.user_attrs:
                trial.set_user_attr(stale, None)
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("host", socket.gethostname())
        if surplus(trial.study, trial.number, setup.target):
            trial.set_user_attr("error", "not needed: the study already had its trials")
            raise Surplus()
        params = suggest(trial, setup.sweep)
        overrides = [f"{key}={toml_value(value)}" for key, value in params.items()]
        trial.set_user_attr("overrides", overrides)
        try:
            return _train(trial, setup, overrides)
        finally:
            _forget_models()
    return run_trial


def _train(trial: Any, setup: TrialSetup, overrides: list[str]) -> float:
    optuna = require_optuna()
    from zoo_core import training
    from zoo_core.training.native_logs import quiet_native_stderr

    sweep = setup.sweep
    record = {"sweep": {"name": sweep.name, "study": trial.study.study_name, "trial": trial.number,
                        "params": dict(trial.params)}}
    try:
        config = setup.registry.resolve_recipe(sweep.recipe, [*sweep.fixed, *setup.overrides, *overrides])
        with quiet_native_stderr():  # Keras imports TensorFlow here on the first trial
            pruning = PruningCallback(trial, sweep.metric)
        outcome = training.train(config, setup.root, progress="none",
                                 extra_callbacks=[pruning], record=record)
    except optuna.TrialPruned as pruned:
        run = trial_run(setup.root, trial.study.study_name, trial.number)
        trial.set_user_attr("pruned", str(pruned))
        if run is not None:
            trial.set_user_attr("run", run.name)
            mark_pruned(run, str(pruned))
        raise
    except training.RunInterrupted as stopped:  # the study records it failed, the sweep stops, the point waits
        trial.set_user_attr("error", stopped.message + "; queued again")
        run = trial_run(setup.root, trial.study.study_name, trial.number)
        if run is not None:
            trial.set_user_attr("run", run.name)
        trial.study.enqueue_trial(dict(trial.params))
        raise
    except ZooError as error:
        _fail(trial, setup, error.message)
    except Exception as error:  # noqa: BLE001 - e.g. Keras refusing a combination: this trial's, not the sweep's
        _fail(trial, setup, f"{type(error).__name__}: {error_line(error)}")
    trial.set_user_attr("run", outcome.run.id)
    value = metric_value(outcome.run.dir, sweep.metric, outcome.metrics)
    if value is None or not math.isfinite(value):
        _fail(trial, setup, f"run {outcome.run.id} has no finite {sweep.metric}")
    return float(value)


def _fail(trial: Any, setup: TrialSetup, reason: str) -> None:
    """Record why the trial failed (and its run, if it got one) and give up on it."""
    trial.set_user_attr("error", reason)
    run = trial_run(setup.root, trial.study.study_name, trial.number)
    if run is not None:
        trial.set_user_attr("run", run.name)
    raise TrialFailed(reason)


def metric_value(run_dir: Path, metric: str, metrics: dict[str, Any]) -> float | None:
    """The trial's value: ``val_*`` from the last epoch of history.csv, any other metric from metrics.json."""
    if metric in VALIDATION_METRICS:
        from zoo_core.runs.history import read_history

        rows = read_history(run_dir / "history.csv")
        value = rows[-1].get(metric) if rows else None
    else:
        value = metrics.get(metric)
    return float(value) if isinstance(value, (int, float)) else None


def epoch_key(metric: str, logs: dict[str, Any]) -> str | None:
    """Which per-epoch log feeds the pruner: the metric itself, or its validation form for a test metric."""
    for key in (metric, f"val_{metric}"):
        if key in logs and key.startswith("val_"):
            return key
    return metric if metric in logs else None


def PruningCallback(trial: Any, metric: str) -> Any:  # noqa: N802 - a Keras class made when Keras is imported
    """A Keras callback that reports the metric to Optuna after each epoch and prunes the trial when told."""
    import keras

    optuna = require_optuna()
    logging.getLogger("tensorflow").addFilter(_NotRetracing())

    class _Pruning(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            key = epoch_key(metric, logs or {})
            if key is None:
                return
            value = float((logs or {})[key])
            if not math.isfinite(value):
                return  # the NaN guard fails the run
            trial.report(value, step=epoch + 1)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}: {key} = {value:.4f}")

    return _Pruning()


class _NotRetracing(logging.Filter):
    """TensorFlow's warning that fit() traced again: every trial builds a new model, so it always does."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def trial_run(root: Path, study: str, number: int) -> Path | None:
    """The run directory of trial ``number`` of ``study`` under ``root``, if it got one."""
    for run in list_runs(root):
        record = run.manifest().get("sweep")
        if isinstance(record, dict) and record.get("study") == study and record.get("trial") == number:
            return run.dir
    return None


def mark_pruned(run_dir: Path, reason: str) -> None:
    """Record a pruned trial's run as ``pruned`` (its process has released it: the runner recorded 'failed')."""
    path = run_dir / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    data.update(status="pruned", finished=data.get("finished") or utc_now(), error=f"{reason} (by the sweep)")
    write_json_atomic(path, data)


def _forget_models() -> None:
    """Free the last trial's model and graph before the next one: memory stays flat over many trials."""
    import sys

    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session()
    gc.collect()
