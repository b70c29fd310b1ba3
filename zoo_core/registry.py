"""registry.toml: named presets of components and named runs (recipes).

Files are layered: zoo's built-in ``registry.toml``, then ``./registry.toml``
in the working directory, then ``--registry FILE``. A later file's entry of
the same name replaces the earlier one. Everything is checked when the
registry is loaded, before any work: syntax, unknown keys, component names,
parameter types and preset chains. Schema (see README.md)::

    [architectures.mlp-wide]          # a preset: [<kind>s.<name>]
    component = "mlp"                 # a component, or another preset
    summary = "one line"
    hidden = [512, 256]               # the component's parameters

    [runs.my-run]                     # a run (recipe)
    dataset = "mnist"                 # a name, or an inline table:
    architecture = { component = "mlp-wide", dropout = 0.3 }
    optimizer = "adam"
    loss = "sparse-categorical-crossentropy"
    exporters = ["savedmodel", "tflite"]
    epochs = 10                       # and other settings (zoo show --settings)
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from zoo_core._util.toml import read_toml
from zoo_core.components import KIND_TABLE, KINDS, PLURALS, suggest
from zoo_core.config import RUN_COMPONENT_KINDS, ComponentChoice, RunConfig, parse_override
from zoo_core.errors import AmbiguousNameError, ConfigError, UnknownNameError
from zoo_core.plugins import Catalog
from zoo_core.settings import SETTINGS, check_settings

#: registry.toml's component sections, e.g. [losses.NAME], and the kind each holds.
SECTIONS: dict[str, str] = {kind.plural: kind.name for kind in KIND_TABLE}
RUN_KEYS = ("summary", "recipe", *RUN_COMPONENT_KINDS, "exporters", *SETTINGS)


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
                                  hint=f"make one of them name {_a(kind)} component")
            chain.append(name)
            preset = self.presets[kind][name]
            layers.append(preset.params)
            name, where = preset.base, f"{preset.source} [{preset.kind}s.{preset.name}]"
        if not self.catalog.has(kind, name):
            plugin, _, bare = name.rpartition(":")
            if plugin or bare not in self.catalog.by_kind[kind]:
                raise UnknownNameError(f"{where}: unknown {kind} '{name}'{self._elsewhere(kind, name)}",
                                       hint=self.catalog.unknown_hint(kind, name, self.names(kind)))
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
        return f" (it is {_a(others[0])})" if others else ""

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
        setting overrides are applied after, so their order does not matter.
        """
        table = copy.deepcopy(table)
        parsed = [(text, *parse_override(text)) for text in overrides or []]
        swaps = {key: (f"--set '{text}'", value) for text, key, value in parsed
                 if key in (*RUN_COMPONENT_KINDS, "exporters")}
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
        for text, key, value in parsed:
            if key not in swaps:
                self._apply(config, text, key, value)
        return config

    def _check_run_table(self, table: dict[str, Any], where: str, swaps: dict[str, Any]) -> None:
        """Unknown keys, missing components and a non-array ``exporters`` in a run table."""
        unknown = [key for key in table if key not in RUN_KEYS]
        if unknown:
            raise ConfigError(f"{where}: unknown key '{unknown[0]}'",
                              hint=suggest(unknown[0], list(RUN_KEYS), "valid keys"))
        missing = [kind for kind in RUN_COMPONENT_KINDS if kind not in table and kind not in swaps]
        if missing:
            raise ConfigError(f"{where}: a run needs '{missing[0]}'",
                              hint=f'add e.g. {missing[0]} = "{self._example(missing[0])}"')
        exporters = table.get("exporters", [])
        if "exporters" not in swaps and not isinstance(exporters, list):
            raise ConfigError(f"{where}: 'exporters' must be an array of names, got {exporters!r}",
                              hint='e.g. exporters = ["savedmodel", "tflite"]')

    def _apply(self, config: RunConfig, text: str, key: str, value: Any) -> None:
        """Apply one ``--set`` of a setting or a component parameter to a resolved run."""
        where = f"--set '{text}'"
        head, _, rest = key.partition(".")
        if head in SETTINGS and not rest:
            config.settings[head] = SETTINGS[head].check(value, where)
        elif head in RUN_COMPONENT_KINDS and rest:
            choice: ComponentChoice = getattr(config, head)
            choice.params = choice.component.check_params({**choice.params, rest: value}, where)
        elif head == "exporters" and rest:
            self._apply_exporter(config, where, rest, value)
        else:
            valid = [*SETTINGS, *RUN_COMPONENT_KINDS, "exporters"]
            raise ConfigError(f"{where}: unknown key '{key}'",
                              hint=suggest(head, valid, "valid keys (kinds take .parameter)"))

    def _apply_exporter(self, config: RunConfig, where: str, rest: str, value: Any) -> None:
        """``exporters.NAME.PARAMETER=value``: NAME is the name in the run, else the component."""
        name, _, parameter = rest.rpartition(".")
        if not name:
            raise ConfigError(f"{where}: say which exporter", hint="e.g. --set exporters.tflite.quantize=int8")
        matches = ([c for c in config.exporters if c.ref == name]
                   or [c for c in config.exporters if name in (c.component.name, c.component.qualified_name)])
        if not matches:
            raise ConfigError(f"{where}: this run has no exporter '{name}'",
                              hint=suggest(name, [c.ref for c in config.exporters], "its exporters"))
        for choice in matches:
            choice.params = choice.component.check_params({**choice.params, parameter: value}, where)


def _a(noun: str) -> str:
    """'an architecture', 'a dataset'."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


# -- loading files ------------------------------------------------------------------


def builtin_registry_path() -> Path:
    """zoo's own registry.toml: packaged in the wheel, or at the repo root."""
    packaged = Path(str(resources.files("zoo_core"))) / "registry.toml"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "registry.toml"


def registry_files(extra: str | Path | None = None, cwd: Path | None = None) -> list[Path]:
    """The files to layer, in order, without duplicates."""
    files = [builtin_registry_path()]
    local = (cwd or Path.cwd()) / "registry.toml"
    if local.is_file():
        files.append(local)
    if extra is not None:
        extra_path = Path(extra)
        if not extra_path.is_file():
            problem = "is not a file" if extra_path.exists() else "does not exist"
            raise ConfigError(f"registry file '{extra}' {problem}", hint="give --registry the path of a .toml file")
        files.append(extra_path)
    unique: list[Path] = []
    for path in files:
        if path.is_file() and all(path.resolve() != seen.resolve() for seen in unique):
            unique.append(path)
    return unique


def load_registry(catalog: Catalog, extra: str | Path | None = None, cwd: Path | None = None) -> Registry:
    """Read, merge and check the registry files."""
    registry = Registry(catalog)
    for path in registry_files(extra, cwd):
        _read_file(registry, path)
    _check(registry)
    return registry


def _read_file(registry: Registry, path: Path) -> None:
    registry.files.append(path)
    data, text = read_toml(path)
    for section, entries in data.items():
        if section != "runs" and section not in SECTIONS:
            _unknown_section(path, text, section, entries)
        if not isinstance(entries, dict) or any(not isinstance(v, dict) for v in entries.values()):
            raise ConfigError(f"{Source(str(path), _locate(text, section))}: '{section}' must hold tables",
                              hint=f"write each entry as [{section}.NAME]")
        for name, table in entries.items():
            source = Source(str(path), _locate(text, section, name))
            if ":" in name:
                raise ConfigError(f"{source} [{section}.{name}]: names cannot contain ':'",
                                  hint="':' separates a plugin from a name (plugin:name); use '-' instead")
            if section == "runs":
                summary = table.get("summary", "")
                registry.runs[name] = Recipe(name, summary if isinstance(summary, str) else "", table, source)
                continue
            kind = SECTIONS[section]
            params = dict(table)
            base = params.pop("component", None)
            summary = params.pop("summary", "")
            where = f"{source} [{section}.{name}]"
            if not isinstance(base, str):
                raise ConfigError(f"{where}: a preset needs component = \"<{kind} name>\"",
                                  hint=suggest("", registry.catalog.names(kind), f"available {PLURALS[kind]}"))
            if not isinstance(summary, str):
                raise ConfigError(f"{where}: 'summary' must be a string")
            registry.presets[kind][name] = Preset(kind, name, base, params, summary, source)


def _unknown_section(path: Path, text: str, section: str, entries: Any) -> None:
    """Raise the error for a top-level table or key that the schema does not have."""
    where = Source(str(path), _locate(text, section))
    what = "section" if isinstance(entries, dict) else "top-level key"
    hint = suggest(section, [*SECTIONS, "runs"], "valid sections")
    if section in RUN_KEYS:
        hint = f"'{section}' belongs in a run: put it under a [runs.NAME] table"
    raise ConfigError(f"{where}: unknown {what} '{section}'", hint=hint)


def _check(registry: Registry) -> None:
    """Resolve every preset and run once, so any mistake surfaces now.

    A name made ambiguous by two plugins is the plugins' doing, not the
    file's: it was warned about when they loaded, and it is an error only
    when that preset or run is used, so everything else keeps working.
    """
    for kind, presets in registry.presets.items():
        for name, preset in presets.items():
            where = f"{preset.source} [{kind}s.{name}]"
            owners = registry.catalog.by_kind[kind].get(name, [])
            if owners:
                plugins = " and ".join(f"'{c.plugin}'" for c in owners)
                raise ConfigError(f"{where}: preset '{name}' has the name of {_a(kind)} of plugin {plugins}",
                                  hint="give the preset another name")
            _check_entry(lambda: registry.resolve(kind, name, where), preset.source, kind + "s", name)
    for name, recipe in registry.runs.items():
        _check_entry(lambda: registry.run(name), recipe.source, "runs", name)


def _check_entry(resolve: Any, source: Source, section: str, name: str) -> None:
    """Run ``resolve``; sharpen a ConfigError to the offending line, let ambiguity pass."""
    try:
        resolve()
    except AmbiguousNameError:
        pass
    except ConfigError as error:
        raise _at_key(error, source, section, name) from None


def _at_key(error: ConfigError, source: Source, section: str, name: str) -> ConfigError:
    """Sharpen an error's line number to the offending key, where it can be found."""
    key = _key_in(error.message, section)
    if not key or not source.line:
        return error
    try:
        text = Path(source.path).read_text(encoding="utf-8")
    except OSError:
        return error
    line = _locate(text, section, name, key)
    if line and line != source.line:
        error.message = error.message.replace(str(source), f"{source.path}:{line}", 1)
    return error


def _key_in(message: str, section: str) -> str | None:
    """The registry key an error message is about: a parameter, setting or component."""
    match = re.search(r"(?:parameter|key|setting) '([\w-]+)'", message)
    if match:
        return match.group(1)
    match = re.search(rf"unknown ({'|'.join(KINDS)}) '", message)
    if match:
        kind = match.group(1)
        return "component" if section != "runs" else "exporters" if kind == "exporter" else kind
    return None


def _locate(text: str, section: str, name: str | None = None, key: str | None = None) -> int | None:
    """Best-effort line number of ``[section.name]`` (and ``key =`` within it)."""
    lines = text.splitlines()
    if name is None:
        pattern = re.compile(rf"^\s*\[+\s*{re.escape(section)}\b|^\s*{re.escape(section)}\s*=")
    else:
        quoted = rf"(?:{re.escape(name)}|\"{re.escape(name)}\"|'{re.escape(name)}')"
        pattern = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\.\s*{quoted}\s*\]")
    start = next((i for i, line in enumerate(lines) if pattern.search(line)), None)
    if start is None:
        return None
    if key is None:
        return start + 1
    key_pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=|[{{,]\s*{re.escape(key)}\s*=")
    for index in range(start + 1, len(lines)):
        if lines[index].lstrip().startswith("["):
            break
        if key_pattern.search(lines[index]):
            return index + 1
    return start + 1
