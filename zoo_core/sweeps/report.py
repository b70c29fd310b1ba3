"""What a sweep leaves in ``<runs root>/sweeps/NAME/``: best.toml, plots and report.md, from the study.

``best.toml`` is the best trial's run's config.toml: ``zoo run --config
best.toml`` repeats that trial. Everything is written atomically, so two
processes finishing one study at once leave a consistent folder.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from zoo_core._util.text import printable
from zoo_core.files import atomic_path, write_text_atomic
from zoo_core.errors import ConfigError
from zoo_core.reporting import markdown
from zoo_core.sweeps.definition import Sweep, name_hint, name_problem, toml_value
from zoo_core.sweeps.study import require_optuna

#: The plots of a sweep: file name -> (title, the optuna.visualization.matplotlib function).
PLOTS = {"history.png": ("Optimisation history", "plot_optimization_history"),
         "importances.png": ("Parameter importances", "plot_param_importances"),
         "parallel.png": ("Parallel coordinates", "plot_parallel_coordinate")}


def sweep_folder(root: Path, name: str) -> Path:
    """``<runs root>/sweeps/NAME``; a name that is not one plain folder name is a ConfigError (never outside the root)."""
    if name_problem(name):
        raise ConfigError(name_problem(name), hint=name_hint(name))
    return root / "sweeps" / name


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, parameters, run id, why it failed or was pruned."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() \
            if trial.datetime_complete and trial.datetime_start else None
        rows.append({"number": trial.number, "state": trial.state.name.lower(), "value": trial.value,
                     "params": dict(trial.params), "run": attrs.get("run"),
                     "note": attrs.get("error") or attrs.get("pruned") or _silent(trial), "seconds": seconds})
    return rows


def _silent(trial: Any) -> str:
    """The note of a trial that recorded no reason: a failed one was given up when its heartbeat stopped."""
    return "its process stopped (no heartbeat); queued again" if trial.state.name == "FAIL" else ""


def best_trial(study: Any) -> Any | None:
    """The best complete trial, or None when no trial completed."""
    try:
        return study.best_trial
    except ValueError:
        return None


def sweep_status(study: Any | None, target: int, grid: bool = False) -> dict[str, Any]:
    """``zoo sweeps``' summary of a study: status, trials by state, best value.

    A ``grid`` sweep is done when every point was tried, even if some failed.
    """
    if study is None:
        return {"status": "not started", "finished": 0, "running": 0, "failed": 0, "best": None}
    rows = trial_rows(study)
    count = {state: sum(1 for r in rows if r["state"] == state)
             for state in ("complete", "pruned", "running", "fail", "waiting")}
    finished = count["complete"] + count["pruned"]
    tried = grid and finished + count["fail"] >= target and not count["running"] and not count["waiting"]
    status = "done" if finished >= target or tried else "running" if count["running"] else "stopped"
    best = best_trial(study)
    return {"status": status, "finished": finished, "running": count["running"], "failed": count["fail"],
            "best": best.value if best is not None else None, "best_trial": best.number if best is not None else None}


def write_report(sweep: Sweep, study: Any, root: Path, target: int) -> dict[str, Any]:
    """best.toml, the plots and report.md in the sweep's folder; returns what was written and what was skipped."""
    folder = sweep_folder(root, sweep.name)
    folder.mkdir(parents=True, exist_ok=True)
    best = best_trial(study)
    written: dict[str, Any] = {"folder": folder, "best": None, "plots": [], "skipped": {}}
    if best is not None and best.user_attrs.get("run"):
        config = root / best.user_attrs["run"] / "config.toml"
        if config.is_file():
            # TOML comments: a line break in a name would end one, and TOML allows no other control character there
            header = (f"# The best trial ({best.number}) of sweep {printable(sweep.name)}: {sweep.metric} = "
                      f"{best.value:.6g}, run {printable(best.user_attrs['run'])}.\n"
                      f"# Repeat it: zoo run --config {printable(folder / 'best.toml')}\n")
            write_text_atomic(folder / "best.toml", header + config.read_text(encoding="utf-8"))
            written["best"] = folder / "best.toml"
    written["plots"], written["skipped"] = write_plots(study, folder, sweep.metric)
    write_text_atomic(folder / "report.md", report_markdown(sweep, study, target, written))
    return written


def write_plots(study: Any, folder: Path, metric: str = "Objective Value") -> tuple[list[Path], dict[str, str]]:
    """Optuna's matplotlib plots of the study, ``metric`` naming the value; a plot it cannot draw yet (too few
    trials) is skipped, with why."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    optuna = require_optuna()
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    varied = {k for k in {key for t in complete for key in t.params}
              if len({repr(t.params.get(k)) for t in complete}) > 1}
    written, skipped = [], {}
    for name, (title, function) in PLOTS.items():
        if not complete:
            skipped[name] = "no trial completed yet"
            continue
        if name != "history.png" and (len(complete) < 2 or not varied):
            skipped[name] = "needs 2 complete trials with different parameters"
            continue
        try:  # optuna's plots call plt.style.use("ggplot"): rc_context undoes it for the plots after (zoo bench)
            with warnings.catch_warnings(), matplotlib.rc_context():
                warnings.simplefilter("ignore")
                axes = getattr(optuna.visualization.matplotlib, function)(study, target_name=metric)
            first = axes if hasattr(axes, "figure") else axes.flat[0]
            figure = first.figure
            figure.set_size_inches(9, 5.5)
            for side in ("left", "right"):  # optuna puts some titles at the left: one title only
                first.set_title("", loc=side)
            first.set_title(f"{title}: sweep {study.study_name}")
            figure.tight_layout()
            with atomic_path(folder / name) as temporary:
                figure.savefig(temporary, dpi=100)
            written.append(folder / name)
        except Exception as error:  # noqa: BLE001 - a plot is never worth failing a finished sweep for
            skipped[name] = f"{type(error).__name__}: {error}"
        finally:
            plt.close("all")
    return written, skipped


def report_markdown(sweep: Sweep, study: Any, target: int, written: dict[str, Any]) -> str:
    """report.md: the sweep, the best trial and how to repeat it, every trial, the plots.

    Names and values from the registry and the study go through
    :mod:`zoo_core.reporting.markdown` (``inline``, ``cell``, ``code``).
    """
    status, best = sweep_status(study, target, sweep.sampler == "grid"), best_trial(study)
    lines = [f"# Sweep {markdown.inline(sweep.name)}", "", *((markdown.inline(sweep.summary), "") if sweep.summary else ()),
             f"- base run: {markdown.code(sweep.recipe)}; metric: {markdown.code(sweep.metric)} ({sweep.direction})",
             f"- sampler: {sweep.sampler} (seed {sweep.seed}); pruner: {sweep.pruner.kind}",
             f"- trials: {status['finished']} of {target} finished, {status['failed']} failed, "
             f"{status['running']} running ({status['status']})", "", "## Space", ""]
    lines += [f"- {markdown.code(key)}: {markdown.inline(dimension.describe())}" for key, dimension in sweep.space.items()]
    lines += ["", "## Best trial", ""]
    if best is None:
        lines.append("No trial completed yet.")
    else:
        lines += [f"Trial {best.number}: {sweep.metric} = {best.value:.6g}, run {markdown.code(best.user_attrs.get('run'))}.",
                  ""]
        lines += [f"- {markdown.code(key)} = {markdown.code(toml_value(value))}" for key, value in best.params.items()]
        if written.get("best"):
            lines += ["", "Repeat it: " + markdown.code(f"zoo run --config {written['best']}")]
    lines += ["", "## Trials", ""]
    lines += markdown.table(("trial", "state", "value", "parameters", "run", "note"), _trial_cells(study))
    lines += ["", "## Plots", ""]
    lines += [f"![{PLOTS[path.name][0]}]({path.name})" for path in written.get("plots", [])]
    lines += [f"- {PLOTS[name][0]}: not drawn ({markdown.inline(why)})" for name, why in written.get("skipped", {}).items()]
    return "\n".join(lines) + "\n"


def _trial_cells(study: Any) -> list[list[str]]:
    """The Trials table of report.md: one row of Markdown cells per trial."""
    rows = []
    for row in trial_rows(study):
        params = ", ".join(f"{k}={toml_value(v)}" for k, v in row["params"].items())
        value = f"{row['value']:.6g}" if row["value"] is not None else "-"
        rows.append([str(row["number"]), markdown.cell(row["state"]), value, markdown.cell(params),
                     markdown.cell(row["run"] or "-"), markdown.cell(row["note"])])
    return rows
