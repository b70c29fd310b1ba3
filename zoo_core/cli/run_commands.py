"""The ``zoo`` commands that train, evaluate, export and predict, and ``zoo runs``.

They import TensorFlow only when they run (through zoo_core.training and
zoo_core.predict), so importing this module keeps ``zoo --help`` fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from zoo_core._util.toml import read_toml
from zoo_core.cli.app import app, err, handles_errors, out, shown, state
from zoo_core.cli.render import (print_unsqueezed, render_exports, render_metrics, render_outcome,
                                 render_predictions, runs_table)
from zoo_core.errors import ConfigError, ExportError, RunError
from zoo_core.runs import NewerFormat, Run, find_link, find_run, list_runs, runs_root

#: Statuses a run can be resumed from ('running' is checked against its lock: a dead process's run resumes).
RESUMABLE = ("interrupted", "failed")

SET_HELP = "Override a setting or parameter: epochs=3, optimizer.learning_rate=0.01, architecture.hidden=[256,128]."
RUNS_DIR_HELP = "Where run directories go (default ./runs, or $ZOO_RUNS_DIR)."
WORKERS_HELP = ("Multi-worker training: every worker's HOST:PORT, comma-separated, the chief first (instead of "
                "TF_CONFIG); implies strategy=multi-worker (docs/distributed.md).")
QUIET_HELP = "No progress output; the result (metrics, exports, problems) is still printed."
TASK_INDEX_HELP = "Multi-worker training: this process's place in --workers (0 is the chief)."
RESUME_SET_HELP = ("Change a setting on resume: strategy (e.g. strategy=none: go on as one process), progress, threads, "
                   "join_timeout, epochs (not below the epochs done), exporters.")
OTHER_DATA_HELP = ("Evaluate on whatever data the dataset loads now, even if they are not the run's own; the result "
                   "goes to RUN/evaluations/<time>.json, the run's metrics stay.")


def _progress(quiet: bool) -> Optional[str]:
    return "none" if quiet else None


def _load_config_file(path: Path, overrides: list[str]) -> Any:
    hint = "give the config.toml of a run directory (zoo writes one in every run), or a file in the same schema"
    if path.is_dir():
        inside = path / "config.toml"
        if not inside.is_file():
            raise ConfigError(f"config file '{path}' is a folder, not a config.toml", hint=hint)
        path = inside
    table, _ = read_toml(path, what="config file", hint=hint)
    recipe = table.get("recipe", path.stem)
    if not isinstance(recipe, str):
        raise ConfigError(f"{path}: 'recipe' must be a string, got {recipe!r}", hint='e.g. recipe = "mnist-mlp"')
    return state.registry().run_from_table(table, recipe, str(path), overrides)


def _print_outcome(outcome: Any) -> None:
    """The result of a run, whatever --quiet says (it drops the progress only); exit 1 if an export failed."""
    if outcome.role == "worker":  # a multi-worker run's other workers: the chief reports the run
        out.print(shown(outcome.summary, multiline=True))
        return
    render_outcome(outcome)
    if outcome.exports:
        render_exports(outcome.exports, outcome.run.dir)
    failed = [r for r in outcome.exports if r.status != "ok"]
    if failed:
        raise ExportError(f"{len(failed)} export(s) failed: {failed_names(failed)} (why: above, and in manifest.json)",
                          hint="the run itself completed; fix the exporter settings and retry with "
                               f"'zoo export {outcome.run.id} --format NAME'")
    if getattr(outcome, "problems", None):
        raise RunError("the run completed, but " + "; ".join(outcome.problems),
                       hint="the model, metrics and history are saved; manifest.json lists the problems")


def failed_names(results: list[Any]) -> str:
    """'savedmodel, tflite-int8': the failed exports, by the name they were asked for."""
    return ", ".join(r.variant or r.format for r in results)


# -- run, train, resume ----------------------------------------------------------------


@app.command("run")
@handles_errors
def run_command(
    recipe: Optional[str] = typer.Argument(None, help="A run name from registry.toml (zoo list runs)."),
    set_: List[str] = typer.Option([], "--set", "-s", help=SET_HELP),
    config: Optional[Path] = typer.Option(None, "--config", help="Repeat a run from its config.toml."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue an interrupted run (directory, id or recipe)."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
    workers: Optional[str] = typer.Option(None, "--workers", help=WORKERS_HELP),
    task_index: Optional[int] = typer.Option(None, "--task-index", help=TASK_INDEX_HELP),
) -> None:
    """Train a named run (recipe) end to end: train, evaluate, plot, export, report."""
    from zoo_core import training
    from zoo_core.training import distribute

    cluster = distribute.cluster_from_flags(workers, task_index)
    if resume:
        if recipe or config is not None:
            raise ConfigError("--resume continues an existing run: give it alone, without a recipe or --config",
                              hint=f"zoo run --resume {resume}  (or zoo resume {resume})")
        _resume(resume, set_, runs_dir, quiet, cluster)  # --set: only what zoo resume --set may change
        return
    if config is not None and recipe:
        raise ConfigError(f"give a recipe or --config, not both (got '{recipe}' and --config {config})",
                          hint="zoo run RECIPE, or zoo run --config runs/ID/config.toml")
    set_ = distribute.cluster_overrides(set_, workers)
    if config is not None:
        run_config = _load_config_file(config, set_)
    elif recipe:
        run_config = state.registry().resolve_recipe(recipe, set_)
    else:
        raise ConfigError("say which run: zoo run RECIPE, or zoo run --config config.toml",
                          hint="'zoo list runs' shows the named runs")
    _print_outcome(training.train(run_config, runs_dir, _progress(quiet), cluster=cluster))


@app.command("train")
@handles_errors
def train_command(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name (zoo list datasets)."),
    architecture: str = typer.Option(..., "--architecture", "-a", help="Architecture name."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", "-o", help="Optimizer name (default: zoo's adam)."),
    loss: Optional[str] = typer.Option(None, "--loss", "-l",
                                       help="Loss name (default: zoo's sparse-categorical-crossentropy)."),
    exporter: List[str] = typer.Option([], "--exporter", "-e", help="Exporter to run after training (repeatable)."),
    set_: List[str] = typer.Option([], "--set", "-s", help=SET_HELP),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
    workers: Optional[str] = typer.Option(None, "--workers", help=WORKERS_HELP),
    task_index: Optional[int] = typer.Option(None, "--task-index", help=TASK_INDEX_HELP),
) -> None:
    """Compose a run from component names and train it (same engine as zoo run)."""
    from zoo_core import training
    from zoo_core.training import distribute

    cluster = distribute.cluster_from_flags(workers, task_index)
    set_ = distribute.cluster_overrides(set_, workers)
    run_config = state.registry().compose(dataset, architecture, optimizer, loss, exporter, set_)
    _print_outcome(training.train(run_config, runs_dir, _progress(quiet), cluster=cluster))


@app.command("resume")
@handles_errors
def resume_command(
    run: str = typer.Argument(..., help="Run directory, run id, or recipe name."),
    set_: List[str] = typer.Option([], "--set", "-s", help=RESUME_SET_HELP),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
    workers: Optional[str] = typer.Option(None, "--workers", help=WORKERS_HELP),
    task_index: Optional[int] = typer.Option(None, "--task-index", help=TASK_INDEX_HELP),
) -> None:
    """Continue an interrupted or killed run from its last completed epoch (on any cluster shape)."""
    from zoo_core.training import distribute

    _resume(run, set_, runs_dir, quiet, distribute.cluster_from_flags(workers, task_index))


def _resume(reference: str, overrides: list[str], runs_dir: Optional[Path], quiet: bool, cluster: Any) -> None:
    """Resume a run with the ``--set`` overrides a resume may change, on ``cluster`` (None: TF_CONFIG or one process)."""
    from zoo_core import training

    target = _find_resumable(reference, runs_root(runs_dir))
    _print_outcome(training.resume(target, state.registry(), _progress(quiet), cluster=cluster, overrides=overrides))


def _find_resumable(reference: str, root: Path) -> Any:
    """A run directory or id as given, or a recipe's latest interrupted or failed run."""
    return find_run(reference, root, statuses=RESUMABLE)


# -- evaluate, runs --------------------------------------------------------------------


@app.command("evaluate")
@handles_errors
def evaluate_command(
    run: str = typer.Argument(..., help="Run directory, run id, or recipe name (its latest completed run)."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print metrics.json."),
    other_data: bool = typer.Option(False, "--other-data", help=OTHER_DATA_HELP),
) -> None:
    """Re-evaluate a finished run on its test set: accuracy, precision, recall, F1, confusion matrix."""
    from zoo_core import training
    from zoo_core.training.finished_runs import evaluate_other_data

    target = find_run(run, runs_root(runs_dir))
    saved = None
    if other_data:
        metrics, saved = evaluate_other_data(target, state.registry())
    else:
        metrics = training.evaluate(target, state.registry())
    if as_json:
        print(json.dumps(metrics, indent=2))
    else:
        render_metrics(target.id, metrics)
    if saved is not None:  # on stderr: --json keeps stdout pure JSON
        err.print(f"evaluated on other data: saved to {shown(str(saved))} (the run's metrics.json is unchanged)")


def run_rows(root: Path) -> list[dict[str, Any]]:
    """The rows of ``zoo runs``, newest first: id, recipe, status, dates, accuracy, and how to resume."""
    rows = []
    for run in list_runs(root):
        manifest = run.manifest()
        metrics = manifest.get("metrics")
        accuracy = metrics.get("accuracy") if isinstance(metrics, dict) else None
        newer = _newer_format(run)  # listed, then refused: zoo runs exits 2 naming it
        status = "unknown" if newer else run.status()
        settings = manifest.get("settings") if isinstance(manifest.get("settings"), dict) else {}
        rows.append({"id": run.id, "recipe": manifest.get("recipe"), "status": status,
                     "started": manifest.get("started"), "accuracy": accuracy,
                     "epochs_done": manifest.get("epochs_done"), "epochs": settings.get("epochs"),
                     "path": str(run.dir), "error": manifest.get("error") if status != "completed" else None,
                     "problems": run_problems(manifest) if status == "completed" else [],
                     "resume": f"zoo resume {run.dir}" if status in RESUMABLE else None,
                     "sweep": _sweep_label(manifest.get("sweep")), "link": _link(run.dir),
                     "newer_format": newer.message if newer else None})
    return rows


def _newer_format(run: Run) -> Optional[NewerFormat]:
    """Why zoo refuses the run because a newer zoo wrote it (``zoo runs`` lists it, then exits 2), or None."""
    try:
        run.check_format()
    except NewerFormat as error:
        return error
    except RunError:  # a damaged 'format': the commands that use the run say so
        return None
    return None


def _link(directory: Path) -> Optional[str]:
    """A symbolic link in the run (every command refuses the run until it is removed), or None."""
    link = find_link(directory)
    return str(link) if link is not None else None


def _sweep_label(record: Any) -> Optional[str]:
    """'lr-search#3': the sweep and trial number of a run made by zoo sweep, else None."""
    if isinstance(record, dict) and isinstance(record.get("name"), str):
        return f"{record['name']}#{record.get('trial')}"
    return None


def run_problems(manifest: dict[str, Any]) -> list[str]:
    """What went wrong in a completed run: its recorded problems, and exports that failed.

    A failed export stops counting once a later export of the same format
    succeeded (e.g. 'zoo export RUN -f savedmodel' after fixing the cause).
    """
    problems = [str(problem) for problem in manifest.get("problems") or [] if problem]
    exports = [e for e in manifest.get("exports") or [] if isinstance(e, dict)]
    for index, export in enumerate(exports):
        if export.get("status", "ok") == "ok":
            continue
        fixed = any(later.get("status", "ok") == "ok" and later.get("format") == export.get("format")
                    for later in exports[index + 1:])
        if not fixed:
            problems.append(f"export {export.get('variant') or export.get('format')} failed: {export.get('message', '')}")
    return problems


@app.command("runs")
@handles_errors
def runs_command(
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Past runs: id, recipe, status, date, test accuracy (newest first)."""
    root = runs_root(runs_dir)
    rows = run_rows(root)
    if as_json:
        print(json.dumps(rows, indent=2))
        _refuse_newer(rows)
        return
    if not rows:
        out.print(f"no runs in '{shown(str(root))}' yet; start one with: zoo run mnist-mlp")
        return
    print_unsqueezed(runs_table(rows))
    troubled = [row for row in rows if row["problems"]]
    if troubled:
        out.print("[yellow]*[/] completed with problems (the model is saved; the run's manifest.json has the details):")
    for row in troubled[:5]:
        out.print(f"  {shown(row['id'])}: {shown(row['problems'][0])}"
                  + (f" (and {len(row['problems']) - 1} more)" if len(row["problems"]) > 1 else ""))
    for row in [row for row in rows if row["link"]][:5]:
        out.print(f"[red]{shown(row['id'])}[/] holds a symbolic link, '{shown(row['link'])}': zoo refuses the run "
                  "until it is removed (rm it; what it points to stays as it is)")
    stopped = [row for row in rows if row["status"] == "interrupted"]
    for row in stopped[:5]:
        out.print(f"[yellow]{shown(row['id'])}[/] stopped after {row['epochs_done'] or 0} epoch(s); "
                  f"resume it with: zoo resume {shown(row['id'])}"
                  + (f" --runs-dir {shown(str(root))}" if runs_dir is not None else ""))
    _refuse_newer(rows)


def _refuse_newer(rows: list[dict[str, Any]]) -> None:
    """After the listing: exit 2 naming the runs a newer zoo wrote (NewerFormat), which every command refuses."""
    newer = [row for row in rows if row["newer_format"]]
    if newer:
        first = _newer_format(Run(Path(newer[0]["path"])))
        more = f" (and {len(newer) - 1} more run(s) written by a newer zoo)" if len(newer) > 1 else ""
        raise NewerFormat(newer[0]["newer_format"] + more,
                          hint=f"{first.hint if first else 'upgrade zoo'}; the other runs are listed above")


# -- export, predict -------------------------------------------------------------------


@app.command("export")
@handles_errors
def export_command(
    run: str = typer.Argument(..., help="Run directory, run id, or recipe name (its latest completed run)."),
    formats: List[str] = typer.Option(..., "--format", "-f", help="Exporter or preset name, e.g. tflite, tflite-int8, savedmodel, onnx (repeatable)."),
    set_: List[str] = typer.Option([], "--set", "-s", help="Exporter parameter: quantize=int8 (all formats that have it) or tflite.quantize=int8."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Destination folder (default: the run's exports/)."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the export results as JSON."),
) -> None:
    """Export a finished run: each artifact is verified with its runtime before it is kept."""
    from zoo_core import training
    from zoo_core.registry import apply_exporter_overrides

    registry = state.registry()
    target = find_run(run, runs_root(runs_dir))
    choices = [registry.resolve("exporter", name, f"--format {name}") for name in formats]
    apply_exporter_overrides(choices, set_)  # the rule of zoo run --set exporters.NAME.PARAMETER
    results = training.export(target, registry, choices, out_dir)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        render_exports(results)
    failed = [r for r in results if r.status != "ok"]
    if failed:
        raise ExportError(f"{len(failed)} export(s) failed: {failed_names(failed)}"
                          + (" (why: above)" if not as_json else ""),
                          hint="nothing unverified was left at the destination")


@app.command("predict")
@handles_errors
def predict_command(
    model: str = typer.Argument(..., help="A .tflite or .onnx file, a SavedModel directory, or a run."),
    inputs: List[Path] = typer.Argument(..., help="PNG/JPEG images, .npy arrays, or .csv rows (feature-vector models)."),
    top: int = typer.Option(3, "--top", "-k", help="How many classes to show per input (1 or more)."),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Classify images, arrays or CSV rows with an exported model or a run's model."""
    import numpy as np

    from zoo_core import predict
    from zoo_core.cli.predicting import answers, model_call, predict_model
    from zoo_core.training.native_logs import quiet_native_stderr

    if top < 1:
        raise ConfigError(f"--top must be 1 or more (got {top})",
                          hint="--top N shows each input's N most probable classes, from 1 up to the model's "
                               "number of classes (more shows them all)")
    path, run_dir = predict_model(model, runs_root(runs_dir))
    results = []
    with quiet_native_stderr():  # TensorFlow's and TFLite's log lines; real errors still show
        predictor = model_call(run_dir, lambda: predict.load_predictor(path))
        info = predictor.metadata
        for input_path in inputs:
            batch = predict.load_input(input_path, info)  # a problem here is the input's: exit 2
            probabilities = model_call(run_dir, lambda: answers(predictor, batch, input_path))
            for index, row in enumerate(np.asarray(probabilities)):
                name = str(input_path) if len(probabilities) == 1 else f"{input_path}[{index}]"
                results.append({"input": name, "top": predict.top_classes(row, info.get("class_names"), top)})
    if as_json:
        print(json.dumps(results, indent=2, allow_nan=False))  # never NaN: the answers were checked
        return
    render_predictions(results)
