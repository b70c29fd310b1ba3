"""The Optuna side of a sweep: study, sampler, pruner, and the count of trials towards the target.

One study per sweep (its name), in an RDB storage (``storage``: by default
an SQLite file in the runs root, or any URL Optuna supports), so that
several processes (on one machine or many) share the work. Each process
beats a heartbeat while it runs a trial; a trial whose process died (its pid
is gone on this host, or its heartbeat stopped for :data:`GRACE_SECONDS`) is
marked failed and its parameters are queued again once, so a killed trial is
never counted twice and never lost.
"""

from __future__ import annotations

import os
import socket
import warnings
from typing import Any

from zoo_core.errors import ConfigError, RunError
from zoo_core.runs.lock import process_alive
from zoo_core.sweeps.definition import Choice, Sweep

#: How often a running trial's heartbeat is written, and after how long without one it counts as dead.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60
#: The states that count towards a sweep's number of trials.
FINISHED = ("COMPLETE", "PRUNED")
INSTALL_HINT = "pip install 'zoo[sweeps]'  (installs Optuna)"


def require_optuna() -> Any:
    """The optuna module; a clear error with the pip command when it is not installed."""
    try:
        import optuna
    except ImportError:
        raise ConfigError("zoo sweep needs Optuna, which is not installed", hint=INSTALL_HINT) from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # zoo prints its own line per trial
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def open_study(sweep: Sweep, storage: Any) -> Any:
    """The sweep's study (created on first use); the direction must match the one it was created with."""
    optuna = require_optuna()
    # A grid's only randomness is its order, drawn once from the seed: every process walks the same order.
    sampler = make_sampler(sweep, sweep.seed) if sweep.sampler == "grid" else PerTrialSampler(sweep)
    study = optuna.create_study(storage=storage, study_name=sweep.name, direction=sweep.direction,
                                sampler=sampler, pruner=make_pruner(sweep), load_if_exists=True)
    recorded = study.direction.name.lower()
    if recorded != sweep.direction:
        raise RunError(f"study '{sweep.name}' in this storage was created to {recorded} its metric, the sweep now "
                       f"says {sweep.direction}", hint="use another --storage, or delete the study "
                       f"(optuna delete-study --study-name {sweep.name} --storage URL)")
    return study


def make_pruner(sweep: Sweep) -> Any:
    """Optuna's pruner for ``sweep.pruner``, stepping once per epoch."""
    optuna = require_optuna()
    spec = sweep.pruner
    if spec.kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=spec.startup_trials, n_warmup_steps=spec.warmup_epochs)
    if spec.kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, spec.warmup_epochs), reduction_factor=3)
    return optuna.pruners.NopPruner()


def grid_space(sweep: Sweep) -> dict[str, list[Any]]:
    """The grid sampler's space: every choice (as sampled, see :func:`choice_values`) and every step of a range."""
    return {key: choice_values(d) if isinstance(d, Choice) else d.grid() for key, d in sweep.space.items()}


def choice_values(choice: Choice) -> list[Any]:
    """The values Optuna samples for a choice: the values, or their TOML text when they are not scalars."""
    from zoo_core.sweeps.definition import toml_value

    return list(choice.values) if choice.scalar else [toml_value(v) for v in choice.values]


def PerTrialSampler(sweep: Sweep) -> Any:  # noqa: N802 - a class made when optuna is imported
    """A sampler whose randomness is seeded per trial (``seed + trial number``).

    The same sweep gives the same trials whatever process runs them, and two
    processes started at once do not draw the same parameters.
    """
    optuna = require_optuna()

    class _PerTrial(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self._made: dict[int, Any] = {}

        def _for(self, number: int) -> Any:
            if number not in self._made:
                self._made = {number: make_sampler(sweep, sweep.seed + number)}  # one at a time
            return self._made[number]

        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            return self._for(trial.number).infer_relative_search_space(study, trial)

        def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
            return self._for(trial.number).sample_relative(study, trial, search_space)

        def sample_independent(self, study: Any, trial: Any, name: str, distribution: Any) -> Any:
            return self._for(trial.number).sample_independent(study, trial, name, distribution)

        def before_trial(self, study: Any, trial: Any) -> None:
            self._for(trial.number).before_trial(study, trial)

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            self._for(trial.number).after_trial(study, trial, state, values)

    return _PerTrial()


def make_sampler(sweep: Sweep, seed: int) -> Any:
    """Optuna's TPE, random or grid sampler, seeded."""
    optuna = require_optuna()
    if sweep.sampler == "grid":
        return optuna.samplers.GridSampler(grid_space(sweep), seed=seed)
    if sweep.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, sweep.trials // 3)))


def fail_dead_trials(study: Any) -> list[int]:
    """Fail the running trials whose process is gone (this host: at once; elsewhere: a stopped heartbeat).

    A live process is never touched: on this host its pid answers, elsewhere
    its heartbeat is fresh. Each failed trial's parameters are queued again
    once (RetryFailedTrialCallback). Returns the numbers of the trials failed here.
    """
    optuna = require_optuna()
    storage = study._storage
    optuna.storages.fail_stale_trials(study)
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        pid, host = trial.user_attrs.get("pid"), trial.user_attrs.get("host")
        if host != socket.gethostname() or pid == os.getpid() or process_alive(pid, host):
            continue
        try:  # the reason first: a finished trial cannot be changed (its queued copy starts without it)
            storage.set_trial_user_attr(trial._trial_id, "error", f"its process ({pid} on {host}) died; queued again")
            if not storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:  # another process failed it first
            continue
        storage.get_heartbeat_stale_trial_callback()(study, storage.get_trial(trial._trial_id))  # queue it again
        failed.append(trial.number)
    return failed


def counts(study: Any) -> dict[str, int]:
    """How many trials are in each state: ``{"COMPLETE": 3, "PRUNED": 1, "RUNNING": 1, ...}``."""
    found: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        found[trial.state.name] = found.get(trial.state.name, 0) + 1
    return found


def finished(study: Any) -> int:
    """Trials that count towards the target: complete and pruned."""
    numbers = counts(study)
    return sum(numbers.get(state, 0) for state in FINISHED)


def surplus(study: Any, number: int, target: int) -> bool:
    """Whether trial ``number`` is one too many: the trials before it, finished or running, already reach the target.

    Two processes that start a trial at the same moment both see room for
    one; the later trial (higher number) gives way.
    """
    optuna = require_optuna()
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.RUNNING)
    earlier = [t for t in study.get_trials(deepcopy=False, states=states) if t.number < number]
    return len(earlier) >= target
