"""Reading the layered registry files and checking every entry, with errors that point at the line."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from zoo_core._util.text import suggest
from zoo_core._util.toml import read_toml
from zoo_core.components import KIND_TABLE, PLURALS
from zoo_core.errors import AmbiguousNameError, ConfigError, UnknownNameError
from zoo_core.plugins import Catalog
from zoo_core.registry.resolve import Preset, Recipe, Registry, Source, with_article
from zoo_core.registry.runconfig import RUN_KEYS

#: registry.toml's component sections, e.g. [losses.NAME], and the kind each holds.
SECTIONS: dict[str, str] = {kind.plural: kind.name for kind in KIND_TABLE}


def builtin_registry_path() -> Path:
    """zoo's own registry.toml: packaged in the wheel, or at the repo root."""
    packaged = Path(str(resources.files("zoo_core"))) / "registry.toml"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "registry.toml"


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
            else:
                registry.presets[SECTIONS[section]][name] = _preset(registry, SECTIONS[section], name, table, source)


def _preset(registry: Registry, kind: str, name: str, table: dict[str, Any], source: Source) -> Preset:
    """A ``[<kind>s.NAME]`` table as a Preset; its component and summary are checked here, the rest later."""
    params = dict(table)
    base = params.pop("component", None)
    summary = params.pop("summary", "")
    where = f"{source} [{PLURALS[kind]}.{name}]"
    if not isinstance(base, str):
        raise ConfigError(f"{where}: a preset needs component = \"<{kind} name>\"",
                          hint=suggest("", registry.catalog.names(kind), f"available {PLURALS[kind]}"))
    if not isinstance(summary, str):
        raise ConfigError(f"{where}: 'summary' must be a string")
    return Preset(kind, name, base, params, summary, source)


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
            owners = registry.catalog.by_kind[kind].get(name, [])
            if owners:
                plugins = " and ".join(f"'{c.plugin}'" for c in owners)
                raise ConfigError(f"{preset.where}: preset '{name}' has the name of {with_article(kind)} of plugin "
                                  f"{plugins}", hint="give the preset another name")
            _check_entry(lambda: registry.resolve(kind, name, preset.where), preset.source, PLURALS[kind], name)
    for name, recipe in registry.runs.items():
        _check_entry(lambda: registry.run(name), recipe.source, "runs", name)


def _check_entry(resolve: Callable[[], Any], source: Source, section: str, name: str) -> None:
    """Run ``resolve``; sharpen a ConfigError to the offending line, let ambiguity pass."""
    try:
        resolve()
    except AmbiguousNameError:
        pass
    except ConfigError as error:
        raise _at_key(error, source, section, name) from None


def _at_key(error: ConfigError, source: Source, section: str, name: str) -> ConfigError:
    """Sharpen an error's line number to the offending key, where it can be found."""
    # An unknown name in a preset is its `component`; in a run, the error's key (the kind) holds it.
    key = "component" if isinstance(error, UnknownNameError) and section != "runs" else error.key
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
