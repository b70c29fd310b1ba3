"""``zoo sweep``: run trials one after another in this process until the study has its number of trials.

Trials count towards the target when they complete or are pruned; a failed
trial does not count, so another is run in its place. Before each trial the
process fails the trials of dead processes (they are queued again once) and
stops when the finished and running trials of every process reach the
target: two processes on one study split the work, and neither starts a
trial the study does not need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from zoo_core.errors import RunError
from zoo_core.sweeps.storage import open_storage
from zoo_core.sweeps.study import FINISHED, counts, fail_dead_trials, open_study, require_optuna
from zoo_core.sweeps.trial import Surplus, TrialFailed, TrialSetup, objective

#: A process gives up after this many failed trials in a row (every combination fails: a mistake to fix).
MAX_FAILURES_IN_A_ROW = 5


@dataclass
class SweepResult:
    """What one ``zoo sweep`` process did: the study, and the trials it ran."""

    study: Any
    ran: list[Any] = field(default_factory=list)
    failed_dead: list[int] = field(default_factory=list)


def target_trials(setup_trials: int, sweep: Any) -> int:
    """The number of trials to reach: ``--trials`` or the sweep's, at most the grid's size for a grid."""
    return min(setup_trials, sweep.grid_size()) if sweep.sampler == "grid" else setup_trials


def run_sweep(setup: TrialSetup, storage_url: str, on_start: Callable[[int], None] | None = None,
              on_trial: Callable[[Any], None] | None = None) -> SweepResult:
    """Run trials until the study has ``setup.target`` finished ones (counting every process's).

    ``on_start(finished)`` is called once the study is open (with its finished trials);
    ``on_trial(frozen_trial)`` after each trial this process ran. A stop
    (Ctrl-C, SIGTERM) fails the running trial and propagates; the next
    ``zoo sweep`` continues the study.
    """
    optuna = require_optuna()
    study = open_study(setup.sweep, open_storage(storage_url))
    result = SweepResult(study, failed_dead=fail_dead_trials(study))
    if on_start is not None:
        on_start(_finished(study))
    failures = 0
    while _finished(study) + counts(study).get("RUNNING", 0) < setup.target and not _grid_done(study, setup):
        done: list[Any] = []
        study.optimize(objective(setup), n_trials=1, catch=(TrialFailed, Surplus),
                       callbacks=[lambda _study, frozen: done.append(frozen)])
        trial = done[-1] if done else None
        if trial is None or str(trial.user_attrs.get("error")).startswith("not needed"):
            break
        result.ran.append(trial)
        if on_trial is not None:
            on_trial(trial)
        failures = failures + 1 if trial.state == optuna.trial.TrialState.FAIL else 0
        if failures >= MAX_FAILURES_IN_A_ROW:
            raise RunError(f"{failures} trials in a row failed; the last: {trial.user_attrs.get('error', '?')}",
                           hint="'zoo sweeps' and the sweep's report.md list each trial's reason; fix the space "
                                "or the base run, then run zoo sweep again (the study continues)")
        fail_dead_trials(study)
    return result


def _finished(study: Any) -> int:
    numbers = counts(study)
    return sum(numbers.get(state, 0) for state in FINISHED)


def _grid_done(study: Any, setup: TrialSetup) -> bool:
    """A grid sweep ends when every point was tried once (a failed point is not tried again) and none is queued."""
    if setup.sweep.sampler != "grid":
        return False
    optuna = require_optuna()
    trials = study.get_trials(deepcopy=False)
    if any(t.state == optuna.trial.TrialState.WAITING for t in trials):
        return False  # a killed trial's point, queued again
    tried = {t.system_attrs.get("grid_id") for t in trials if t.state != optuna.trial.TrialState.WAITING}
    return len(tried - {None}) >= setup.sweep.grid_size()
