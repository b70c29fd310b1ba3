"""The merged registry: presets and named runs, resolved against the catalog of components into a RunConfig."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo_core._util.text import suggest
from zoo_core.components import KINDS, PLURALS
from zoo_core.errors import AmbiguousNameError, ConfigError, UnknownNameError
from zoo_core.plugins import Catalog
from zoo_core.registry.overrides import apply_overrides, component_swaps, parse_overrides
from zoo_core.registry.runconfig import RUN_COMPONENT_KINDS, RUN_KEYS, ComponentChoice, RunConfig
from zoo_core.registry.settings import SETTINGS, check_settings


@dataclass
class Source:
    """Where an entry was written: a file and line."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass
class Preset:
    """A registry name bound to a component (or another preset) and parameters."""

    kind: str
    name: str
    base: str
    params: dict[str, Any]
    summary: str
    source: Source

    @property
    def where(self) -> str:
        """How messages name it: ``path:line [architectures.NAME]``."""
        return f"{self.source} [{PLURALS[self.kind]}.{self.name}]"


@dataclass
class Recipe:
    """A named run from ``[runs.NAME]``; ``table`` is its raw TOML table."""

    name: str
    summary: str
    table: dict[str, Any]
    source: Source


@dataclass
class Registry:
    """The merged registry files, checked against a catalog of components."""

    catalog: Catalog
    presets: dict[str, dict[str, Preset]] = field(default_factory=lambda: {k: {} for k in KINDS})
    runs: dict[str, Recipe] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    # -- components and presets -------------------------------------------------

    def names(self, kind: str) -> list[str]:
        """Every name usable for ``kind``: components and presets."""
        return sorted(set(self.catalog.names(kind)) | set(self.presets[kind]))

    def resolve(self, kind: str, reference: Any, where: str) -> ComponentChoice:
        """Resolve a name or an inline table ``{component = ..., **params}``."""
        if isinstance(reference, str):
            name, params = reference, {}
        elif isinstance(reference, dict):
            if "component" not in reference:
                raise ConfigError(f"{where}: inline {kind} table needs a 'component' key",
                                  hint=f'e.g. {{ component = "{self._example(kind)}" }}')
            params = dict(reference)
            name = params.pop("component")
            if not isinstance(name, str):
                raise ConfigError(f"{where}: {kind} 'component' must be a string, got {name!r}")
        else:
            raise ConfigError(f"{where}: {kind} must be a name or an inline table, got {reference!r}",
                              hint=f'e.g. {kind} = "{self._example(kind)}"')
        component_name, preset_params = self._follow(kind, name, where)
        try:
            component = self.catalog.find(kind, component_name)
        except AmbiguousNameError as error:
            example = self.catalog.by_kind[kind][component_name][0].qualified_name
            where_to = f"e.g. --set {kind}={example}" if kind in RUN_COMPONENT_KINDS else f'e.g. "{example}"'
            raise AmbiguousNameError(f"{where}: {error.message}", hint=f"{error.hint} ({where_to})") from None
        checked = component.check_params({**preset_params, **params}, where)
        return ComponentChoice(kind, name, component, checked)

    def _follow(self, kind: str, name: str, where: str) -> tuple[str, dict[str, Any]]:
        """Walk a preset chain down to a component; return it and the merged params."""
        chain: list[str] = []
        layers: list[dict[str, Any]] = []
        while name in self.presets[kind] and not self.catalog.has(kind, name):
            if name in chain:
                loop = " -> ".join([*chain, name])
                raise ConfigError(f"{where}: presets refer to each other in a loop: {loop}",
                                  hint=f"make one of them name {with_article(kind)} component")
            chain.append(name)
            preset = self.presets[kind][name]
            layers.append(preset.params)
            name, where = preset.base, preset.where
        if not self.catalog.has(kind, name):
            plugin, _, bare = name.rpartition(":")
            if plugin or bare not in self.catalog.by_kind[kind]:
                raise UnknownNameError(f"{where}: unknown {kind} '{name}'{self._elsewhere(kind, name)}",
                                       hint=self.catalog.unknown_hint(kind, name, self.names(kind)),
                                       key="exporters" if kind == "exporter" else kind)  # its key in a run table
        params: dict[str, Any] = {}
        for layer in reversed(layers):
            params.update(layer)
        return name, params

    def _example(self, kind: str) -> str:
        names = self.names(kind)
        return names[0] if names else "name"

    def _elsewhere(self, kind: str, name: str) -> str:
        """' (it is an architecture)' when ``name`` exists as another kind."""
        others = [other for other in KINDS if other != kind and name in self.names(other)]
        return f" (it is {with_article(others[0])})" if others else ""

    # -- runs -----------------------------------------------------------------

    def run(self, name: str, overrides: list[str] | None = None) -> RunConfig:
        """Resolve the named run, then apply ``--set`` overrides."""
        if name not in self.runs:
            raise UnknownNameError(f"unknown run '{name}'", hint=suggest(name, list(self.runs), "available runs"))
        recipe = self.runs[name]
        return self.run_from_table(recipe.table, name, f"{recipe.source} [runs.{name}]", overrides)

    def compose(self, dataset: str, architecture: str, optimizer: str, loss: str,
                exporters: list[str] | None = None, overrides: list[str] | None = None) -> RunConfig:
        """Resolve an ad-hoc run from component or preset names."""
        table = {"dataset": dataset, "architecture": architecture, "optimizer": optimizer,
                 "loss": loss, "exporters": list(exporters or [])}
        return self.run_from_table(table, "adhoc", "command line", overrides)

    def run_from_table(self, table: dict[str, Any], recipe: str, where: str,
                       overrides: list[str] | None = None) -> RunConfig:
        """Resolve a run table (registry entry or config.toml) and apply ``--set`` overrides.

        Overrides that replace a component (``optimizer=sgd``) or the exporters
        take the table's place before anything is resolved; parameter and
        setting overrides are applied after (zoo_core.registry.overrides).
        """
        table = copy.deepcopy(table)
        parsed = parse_overrides(overrides)
        swaps = component_swaps(parsed)
        self._check_run_table(table, where, swaps)

        def part(kind: str) -> ComponentChoice:
            place, reference = swaps.get(kind, (where, table.get(kind)))
            return self.resolve(kind, reference, place)

        exporters_place, exporters = swaps.get("exporters", (where, table.get("exporters", [])))
        config = RunConfig(
            recipe=str(table.get("recipe", recipe)),
            summary=str(table.get("summary", "")),
            dataset=part("dataset"),
            architecture=part("architecture"),
            optimizer=part("optimizer"),
            loss=part("loss"),
            exporters=[self.resolve("exporter", ref, exporters_place)
                       for ref in (exporters if isinstance(exporters, list) else [exporters])],
            settings=check_settings({k: v for k, v in table.items() if k in SETTINGS}, where),
        )
        apply_overrides(config, parsed)
        return config

    def _check_run_table(self, table: dict[str, Any], where: str, swaps: dict[str, Any]) -> None:
        """Unknown keys, missing components and a non-array ``exporters`` in a run table."""
        unknown = [key for key in table if key not in RUN_KEYS]
        if unknown:
            raise ConfigError(f"{where}: unknown key '{unknown[0]}'",
                              hint=suggest(unknown[0], list(RUN_KEYS), "valid keys"), key=unknown[0])
        missing = [kind for kind in RUN_COMPONENT_KINDS if kind not in table and kind not in swaps]
        if missing:
            raise ConfigError(f"{where}: a run needs '{missing[0]}'",
                              hint=f'add e.g. {missing[0]} = "{self._example(missing[0])}"')
        exporters = table.get("exporters", [])
        if "exporters" not in swaps and not isinstance(exporters, list):
            raise ConfigError(f"{where}: 'exporters' must be an array of names, got {exporters!r}",
                              hint='e.g. exporters = ["savedmodel", "tflite"]')


def with_article(noun: str) -> str:
    """'an architecture', 'a dataset'."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
