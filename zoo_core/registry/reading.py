"""Reading the layered registry files and checking every entry, with errors that point at the line."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from zoo_core._util.text import suggest
from zoo_core._util.toml import read_toml
from zoo_core.components import KIND_TABLE, PLURALS
from zoo_core.errors import AmbiguousNameError, ConfigError, ParameterMismatchError, UnknownNameError
from zoo_core.plugins import BUILTIN_DISTRIBUTION, Catalog
from zoo_core.registry.resolve import Entry, Preset, Recipe, Registry, Source, with_article
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
    builtin = path.resolve() == builtin_registry_path().resolve()
    data, text = read_toml(path)
    for section, entries in data.items():
        if section not in ("runs", "sweeps") and section not in SECTIONS:
            _unknown_section(path, text, section, entries)
        if not isinstance(entries, dict) or any(not isinstance(v, dict) for v in entries.values()):
            raise ConfigError(f"{Source(str(path), _locate(text, section))}: '{section}' must hold tables",
                              hint=f"write each entry as [{section}.NAME]")
        for name, table in entries.items():
            source = Source(str(path), _locate(text, section, name), builtin)
            if ":" in name:
                raise ConfigError(f"{source} [{section}.{name}]: names cannot contain ':'",
                                  hint="':' separates a plugin from a name (plugin:name); use '-' instead")
            if section == "runs":  # [runs.NAME] is a recipe
                registry.recipes[name] = Recipe(name, _summary(table), table, source)
            elif section == "sweeps":  # a sweep is checked when used (zoo_core.sweeps.definition)
                registry.sweeps[name] = Entry(name, _summary(table), table, source)
            else:
                registry.presets[SECTIONS[section]][name] = _preset(registry, SECTIONS[section], name, table, source)


def _summary(table: dict[str, Any]) -> str:
    summary = table.get("summary", "")
    return summary if isinstance(summary, str) else ""


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
    hint = suggest(section, [*SECTIONS, "runs", "sweeps"], "valid sections")
    if section in RUN_KEYS:
        hint = f"'{section}' belongs in a run: put it under a [runs.NAME] table"
    raise ConfigError(f"{where}: unknown {what} '{section}'", hint=hint)


def _check(registry: Registry) -> None:
    """Resolve every preset and recipe once, so any mistake surfaces now.

    A component a preset or recipe needs that no loaded plugin has (its plugin
    failed or is missing, or the name is misspelt) makes only that entry
    unavailable: it is kept with the reason, ``zoo list`` shows it, and using
    it is an error; every other entry works. So do parameters that a
    third-party plugin's component does not take (ParameterMismatchError): the
    entry was written for another plugin's component of that name, or for
    another version of the plugin. A name made ambiguous by two plugins is
    the plugins' doing, not the file's: it was warned about when they loaded,
    and it is an error only when that entry is used. Any other mistake (a
    wrong type, an unknown key, a parameter of zoo's own component) is an
    error now, at its line.
    """
    for kind, presets in registry.presets.items():
        for name, preset in presets.items():
            owners = [c for c in registry.catalog.by_kind[kind].get(name, []) if c.distribution == BUILTIN_DISTRIBUTION]
            if owners and not preset.source.builtin:
                raise ConfigError(f"{preset.where}: preset '{name}' has the name of {with_article(kind)} of plugin "
                                  f"'{owners[0].plugin}'", hint="give the preset another name")
            _check_entry(preset, lambda: registry.resolve_preset(kind, name), PLURALS[kind])
    for name, recipe in registry.recipes.items():
        _check_entry(recipe, lambda: registry.resolve_recipe(name), "runs")


def _check_entry(entry: Preset | Recipe, resolve: Callable[[], Any], section: str) -> None:
    """Run ``resolve``: an unknown name or a plugin change marks the entry unavailable; other errors point at a line."""
    try:
        resolve()
    except AmbiguousNameError:
        pass
    except ParameterMismatchError as error:
        entry.unavailable = _reason(error.message, section, entry.name)
        entry.problem = _at_key(error, entry.source, section, entry.name)
    except UnknownNameError as error:
        reason = _reason(error.message, section, entry.name)
        blamed = any(words in reason for words in (" failed to load: ", " is disabled: ", "(no plugin '"))
        if error.hint and error.hint.startswith("did you mean") and not blamed:
            reason += f"; {error.hint.partition('?')[0]}?"  # the did-you-mean, without the list of every name
        # An unknown name in a preset is its `component`; in a recipe, the error's key (the kind) holds it.
        error.key = "component" if section != "runs" else error.key
        entry.unavailable, entry.problem = reason, _at_key(error, entry.source, section, entry.name)
    except ConfigError as error:
        raise _at_key(error, entry.source, section, entry.name) from None


def _reason(message: str, section: str, name: str) -> str:
    """An unknown-name message as the reason an entry is unavailable, without the entry's own file and line.

    A recipe made unavailable by one of its presets names that preset:
    "preset 'wine-seed7' (registry.toml:4): unknown dataset 'wine'".
    """
    found = re.match(r"^(?P<path>.*?)(?::(?P<line>\d+))? \[(?P<section>[^.\]]+)\.(?P<name>[^\]]+)\]: (?P<rest>.*)$",
                     message, re.S)
    if not found:
        return message
    if (found["section"], found["name"]) == (section, name):
        return found["rest"]
    line = f":{found['line']}" if found["line"] else ""
    return f"preset '{found['name']}' ({Path(found['path']).name}{line}): {found['rest']}"


def _at_key(error: ConfigError, source: Source, section: str, name: str) -> ConfigError:
    """Sharpen an error's line number to the offending key, where it can be found."""
    key = error.key
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


def key_line(source: Source, section: str, name: str, key: str | None = None) -> Source:
    """Where ``key`` of the entry ``[section.name]`` written at ``source`` is: the same file, the key's line."""
    try:
        text = Path(source.path).read_text(encoding="utf-8")
    except OSError:
        return source
    return Source(source.path, _locate(text, section, name, key) or source.line, source.builtin)


def _locate(text: str, section: str, name: str | None = None, key: str | None = None) -> int | None:
    """Best-effort line number of ``[section.name]`` (and ``key =`` within it).

    The entry may also be written as ``name = { ... }`` under ``[section]``;
    the key may be in a sub-table ``[section.name.KIND]`` or an inline table.
    """
    lines = text.splitlines()
    if name is None:
        pattern = re.compile(rf"^\s*\[+\s*{re.escape(section)}\b|^\s*{re.escape(section)}\s*=")
        return next((i + 1 for i, line in enumerate(lines) if pattern.search(line)), None)
    quoted = rf"(?:{re.escape(name)}|\"{re.escape(name)}\"|'{re.escape(name)}')"
    header = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\.\s*{quoted}\s*\]")
    start = next((i for i, line in enumerate(lines) if header.search(line)), None)
    if start is None:
        return _locate_inline(lines, section, quoted)
    if key is None:
        return start + 1
    sub_table = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\.\s*{quoted}\s*\.")
    key_pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=|[{{,]\s*{re.escape(key)}\s*=")
    for index in range(start + 1, len(lines)):
        if lines[index].lstrip().startswith("[") and not sub_table.search(lines[index]):
            break
        if key_pattern.search(lines[index]):
            return index + 1
    return start + 1


def _locate_inline(lines: list[str], section: str, quoted: str) -> int | None:
    """The line of ``name = { ... }`` under a ``[section]`` header, if the entry is written so."""
    in_section = False
    entry = re.compile(rf"^\s*{quoted}\s*=")
    for index, line in enumerate(lines):
        if line.lstrip().startswith("["):
            in_section = re.match(rf"^\s*\[\s*{re.escape(section)}\s*\]", line) is not None
        elif in_section and entry.search(line):
            return index + 1
    return None
