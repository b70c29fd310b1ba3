"""``zoo sweep NAME`` and ``zoo sweeps``: searching a space of ``--set`` keys with Optuna (docs/sweeps.md).

Importing this module imports neither TensorFlow nor Optuna: the sweep's
definition is checked first (without either), then Optuna is loaded, then
TensorFlow when the first trial trains.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.table import Table

from zoo_core.cli.app import app, err, handles_errors, out, shown, state
from zoo_core.cli.render import print_unsqueezed
from zoo_core.runs import check_writable, runs_root
from zoo_core.sweeps.definition import Sweep, check_sweep, load_sweep, read_sweep, toml_value

STORAGE_HELP = ("Optuna storage URL shared by every process of the sweep, e.g. postgresql://user:pw@host/db "
                "(default: sqlite:///<runs root>/sweeps/sweeps.db).")
STATE_COLOURS = {"complete": "green", "pruned": "yellow", "fail": "red", "running": "cyan", "waiting": "white"}


@app.command("sweep")
@handles_errors
def sweep_command(
    name: str = typer.Argument(..., help="A sweep from registry.toml ([sweeps.NAME]; zoo sweeps lists them)."),
    trials: Optional[int] = typer.Option(None, "--trials", "-n", min=1,
                                         help="Finished trials the study should have (default: the sweep's)."),
    set_: List[str] = typer.Option([], "--set", "-s", help="Override a setting for every trial, e.g. epochs=2."),
    storage: Optional[str] = typer.Option(None, "--storage", help=STORAGE_HELP),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help="Where the trials' run directories go."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No line per trial; the final table is still printed."),
) -> None:
    """Search a sweep's space: each trial is an ordinary run; the study continues where it stopped."""
    from zoo_core.sweeps.loop import run_sweep, target_trials
    from zoo_core.sweeps.report import write_report
    from zoo_core.sweeps.storage import default_storage
    from zoo_core.sweeps.study import require_optuna
    from zoo_core.sweeps.trial import TrialSetup

    registry = state.registry()
    sweep = load_sweep(registry, name, set_)  # every mistake in the definition: exit 2, before Optuna or TF
    require_optuna()
    root = runs_root(runs_dir)
    check_writable(root)
    url = storage or default_storage(root)
    target = target_trials(trials or sweep.trials, sweep)
    setup = TrialSetup(sweep, registry, root, list(set_), target)
    progress = _TrialLines(sweep, target, quiet)
    try:
        result = run_sweep(setup, url, on_start=progress.start, on_trial=progress.trial)
    finally:
        progress.stop()
    written = write_report(sweep, result.study, root, target)
    _render_end(sweep, result.study, written, target)


class _TrialLines:
    """Progress across trials: a live bar on a terminal, and one line per finished trial (also when piped)."""

    def __init__(self, sweep: Sweep, target: int, quiet: bool) -> None:
        self.sweep, self.target, self.quiet = sweep, target, quiet
        self.bar: Any = None
        self.task: Any = None
        self.started = time.perf_counter()

    def start(self, finished: int) -> None:
        if not self.quiet:
            err.print(f"sweep {shown(self.sweep.name)}: {finished} of {self.target} trial(s) finished so far; "
                      f"{self.sweep.metric} ({self.sweep.direction}), sampler {self.sweep.sampler}")
        if self.quiet or not err.is_terminal:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("trials"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err, transient=True)
        self.task = self.bar.add_task("trials", total=self.target, completed=finished)
        self.bar.start()

    def trial(self, trial: Any) -> None:
        if self.bar is not None and trial.state.name in ("COMPLETE", "PRUNED"):
            self.bar.advance(self.task)
        if self.quiet:
            return
        params = ", ".join(f"{k}={toml_value(v) if not isinstance(v, float) else f'{v:.4g}'}"
                           for k, v in trial.params.items())
        value = f"{self.sweep.metric}={trial.value:.4f}" if trial.value is not None else ""
        note = trial.user_attrs.get("error") or trial.user_attrs.get("pruned") or ""
        state_name = trial.state.name.lower()
        line = (f"trial {trial.number} [{STATE_COLOURS.get(state_name, 'white')}]{state_name}[/] {value}  "
                f"{shown(params)}  run {shown(trial.user_attrs.get('run', '-'))}"
                + (f"  ({shown(note)})" if note else ""))
        (self.bar.console if self.bar is not None else out).print(line)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _render_end(sweep: Sweep, study: Any, written: dict[str, Any], target: int) -> None:
    from zoo_core.sweeps.report import best_trial, sweep_status, trial_rows

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("trial", "state", sweep.metric, "parameters", "run", "note"):
        table.add_column(column, no_wrap=column != "note")
    for row in trial_rows(study):
        params = ", ".join(f"{k}={toml_value(v)}" for k, v in row["params"].items())
        value = f"{row['value']:.4f}" if row["value"] is not None else "-"
        table.add_row(str(row["number"]), f"[{STATE_COLOURS.get(row['state'], 'white')}]{row['state']}[/]", value,
                      shown(params), shown(row["run"] or "-"), shown(row["note"]))
    print_unsqueezed(table)
    status, best = sweep_status(study, target, sweep.sampler == "grid"), best_trial(study)
    out.print(f"{status['finished']} of {target} trial(s) finished ({status['status']}); {status['failed']} failed")
    if best is not None:
        out.print(f"best: trial {best.number}, {sweep.metric} = {best.value:.4f}, run {shown(best.user_attrs.get('run'))}")
    if written.get("best"):
        out.print(f"repeat it: zoo run --config {shown(str(written['best']))}")
    out.print(f"report: {shown(str(written['folder'] / 'report.md'))}")


@app.command("sweeps")
@handles_errors
def sweeps_command(
    storage: Optional[str] = typer.Option(None, "--storage", help=STORAGE_HELP),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help="The runs root whose sweeps.db to read."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Every sweep of the registry: its base recipe, status, trials finished and best value (from the storage)."""
    rows = sweep_rows(state.registry(), runs_root(runs_dir), storage)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("no sweeps in the registry; add a [sweeps.NAME] table (docs/sweeps.md)")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("sweep", "run", "metric", "status", "trials", "best"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        best = f"{row['best']:.4f} (trial {row['best_trial']})" if row.get("best") is not None else "-"
        table.add_row(shown(row["name"]), shown(row["run"]), shown(row["metric"]), shown(row["status"]),
                      f"{row['finished']}/{row['trials']}", best)
    print_unsqueezed(table)


def sweep_rows(registry: Any, root: Path, storage: Optional[str]) -> list[dict[str, Any]]:
    """The rows of ``zoo sweeps``; a sweep that ``zoo sweep`` would refuse says why in its status (and ``hint``).

    The whole definition is checked, as ``zoo sweep`` checks it (its recipe,
    each choice and bound), not only its shape: a sweep that cannot start is
    "invalid", never "not started".
    """
    from zoo_core.errors import ZooError
    from zoo_core.sweeps.loop import target_trials
    from zoo_core.sweeps.report import sweep_status

    rows, studies = [], _studies(root, storage)
    for name in sorted(registry.sweeps):
        try:
            sweep = read_sweep(registry, name)
        except ZooError as error:
            rows.append({"name": name, "run": "-", "metric": "-", "trials": 0, "finished": 0,
                         "status": f"invalid: {error.message}", "hint": error.hint or "", "best": None})
            continue
        target = target_trials(sweep.trials, sweep)
        row = {"name": name, "run": sweep.recipe, "metric": sweep.metric, "trials": target,
               **sweep_status(studies(name), target, sweep.sampler == "grid")}
        try:
            check_sweep(registry, sweep, [])
        except ZooError as error:  # its trials so far are still counted
            row.update(status=f"invalid: {error.message}", hint=error.hint or "")
        rows.append(row)
    return rows


def _studies(root: Path, storage: Optional[str]) -> Any:
    """A function from a sweep name to its study in the storage, or None (no storage file, Optuna missing)."""
    database = root / "sweeps" / "sweeps.db"
    if storage is None and not database.is_file():
        return lambda name: None
    from zoo_core.sweeps.storage import open_storage
    from zoo_core.sweeps.study import require_optuna

    optuna = require_optuna()
    opened = open_storage(storage or f"sqlite:///{database.resolve()}")
    names = {summary.study_name for summary in optuna.get_all_study_summaries(opened)}
    return lambda name: optuna.load_study(study_name=name, storage=opened) if name in names else None
