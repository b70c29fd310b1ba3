"""``zoo bench`` and ``zoo compare``: measure runs' models in every export format; set runs side by side.

Composition only: the work is in :mod:`zoo_core.bench`. TensorFlow is
imported only when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.table import Table

from zoo_core.cli.app import app, err, handles_errors, out, shown, state
from zoo_core.cli.render import print_unsqueezed
from zoo_core.errors import ConfigError, RunError
from zoo_core.runs import runs_root

RUNS_DIR_HELP = "The runs root (default ./runs, or $ZOO_RUNS_DIR)."
BENCH_REFERENCES_HELP = "Recipe names (their latest completed run) or run ids / run directories."
TRAIN_MISSING_HELP = "Train a named recipe that has no completed run yet (with --set), instead of an error."
BENCH_OUT_HELP = "Folder for bench.csv, bench.json, bench.md and bench.png (default: <runs root>/bench/<time>/)."
REPEAT_HELP = "Timed single-image calls per latency figure (the median is reported)."
BENCH_SET_HELP = "Override for recipes trained by --train-missing: epochs=3, max_train_samples=2000..."
COMPARE_OUT_HELP = "Folder for compare.png and compare.md (default: <runs root>/compare/<time>/)."


def _table(title: str = "") -> Table:
    return Table(box=None, pad_edge=False, header_style="bold", title=title or None, title_justify="left")


@app.command("bench")
@handles_errors
def bench_command(
    references: List[str] = typer.Argument(None, help=BENCH_REFERENCES_HELP),
    train_missing: bool = typer.Option(False, "--train-missing", help=TRAIN_MISSING_HELP),
    out_dir: Optional[Path] = typer.Option(None, "--out", help=BENCH_OUT_HELP),
    repeat: int = typer.Option(200, "--repeat", help=REPEAT_HELP),
    set_: List[str] = typer.Option([], "--set", "-s", help=BENCH_SET_HELP),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print bench.json instead of the table (for scripts)."),
) -> None:
    """Export runs to every format that applies and measure each: accuracy, size, latency, throughput, MACs."""
    from zoo_core.bench.outputs import output_folder
    from zoo_core.bench.suite import bench
    from zoo_core.bench.table import write_bench
    from zoo_core.bench.targets import bench_targets
    from zoo_core.training.finished_runs import check_out_folder

    if repeat < 1:
        raise ConfigError(f"--repeat must be 1 or more (got {repeat})", hint="e.g. --repeat 200 (the default)")
    if set_ and not train_missing:
        raise ConfigError("--set changes only the runs --train-missing trains", hint="add --train-missing, or drop --set")
    root = runs_root(runs_dir)
    registry = state.registry()
    if out_dir is not None:
        check_out_folder(out_dir)  # a file there is a mistake to know before any training
    runs = bench_targets(list(references or []), root, registry, train_missing, set_, progress=None,  # on stderr
                         announce=lambda recipe, run: err.print(f"trained {shown(recipe)}: {shown(run.id)}"))
    folder = output_folder(root, "bench", out_dir)
    result = bench(runs, registry, repeat, progress=lambda line: err.print(f"[dim]{shown(line)}[/]"))
    written = write_bench(result, folder)
    if as_json:
        print(written["json"].read_text(encoding="utf-8"), end="")
        err.print(f"written to {shown(str(folder))}/ (bench.csv, bench.json, bench.md, bench.png)")
    else:
        _render_bench(result)
        out.print(f"written to {shown(str(folder))}/ (bench.csv, bench.json, bench.md, bench.png)")
    problems = result.problems()
    if problems:
        raise RunError(f"{len(problems)} problem(s): " + "; ".join(problems),
                       hint=f"the table marks them; {written['md']} lists them too")


def _render_bench(result: Any) -> None:
    from zoo_core.bench.table import HEADER, display_rows

    table = _table()
    for index, column in enumerate(HEADER):
        table.add_column(column, no_wrap=True, justify="left" if index < 2 or column == "check" else "right")
    for cells, row in zip(display_rows(result), result.rows):
        styled = [shown(cell) for cell in cells]
        if row.get("status") != "ok" or row.get("check") == "mismatch":
            styled[4] = f"[bold red]{styled[4]}[/]"
        table.add_row(*styled)
    print_unsqueezed(table)
    for row in result.skipped:
        out.print(f"[dim]not measured: {shown(row['model'])} {shown(row['exporter'])}: {shown(row['reason'])}[/]")


@app.command("compare")
@handles_errors
def compare_command(
    references: List[str] = typer.Argument(..., help="Two or more runs: run ids, run directories or recipe names."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help=COMPARE_OUT_HELP),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help=RUNS_DIR_HELP),
) -> None:
    """Compare runs: the settings that differ, metrics side by side, training curves overlaid in one plot."""
    from zoo_core.bench.compare import compare
    from zoo_core.bench.compare_report import same_summary, write_comparison
    from zoo_core.bench.outputs import output_folder
    from zoo_core.bench.targets import compare_targets

    root = runs_root(runs_dir)
    registry = state.registry()
    runs = compare_targets(list(references), root, registry)
    folder = output_folder(root, "compare", out_dir)
    comparison = compare(runs, registry)
    written = write_comparison(comparison, folder)
    labels = [run["label"] for run in comparison.runs]
    table = _table()
    for column in ("run", "id", "status", "started"):
        table.add_column(column, no_wrap=True)
    for run in comparison.runs:
        table.add_row(*(shown(str(run[key] or "-")) for key in ("label", "id", "status", "started")))
    print_unsqueezed(table)
    out.print()
    if comparison.differ:
        print_unsqueezed(_side_by_side("settings that differ", "setting", labels, comparison.differ))
    else:
        out.print("settings that differ: none")
    out.print(f"[dim]{shown(same_summary(comparison))}[/]")
    out.print()
    print_unsqueezed(_side_by_side("metrics", "metric", labels, comparison.metrics, justify="right"))
    out.print(f"written to {shown(str(written['png']))} and {shown(str(written['md']))}")


def _side_by_side(title: str, first: str, labels: list[str], rows: list[tuple[str, list[str]]],
                  justify: Any = "left") -> Table:
    """A table titled ``title``: the row names under ``first``, then one column per run."""
    table = _table(title)
    table.add_column(first, no_wrap=True)
    for label in labels:
        table.add_column(shown(label), no_wrap=True, justify=justify)
    for key, values in rows:
        table.add_row(shown(key), *(shown(value) for value in values))
    return table
