"""How the ``zoo`` commands print: rich tables and lines on the shared console.

Each function takes plain data (the rows and dicts the commands also print
as ``--json``, or result objects) and prints or returns a table. Output to a
pipe keeps the console's width and never wraps a name column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from rich.measure import Measurement
from rich.table import Table

from zoo_core.cli.app import out, shown
from zoo_core.components import PLURALS, REQUIRED
from zoo_core.registry import RUN_COMPONENT_KINDS, SETTINGS, Registry

STATUS_COLOURS = {"completed": "green", "failed": "red", "interrupted": "yellow", "running": "cyan", "pruned": "yellow"}


def toml_literal(value: Any) -> str:
    """A value as it would be written in TOML (for display)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if value is None:
        return "(unset)"
    if value is REQUIRED:
        return "(required)"
    return str(value)


def _table(**options: Any) -> Table:
    return Table(box=None, pad_edge=False, header_style="bold", **options)


# -- list ------------------------------------------------------------------------------


def render_rows(rows: list[dict[str, str]], registry: Registry) -> None:
    """One small table per kind, titled by the kind, so each fits the width on its own."""
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row["kind"], []).append(row)
    for index, (kind, group) in enumerate(groups.items()):
        if index:
            out.print()
        last = {"run": "file", "sweep": "file", "setting": "type = default"}.get(kind, "plugin")
        table = _table()
        table.add_column(PLURALS.get(kind, f"{kind}s"), no_wrap=True)
        table.add_column("summary", overflow="fold", ratio=1)
        table.add_column(last, no_wrap=kind != "setting", overflow="fold")
        for row in group:
            name, summary = shown(_display_name(row, registry)), shown(row["summary"])
            if row.get("unavailable"):  # a component it needs is missing: say why instead of what it is
                name, summary = f"[dim]{name}[/]", f"[red]unavailable:[/] {shown(row['unavailable'])}"
            elif row.get("invalid"):  # a sweep whose name cannot be used: say why
                name, summary = f"[dim]{name}[/]", f"[red]invalid:[/] {shown(row['invalid'])}"
            table.add_row(name, summary, shown(row["plugin"]))
        out.print(table)


def _display_name(row: dict[str, str], registry: Registry) -> str:
    """The name to show: ``plugin:name`` when plugins share the bare name."""
    if row["type"] == "component" and len(registry.catalog.by_kind[row["kind"]].get(row["name"], [])) > 1:
        return row["qualified_name"]
    return row["name"]


# -- show ------------------------------------------------------------------------------


def render_show(item: dict[str, Any]) -> None:
    """One item of ``show_data``: a component, a preset, a recipe, a sweep or the settings."""
    title = f"[bold]{shown(item['name'])}[/]  ({item['type'] if item['type'] != 'component' else item['kind']})"
    out.print(title)
    if item.get("summary"):
        out.print(f"  {shown(item['summary'])}")
    if item["type"] == "component":
        out.print(f"  kind: {item['kind']}   plugin: {shown(item['plugin'])} "
                  f"({shown(item['distribution'])} {shown(item['version'])})")
        out.print(f"  factory: {shown(item['factory'])}")
        if item.get("unavailable"):
            out.print(f"  [red]unavailable:[/] {shown(item['unavailable'])}")
        _render_parameters(item["parameters"], None)
    elif item["type"] == "preset":
        component = item["component"].rpartition(":")[2]
        via = f" (via {shown(item['base'])})" if item["base"] not in (component, item["component"]) else ""
        out.print(f"  preset of {item['kind']} {shown(component)}{via} from plugin {shown(item['plugin'])}")
        out.print(f"  defined at {shown(item['source'])}")
        _render_parameters(item["parameters"], item["params"])
    elif item["type"] == "settings":
        _render_parameters(item["parameters"], None)
    elif item["type"] == "sweep":
        _render_sweep(item)
    else:
        _render_recipe(item)


def _render_sweep(item: dict[str, Any]) -> None:
    """``zoo show SWEEP``: the base recipe, what is measured and how the space is searched, then the space."""
    out.print(f"  defined at {shown(item['source'])}")
    out.print(f"  run: {shown(item['run'])}   metric: {shown(item['metric'])} ({item['direction']})   "
              f"trials: {item['trials']}   sampler: {item['sampler']}   pruner: {item['pruner']}   seed: {item['seed']}")
    if item["set"]:
        out.print("  every trial: " + ", ".join(f"--set {shown(text)}" for text in item["set"]))
    table = _table()
    table.add_column("space", no_wrap=True)
    table.add_column("values", overflow="fold", ratio=1)
    for key, values in item["space"].items():
        table.add_row(shown(key), shown(values))
    out.print(table)


def _render_recipe(item: dict[str, Any]) -> None:
    """``zoo show RECIPE``: where it is defined, then each part with its name and parameters."""
    config, references = item["config"], item["references"]
    out.print(f"  defined at {shown(item['source'])}")
    table = _table()
    table.add_column("part", no_wrap=True)
    table.add_column("name (component)", no_wrap=True)
    table.add_column("parameters", overflow="fold", ratio=1)
    parts = [(kind, references[kind], config[kind]) for kind in RUN_COMPONENT_KINDS]
    parts += [("exporter", ref, part) for ref, part in zip(references["exporters"], config["exporters"])]
    parts += [("callback", ref, part) for ref, part in zip(references.get("callbacks", []), config.get("callbacks", []))]
    for kind, ref, part in parts:
        bare = part["component"].rpartition(":")[2]  # config.toml's plugin:name; zoo show NAME --json has it
        name = ref if ref in (bare, part["component"]) else f"{ref} ({bare})"
        table.add_row(kind, shown(name), _params_text(part))
    out.print(table)
    settings = {k: config[k] for k in SETTINGS}
    out.print("  settings: " + ", ".join(f"{k}={toml_literal(v)}" for k, v in settings.items()), soft_wrap=False)


def _params_text(table: dict[str, Any]) -> str:
    return shown(", ".join(f"{k}={toml_literal(v)}" for k, v in table.items() if k != "component"))


def _render_parameters(parameters: list[dict[str, Any]], values: Optional[dict[str, Any]]) -> None:
    if not parameters:
        out.print("  no parameters")
        return
    table = _table()
    columns = ["parameter", "type", "default"] + (["value"] if values is not None else []) + ["help"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for parameter in parameters:
        default = "(required)" if parameter["required"] else toml_literal(parameter["default"])
        row = [parameter["name"], parameter["type"], default]
        if values is not None:
            row.append(toml_literal(values.get(parameter["name"])))
        row.append(parameter["help"])
        table.add_row(*(shown(str(cell)) for cell in row))
    out.print(table)


# -- plugins ---------------------------------------------------------------------------


def render_plugins(records: list[Any]) -> None:
    """The plugins table, then each failed or disabled plugin's reason."""
    table = _table()
    table.add_column("plugin", no_wrap=True)
    table.add_column("distribution", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("hooks: registered", overflow="fold", ratio=2)
    for record in records:
        status = {"loaded": "[green]loaded[/]", "disabled": "[yellow]disabled[/]"}.get(record.status, "[red]failed[/]")
        distribution = f"{record.distribution} {record.version}".strip()
        table.add_row(shown(record.name), shown(distribution), status, shown(_registered_text(record), multiline=True))
    out.print(table)
    problems = [record for record in records if record.error]
    if problems:
        out.print()
    for record in problems:
        out.print(f"[bold]{shown(record.name)}[/] {shown(record.status)}: {shown(record.error, multiline=True)}")


def _registered_text(record: Any) -> str:
    """'optimizers: adam, sgd', one line per hook the plugin implements."""
    parts = []
    for hook in record.hooks:
        kind = hook.removeprefix("register_")
        names = [c.name for c in record.components if PLURALS.get(c.kind) == kind]
        parts.append(f"{kind}: {', '.join(names) or '(none)'}")
    return "\n".join(parts)


# -- runs and their results ------------------------------------------------------------


def render_outcome(outcome: Any) -> None:
    """A finished run's test metrics, time and where its files are."""
    metrics = outcome.metrics
    table = Table(title=f"run {shown(outcome.run.id)}", box=None, pad_edge=False, title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("test accuracy", f"{metrics.get('accuracy', float('nan')):.4f}")
    table.add_row("test loss", f"{metrics.get('loss') or float('nan'):.4f}")
    table.add_row("F1 (macro)", f"{metrics.get('f1_macro', float('nan')):.4f}")
    table.add_row("time", f"{outcome.seconds:.1f} s")
    stopped = outcome.run.manifest().get("stopped_early")
    if isinstance(stopped, dict):  # a callback (early-stopping) ended training before the last epoch
        table.add_row("stopped early", shown(f"after epoch {stopped.get('epoch')} of {stopped.get('epochs')} "
                                             f"by {stopped.get('by')}: {stopped.get('reason')}"))
    table.add_row("run directory", shown(str(outcome.run.dir)))
    table.add_row("report", shown(str(outcome.run.dir / "report.md")))
    out.print(table)


def render_exports(results: list[Any], base: Optional[Path] = None) -> None:
    """One line per export result, paths relative to ``base`` when given; failures' reasons below the table.

    On a terminal too narrow for the whole table, the paths go below it too
    (one line each) instead of being folded into a sliver of a column.
    """
    title = "exports" + (f" (paths under {shown(str(base))})" if base else "")
    table = _exports_table(results, base, title, with_paths=True)
    natural = Measurement.get(out, out.options.update_width(10_000), table).maximum
    narrow = natural > out.width
    out.print(_exports_table(results, base, title, with_paths=False) if narrow else table)
    if narrow:
        for result in results:
            if result.path:
                out.print(f"  {shown(result.format)} {shown(result.variant)}: {shown(_relative(result.path, base))}")
    failures = [result for result in results if result.status != "ok"]
    for number, result in enumerate(failures, 1):
        out.print(f"({number}) [red]{shown(result.variant or result.format)} {shown(result.status)}:[/] "
                  f"{shown(result.message, multiline=True)}")


def _exports_table(results: list[Any], base: Optional[Path], title: str, with_paths: bool) -> Table:
    table = _table(title=title, title_justify="left")
    columns = ["format", "variant", "size", "accuracy", "max |diff|", "latency", "time", "status"]
    for column in columns + (["path"] if with_paths else []):
        table.add_column(column, no_wrap=True)
    failures = 0
    for result in results:
        figures = result.figures
        status = "[green]ok[/]"
        if result.status != "ok":
            failures += 1
            status = f"[red]{shown(result.status)}[/] ({failures})"
        cells = [shown(result.format), shown(result.variant),
                 f"{result.size_bytes / 1024:.0f} KB" if result.size_bytes else "-",
                 f"{figures['accuracy']:.4f}" if "accuracy" in figures else "-",
                 f"{figures['max_abs_diff']:.1e}" if "max_abs_diff" in figures else "-",
                 f"{figures['latency_us']:.0f} µs" if "latency_us" in figures else "-",
                 f"{figures['conversion_seconds']:.1f} s" if "conversion_seconds" in figures else "-", status]
        table.add_row(*cells, *([shown(_relative(result.path, base)) or "-"] if with_paths else []))
    return table


def _relative(path: str, base: Optional[Path]) -> str:
    try:
        return str(Path(path).relative_to(base)) if base and path else path
    except ValueError:
        return path


def render_metrics(run_id: str, metrics: dict[str, Any]) -> None:
    """``zoo evaluate``: the headline figures, then precision/recall/F1 per class."""
    out.print(f"[bold]{shown(run_id)}[/]  accuracy {metrics['accuracy']:.4f}  loss {metrics['loss']:.4f}  "
              f"F1 macro {metrics['f1_macro']:.4f}")
    table = _table()
    for column in ("class", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="right")
    for row in metrics["per_class"]:
        table.add_row(shown(str(row["name"])), f"{row['precision']:.4f}", f"{row['recall']:.4f}",
                      f"{row['f1']:.4f}", str(row["support"]))
    out.print(table)


def runs_table(rows: list[dict[str, Any]]) -> Table:
    """The ``zoo runs`` table of ``run_rows``: id, recipe, status (``completed*``: with problems), started, epochs, accuracy."""
    table = _table()
    sweeps = any(row.get("sweep") for row in rows)
    for column in ("id", "recipe", "status", "started", "epochs", "accuracy", *(("sweep",) if sweeps else ())):
        table.add_column(column, no_wrap=True)
    for row in rows:
        status = row["status"]
        epochs = shown(f"{row['epochs_done'] or 0}/{row['epochs']}" if row["epochs"] else row["epochs_done"] or "-")
        accuracy = row["accuracy"] if isinstance(row["accuracy"], (int, float)) else None
        marked = f"{shown(status)}[yellow]*[/]" if row.get("problems") else shown(status)
        table.add_row(shown(row["id"]), shown(str(row["recipe"])),
                      f"[{STATUS_COLOURS.get(status, 'white')}]{marked}[/]",
                      shown(str(row["started"] or "-").replace("T", " ")[:16]), epochs,
                      f"{accuracy:.4f}" if accuracy is not None else "-",
                      *((shown(row.get("sweep") or "-"),) if sweeps else ()))
    return table


def print_unsqueezed(table: Table) -> None:
    """Print ``table`` at its natural width: a narrow terminal wraps the lines instead of cutting ids short."""
    saved = out._width  # None means "follow the terminal"; setting out.width back would pin today's width
    out.width = max(out.width, Measurement.get(out, out.options.update_width(10_000), table).maximum)
    try:
        out.print(table)
    finally:
        out._width = saved


def render_predictions(results: list[dict[str, Any]]) -> None:
    """``zoo predict``: per input its best class, then the runners-up."""
    for result in results:
        best = result["top"][0]
        others = ", ".join(f"{t['name']} {t['probability']:.1%}" for t in result["top"][1:])
        out.print(f"{shown(result['input'])}: [bold]{shown(str(best['name']))}[/] {best['probability']:.1%}"
                  + (f"  ({shown(others)})" if others else ""))
