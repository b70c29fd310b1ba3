"""The ``zoo`` command: a thin typer layer over zoo_core's Python API.

Introspection commands (``--help``, ``list``, ``show``, ``plugins``) never
import TensorFlow; the commands that train or export import it only when they
run. User mistakes (:class:`ZooError`) print a short message and exit
non-zero; ``--debug`` or ``ZOO_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import functools
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zoo_core import __version__
from zoo_core.components import KINDS, PLURALS, REQUIRED, Component, suggest
from zoo_core.errors import ConfigError, ZooError
from zoo_core.plugins import Catalog, load_catalog
from zoo_core.registry import Registry, load_registry
from zoo_core.settings import SETTINGS

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class State:
    """Options shared by every command, and the lazily loaded catalog/registry."""

    debug: bool = False
    registry_file: Optional[Path] = None
    plugins_dir: Optional[Path] = None
    _catalog: Optional[Catalog] = None
    _registry: Optional[Registry] = None

    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog(self.plugins_dir)
        return self._catalog

    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = load_registry(self.catalog(), self.registry_file)
        return self._registry


state = State()


def handles_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command so a ZooError prints a short message and sets the exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ZooError as error:
            if state.debug:
                raise
            err.print(f"[bold red]error:[/] {escape(str(error))}")
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            if state.debug:
                raise
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as error:  # a bug, not a user mistake: say so briefly
            if state.debug:
                raise
            err.print(f"[bold red]internal error:[/] {escape(type(error).__name__)}: {escape(str(error))}\n"
                      "  run again with --debug for the traceback, and please report it")
            raise typer.Exit(1) from None

    return wrapper


app = typer.Typer(
    name="zoo",
    help="Compose TensorFlow/Keras training runs from named parts, and ship the result.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        out.print(f"zoo {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    registry: Optional[Path] = typer.Option(None, "--registry", help="Extra registry.toml layered on the built-in and ./registry.toml."),
    plugins_dir: Optional[Path] = typer.Option(None, "--plugins-dir", envvar="ZOO_PLUGINS_DIR",
                                               help="Also load loose .py plugin files from this folder."),
    debug: bool = typer.Option(False, "--debug", envvar="ZOO_DEBUG", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Compose TensorFlow/Keras training runs from named parts, and ship the result."""
    state.debug = debug
    state.registry_file = registry
    state.plugins_dir = plugins_dir
    state._catalog = state._registry = None


# -- list ---------------------------------------------------------------------------

#: Every way to name a kind in 'zoo list KIND': singular or plural.
LIST_KINDS = {**{k: k for k in PLURALS}, **{plural: k for k, plural in PLURALS.items()}}
#: The kind names as users write them, for messages and group titles.


def list_rows(registry: Registry, kind: Optional[str] = None, pattern: Optional[str] = None) -> list[dict[str, str]]:
    """The rows of ``zoo list``: per kind its components then its presets; then runs.

    ``kind`` is a component kind, ``"preset"``, ``"run"`` or ``"setting"``
    (settings are listed only when asked for); ``pattern`` is a glob on
    names, or plain text matched anywhere.
    """
    rows: list[dict[str, str]] = []
    for component_kind in KINDS:
        if kind in (None, component_kind):
            rows += [_component_row(c) for c in registry.catalog.components(component_kind)]
        if kind in (None, component_kind, "preset"):
            rows += [_preset_row(p) for _, p in sorted(registry.presets[component_kind].items())]
    if kind in (None, "run"):
        for name, recipe in sorted(registry.runs.items()):
            rows.append({"type": "run", "kind": "run", "name": name, "summary": recipe.summary,
                         "plugin": Path(recipe.source.path).name, "source": str(recipe.source)})
    if kind == "setting":
        for name, setting in SETTINGS.items():
            rows.append({"type": "setting", "kind": "setting", "name": name, "summary": setting.parameter.help,
                         "plugin": f"{setting.parameter.type_name} = {_toml(setting.parameter.default)}"})
    if pattern:
        glob = pattern if any(ch in pattern for ch in "*?[") else f"*{pattern}*"
        rows = [row for row in rows if fnmatch.fnmatch(row["name"].lower(), glob.lower())
                or fnmatch.fnmatch(row.get("qualified_name", "").lower(), glob.lower())]
    return rows


def _component_row(component: Component) -> dict[str, str]:
    return {"type": "component", "kind": component.kind, "name": component.name,
            "summary": component.summary, "plugin": component.plugin,
            "qualified_name": component.qualified_name}


def _preset_row(preset: Any) -> dict[str, str]:
    return {"type": "preset", "kind": preset.kind, "name": preset.name, "summary": preset.summary,
            "plugin": f"preset of {preset.base}", "source": str(preset.source)}


@app.command("list")
@handles_errors
def list_command(
    kind: Optional[str] = typer.Argument(None, help="datasets, architectures, optimizers, losses, exporters, presets, runs or settings."),
    pattern: Optional[str] = typer.Argument(None, help="Glob on names, e.g. 'tflite*' (plain text matches anywhere)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """List components, presets and runs, optionally by kind and name pattern."""
    if kind is not None and kind.lower() not in LIST_KINDS:
        if pattern is not None:
            raise ConfigError(f"unknown kind '{kind}'", hint=suggest(kind.lower(), list(PLURALS.values()), "kinds"))
        kind, pattern = None, kind
    chosen = LIST_KINDS[kind.lower()] if kind else None
    rows = list_rows(state.registry(), chosen, pattern)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print(_nothing_matches(pattern, kind_given=kind is not None))
        return
    _render_rows(rows, state.registry())


def _nothing_matches(pattern: Optional[str], kind_given: bool) -> str:
    """The note for an empty listing; a pattern that looks like a misspelt kind says so."""
    import difflib

    close = [] if kind_given else difflib.get_close_matches((pattern or "").lower(), list(PLURALS.values()), n=1)
    maybe = f" (did you mean '{close[0]}' as a kind?)" if close else ""
    return (f"nothing matches{f' {pattern!r}' if pattern else ''}{maybe}; try 'zoo list' for everything, "
            f"or one of: {', '.join(PLURALS.values())}")


def _render_rows(rows: list[dict[str, str]], registry: Registry) -> None:
    """One small table per kind, titled by the kind, so each fits the width on its own."""
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row["kind"], []).append(row)
    for index, (kind, group) in enumerate(groups.items()):
        if index:
            out.print()
        last = {"run": "file", "setting": "type = default"}.get(kind, "plugin")
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column(PLURALS[kind], no_wrap=True)
        table.add_column("summary", overflow="fold", ratio=1)
        table.add_column(last, no_wrap=kind != "setting", overflow="fold")
        for row in group:
            table.add_row(escape(_display_name(row, registry)), escape(row["summary"]), escape(row["plugin"]))
        out.print(table)


def _display_name(row: dict[str, str], registry: Registry) -> str:
    """The name to show: ``plugin:name`` when plugins share the bare name."""
    if row["type"] == "component" and len(registry.catalog.by_kind[row["kind"]].get(row["name"], [])) > 1:
        return row["qualified_name"]
    return row["name"]


# -- show ---------------------------------------------------------------------------


def show_data(registry: Registry, name: str) -> list[dict[str, Any]]:
    """Everything called ``name``: components, presets and runs, as dicts."""
    found: list[dict[str, Any]] = []
    for kind in KINDS:
        if registry.catalog.has(kind, name) and name not in registry.presets[kind]:
            plugin, _, bare = name.rpartition(":")
            for component in registry.catalog.by_kind[kind][bare]:
                if not plugin or component.plugin == plugin:
                    found.append(_component_data(component))
        if name in registry.presets[kind]:
            preset = registry.presets[kind][name]
            choice = registry.resolve(kind, name, str(preset.source))
            found.append({"type": "preset", "kind": kind, "name": name, "summary": preset.summary,
                          "component": choice.component.qualified_name, "base": preset.base,
                          "plugin": choice.component.plugin,
                          "source": str(preset.source), "params": choice.params,
                          "parameters": _parameters_data(choice.component)})
    if name in registry.runs:
        recipe = registry.runs[name]
        config = registry.run(name)
        found.append({"type": "run", "kind": "run", "name": name, "summary": recipe.summary,
                      "source": str(recipe.source), "config": config.to_dict(),
                      "references": {c.kind if c.kind != "exporter" else f"exporter {i}": c.ref
                                     for i, c in enumerate(config.choices())}})
    if name in ("settings", "setting") and not found:
        found.append({"type": "settings", "kind": "setting", "name": "settings",
                      "summary": "Run settings, for [runs.NAME] tables and --set",
                      "parameters": [_parameter_data(s.parameter) for s in SETTINGS.values()]})
    if not found:
        every = sorted({n for kind in KINDS for n in registry.names(kind)} | set(registry.runs))
        raise ConfigError(f"nothing is called '{name}'", hint=suggest(name, every, "names ('zoo list' shows all)"))
    return found


def _component_data(component: Component) -> dict[str, Any]:
    return {"type": "component", "kind": component.kind, "name": component.name,
            "qualified_name": component.qualified_name, "summary": component.summary,
            "plugin": component.plugin, "distribution": component.distribution, "version": component.version,
            "factory": component.factory if isinstance(component.factory, str)
            else f"{component.factory.__module__}:{component.factory.__qualname__}",
            "parameters": _parameters_data(component)}


def _parameters_data(component: Component) -> list[dict[str, Any]]:
    return [_parameter_data(p) for p in component.parameters().values()]


def _parameter_data(parameter: Any) -> dict[str, Any]:
    return {"name": parameter.name, "type": parameter.type_name,
            "default": None if parameter.default is REQUIRED else parameter.default,
            "required": parameter.required, "help": parameter.help}


def _toml(value: Any) -> str:
    """A value as it would be written in TOML (for display)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if value is None:
        return "(unset)"
    if value is REQUIRED:
        return "(required)"
    return str(value)


@app.command("show")
@handles_errors
def show_command(
    name: str = typer.Argument(..., help="A component, preset or run name (or plugin:name); 'settings' for run settings."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show one component, preset or run: what it is, where it comes from, its parameters."""
    found = show_data(state.registry(), name)
    if as_json:
        print(json.dumps(found if len(found) > 1 else found[0], indent=2))
        return
    for index, item in enumerate(found):
        if index:
            out.print()
        _render_show(item)


def _render_show(item: dict[str, Any]) -> None:
    title = f"[bold]{escape(item['name'])}[/]  ({item['type'] if item['type'] != 'component' else item['kind']})"
    out.print(title)
    if item.get("summary"):
        out.print(f"  {escape(item['summary'])}")
    if item["type"] == "component":
        out.print(f"  kind: {item['kind']}   plugin: {escape(item['plugin'])} "
                  f"({escape(item['distribution'])} {escape(item['version'])})")
        out.print(f"  factory: {escape(item['factory'])}")
        _render_parameters(item["parameters"], None)
    elif item["type"] == "preset":
        component = item["component"].rpartition(":")[2]
        via = f" (via {escape(item['base'])})" if item["base"] not in (component, item["component"]) else ""
        out.print(f"  preset of {item['kind']} {escape(component)}{via} from plugin {escape(item['plugin'])}")
        out.print(f"  defined at {escape(item['source'])}")
        _render_parameters(item["parameters"], item["params"])
    elif item["type"] == "settings":
        _render_parameters(item["parameters"], None)
    else:
        config = item["config"]
        out.print(f"  defined at {escape(item['source'])}")
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("part", no_wrap=True)
        table.add_column("name (component)", no_wrap=True)
        table.add_column("parameters", overflow="fold", ratio=1)
        parts = [(kind, item["references"][kind], config[kind]) for kind in ("dataset", "architecture", "optimizer", "loss")]
        parts += [("exporter", item["references"][f"exporter {index + 4}"], part)
                  for index, part in enumerate(config["exporters"])]
        for kind, ref, part in parts:
            name = ref if ref == part["component"] else f"{ref} ({part['component']})"
            table.add_row(kind, escape(name), _params_text(part))
        out.print(table)
        settings = {k: config[k] for k in SETTINGS}
        out.print("  settings: " + ", ".join(f"{k}={_toml(v)}" for k, v in settings.items()), soft_wrap=False)


def _params_text(table: dict[str, Any]) -> str:
    return escape(", ".join(f"{k}={_toml(v)}" for k, v in table.items() if k != "component"))


def _render_parameters(parameters: list[dict[str, Any]], values: Optional[dict[str, Any]]) -> None:
    if not parameters:
        out.print("  no parameters")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = ["parameter", "type", "default"] + (["value"] if values is not None else []) + ["help"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for parameter in parameters:
        default = "(required)" if parameter["required"] else _toml(parameter["default"])
        row = [parameter["name"], parameter["type"], default]
        if values is not None:
            row.append(_toml(values.get(parameter["name"])))
        row.append(parameter["help"])
        table.add_row(*(escape(str(cell)) for cell in row))
    out.print(table)


# -- plugins ------------------------------------------------------------------------


@app.command("plugins")
@handles_errors
def plugins_command(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Every plugin: distribution, version, hooks, what it registered, and whether it loaded."""
    records = state.catalog().plugins
    if as_json:
        print(json.dumps([record.to_dict() for record in records], indent=2))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("plugin", no_wrap=True)
    table.add_column("distribution", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("hooks: registered", overflow="fold", ratio=2)
    for record in records:
        status = {"loaded": "[green]loaded[/]", "disabled": "[yellow]disabled[/]"}.get(record.status, "[red]failed[/]")
        distribution = f"{record.distribution} {record.version}".strip()
        table.add_row(escape(record.name), escape(distribution), status, escape(_registered_text(record)))
    out.print(table)
    problems = [record for record in records if record.error]
    if problems:
        out.print()
    for record in problems:
        out.print(f"[bold]{escape(record.name)}[/] {record.status}: {escape(record.error)}")


def _registered_text(record: Any) -> str:
    """'optimizers: adam, sgd', one line per hook the plugin implements."""
    parts = []
    for hook in record.hooks:
        kind = hook.removeprefix("register_")
        names = [c.name for c in record.components if PLURALS.get(c.kind) == kind]
        parts.append(f"{kind}: {', '.join(names) or '(none)'}")
    return "\n".join(parts)


# -- training, evaluation, export: see zoo_core.cli_runs ------------------------------

from zoo_core import cli_runs  # noqa: E402,F401  (registers its commands on `app`)


def main() -> None:
    """Console-script entry point.

    ``--debug`` is accepted anywhere on the command line (``zoo run X --debug``
    as well as ``zoo --debug run X``): it is a request for tracebacks, not an
    option of one command.
    """
    if "--debug" in sys.argv[1:]:
        sys.argv = [sys.argv[0]] + [arg for arg in sys.argv[1:] if arg != "--debug"]
        os.environ["ZOO_DEBUG"] = "1"
    app()


if __name__ == "__main__":
    main()
