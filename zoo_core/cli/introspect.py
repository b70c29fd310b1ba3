"""``zoo list``, ``zoo show`` and ``zoo plugins``: what the plugins and registry offer.

The data functions :func:`list_rows` and :func:`show_data` return what
``--json`` prints; :mod:`zoo_core.cli.render` draws the tables. Nothing here
imports TensorFlow.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any, Optional

import typer

from zoo_core.cli.app import app, handles_errors, out, shown, state
from zoo_core.cli.render import render_plugins, render_rows, render_show, toml_literal
from zoo_core.components import KINDS, PLURALS, REQUIRED, Component, suggest
from zoo_core.errors import ConfigError
from zoo_core.registry import RUN_COMPONENT_KINDS, SETTINGS, Registry
from zoo_core.sweeps.definition import name_problem, read_sweep

#: Every way to name a kind in 'zoo list KIND': singular or plural. Recipes are listed under the kind "run", the
#: word of their [runs.NAME] section; 'zoo list recipes' is the same listing under the glossary's word.
LIST_KINDS = {**{k: k for k in PLURALS}, **{plural: k for k, plural in PLURALS.items()}, "sweep": "sweep",
              "sweeps": "sweep", "recipe": "run", "recipes": "run"}


# -- list ------------------------------------------------------------------------------


def list_rows(registry: Registry, kind: Optional[str] = None, pattern: Optional[str] = None) -> list[dict[str, str]]:
    """The rows of ``zoo list``: per kind its components then its presets; then recipes, then sweeps.

    ``kind`` is a component kind, ``"preset"``, ``"run"`` (recipes: the rows' kind, as JSON has it), ``"sweep"`` or
    ``"setting"``
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
        for name, recipe in sorted(registry.recipes.items()):
            rows.append({"type": "run", "kind": "run", "name": name, "summary": recipe.summary,
                         "plugin": Path(recipe.source.path).name, "source": str(recipe.source),
                         "unavailable": recipe.unavailable})
    if kind in (None, "sweep"):
        for name, entry in sorted(registry.sweeps.items()):
            rows.append({"type": "sweep", "kind": "sweep", "name": name, "summary": entry.summary,
                         "plugin": Path(entry.source.path).name, "source": str(entry.source), "unavailable": "",
                         "invalid": name_problem(name)})  # the rest of the table is checked when it is used
    if kind == "setting":
        for name, setting in SETTINGS.items():
            rows.append({"type": "setting", "kind": "setting", "name": name, "summary": setting.parameter.help,
                         "plugin": f"{setting.parameter.type_name} = {toml_literal(setting.parameter.default)}"})
    if pattern:
        glob = pattern if any(ch in pattern for ch in "*?[") else f"*{pattern}*"
        rows = [row for row in rows if fnmatch.fnmatch(row["name"].lower(), glob.lower())
                or fnmatch.fnmatch(row.get("qualified_name", "").lower(), glob.lower())]
    return rows


def _component_row(component: Component) -> dict[str, str]:
    """A component's row; ``unavailable`` says which optional extra it needs, while that is not installed."""
    row = {"type": "component", "kind": component.kind, "name": component.name,
           "summary": component.summary, "plugin": component.plugin, "qualified_name": component.qualified_name}
    problem = component.requirement_problem()
    return {**row, "unavailable": problem} if problem else row


def _preset_row(preset: Any) -> dict[str, str]:
    return {"type": "preset", "kind": preset.kind, "name": preset.name, "summary": preset.summary,
            "plugin": f"preset of {preset.base}", "source": str(preset.source), "unavailable": preset.unavailable}


@app.command("list")
@handles_errors
def list_command(
    kind: Optional[str] = typer.Argument(None, help="datasets, architectures, optimizers, losses, exporters, callbacks, "
                                         "presets, runs (or recipes: the same), sweeps or settings."),
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
        out.print(shown(_nothing_matches(pattern, kind_given=kind is not None)))  # the pattern is the user's
        return
    render_rows(rows, state.registry())


def _nothing_matches(pattern: Optional[str], kind_given: bool) -> str:
    """The note for an empty listing; a pattern that looks like a misspelt kind says so."""
    import difflib

    close = [] if kind_given else difflib.get_close_matches((pattern or "").lower(), list(PLURALS.values()), n=1)
    maybe = f" (did you mean '{close[0]}' as a kind?)" if close else ""
    return (f"nothing matches{f' {pattern!r}' if pattern else ''}{maybe}; try 'zoo list' for everything, "
            f"or one of: {', '.join(PLURALS.values())}")


# -- show ------------------------------------------------------------------------------


def show_data(registry: Registry, name: str) -> list[dict[str, Any]]:
    """Everything called ``name``: components, presets, recipes and sweeps, as dicts."""
    found: list[dict[str, Any]] = []
    for kind in KINDS:
        if registry.catalog.has(kind, name):
            plugin, _, bare = name.rpartition(":")
            for component in registry.catalog.by_kind[kind][bare]:
                if not plugin or component.plugin == plugin:
                    found.append(_component_data(component))
        if name in registry.presets[kind]:
            found.append(_preset_data(registry, kind, name))
    if name in registry.recipes:
        found.append(_recipe_data(registry, name))
    if name in registry.sweeps:
        found.append(sweep_data(registry, name))
    if name in ("settings", "setting") and not found:
        found.append({"type": "settings", "kind": "setting", "name": "settings",
                      "summary": "Run settings, for [runs.NAME] tables and --set",
                      "parameters": [_parameter_data(s.parameter) for s in SETTINGS.values()]})
    if not found:
        every = sorted({n for kind in KINDS for n in registry.names(kind)} | set(registry.recipes)
                       | set(registry.sweeps))
        raise ConfigError(f"nothing is called '{name}'", hint=suggest(name, every, "names ('zoo list' shows all)"))
    return found


def sweep_data(registry: Registry, name: str) -> dict[str, Any]:
    """``zoo show SWEEP``: its base recipe, metric, sampler, pruner, and each key of the space (no Optuna needed)."""
    sweep = read_sweep(registry, name)
    return {"type": "sweep", "kind": "sweep", "name": name, "summary": sweep.summary, "source": str(sweep.source),
            "run": sweep.recipe, "metric": sweep.metric, "direction": sweep.direction, "trials": sweep.trials,
            "sampler": sweep.sampler, "pruner": sweep.pruner.kind, "seed": sweep.seed, "set": sweep.fixed,
            "space": {key: dimension.describe() for key, dimension in sweep.space.items()}}


def _component_data(component: Component) -> dict[str, Any]:
    return {"type": "component", "kind": component.kind, "name": component.name,
            "qualified_name": component.qualified_name, "summary": component.summary,
            "plugin": component.plugin, "distribution": component.distribution, "version": component.version,
            "factory": component.factory if isinstance(component.factory, str)
            else f"{component.factory.__module__}:{component.factory.__qualname__}",
            "parameters": _parameters_data(component),
            "requires": list(component.requires), "unavailable": component.requirement_problem()}


def _preset_data(registry: Registry, kind: str, name: str) -> dict[str, Any]:
    preset = registry.presets[kind][name]
    choice = registry.resolve_preset(kind, name)
    return {"type": "preset", "kind": kind, "name": name, "summary": preset.summary,
            "component": choice.component.qualified_name, "base": preset.base,
            "plugin": choice.component.plugin,
            "source": str(preset.source), "params": choice.params,
            "parameters": _parameters_data(choice.component)}


def _recipe_data(registry: Registry, name: str) -> dict[str, Any]:
    """A recipe, resolved; ``references`` are the names as written, exporters in a list like the config's.

    Its ``type`` and ``kind`` are ``"run"``, as ``zoo show --json`` has always printed them.
    """
    recipe = registry.recipes[name]
    config = registry.resolve_recipe(name)
    references: dict[str, Any] = {kind: getattr(config, kind).ref for kind in RUN_COMPONENT_KINDS}
    references["exporters"] = [choice.ref for choice in config.exporters]
    references["callbacks"] = [choice.ref for choice in config.callbacks]
    return {"type": "run", "kind": "run", "name": name, "summary": recipe.summary,
            "source": str(recipe.source), "config": config.to_dict(), "references": references}


def _parameters_data(component: Component) -> list[dict[str, Any]]:
    return [_parameter_data(p) for p in component.parameters().values()]


def _parameter_data(parameter: Any) -> dict[str, Any]:
    return {"name": parameter.name, "type": parameter.type_name,
            "default": None if parameter.default is REQUIRED else parameter.default,
            "required": parameter.required, "help": parameter.help}


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
        render_show(item)


# -- plugins ---------------------------------------------------------------------------


@app.command("plugins")
@handles_errors
def plugins_command(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Every plugin: distribution, version, hooks, what it registered, and whether it loaded."""
    records = state.catalog().plugins
    if as_json:
        print(json.dumps([record.to_dict() for record in records], indent=2))
        return
    render_plugins(records)
