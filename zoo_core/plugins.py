"""Finding and loading plugins, each in isolation, into a catalog of components.

Plugins are Python modules named by entry points in the ``zoo`` group (the
built-ins are declared exactly the same way in zoo's own ``pyproject.toml``)
or loose ``.py`` files in a ``--plugins-dir``. A plugin that fails to import,
whose hook raises, or that registers a malformed spec is reported and left
out; every other plugin keeps working. Environment variables:

- ``ZOO_PLUGINS=a,b``: load only these third-party plugins (built-ins always
  load); set but empty: built-ins only.
- ``ZOO_STRICT_PLUGINS=1``: a plugin failure is an error, not a warning.
- ``ZOO_PLUGINS_DIR=DIR``: same as ``--plugins-dir DIR``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable

import pluggy

from zoo_core import hookspecs
from zoo_core.components import KINDS, Component, suggest
from zoo_core.errors import PluginError, UnknownNameError, ConfigError

ENTRY_POINT_GROUP = "zoo"
BUILTIN_DISTRIBUTION = "zoo"


@dataclass
class PluginRecord:
    """What ``zoo plugins`` shows about one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    builtin: bool
    source: str = "entry point"
    status: str = "loaded"  # loaded | failed | disabled
    error: str = ""
    hooks: list[str] = field(default_factory=list)
    components: list[Component] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "builtin": self.builtin,
            "source": self.source,
            "status": self.status,
            "error": self.error,
            "hooks": self.hooks,
            "components": [{"kind": c.kind, "name": c.name} for c in self.components],
        }


@dataclass
class Catalog:
    """Every loaded component, by kind and name, and every plugin's record."""

    plugins: list[PluginRecord] = field(default_factory=list)
    by_kind: dict[str, dict[str, list[Component]]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

    def add(self, component: Component) -> None:
        self.by_kind[component.kind].setdefault(component.name, []).append(component)

    def components(self, kind: str | None = None) -> list[Component]:
        """All components, or those of one kind, sorted by kind then name."""
        kinds = [kind] if kind else list(KINDS)
        return [c for k in kinds for name in sorted(self.by_kind[k]) for c in self.by_kind[k][name]]

    def names(self, kind: str) -> list[str]:
        """Every name that finds a component of ``kind``: bare and ``plugin:name``."""
        names = []
        for name, found in self.by_kind[kind].items():
            names.append(name) if len(found) == 1 else names.extend(c.qualified_name for c in found)
        return sorted(names)

    def has(self, kind: str, name: str) -> bool:
        plugin, _, bare = name.rpartition(":")
        found = self.by_kind[kind].get(bare, [])
        return any(c.plugin == plugin for c in found) if plugin else bool(found)

    def find(self, kind: str, name: str) -> Component:
        """The component ``name`` (or ``plugin:name``) of ``kind``.

        Raises UnknownNameError with suggestions, or ConfigError when two
        plugins registered the bare name.
        """
        plugin, _, bare = name.rpartition(":")
        found = self.by_kind[kind].get(bare, [])
        if plugin:
            found = [c for c in found if c.plugin == plugin]
        if not found:
            raise UnknownNameError(
                f"unknown {kind} '{name}'",
                hint=suggest(name, self.names(kind), f"available {kind}s"),
            )
        if len(found) > 1:
            options = " or ".join(f"'{c.qualified_name}'" for c in found)
            raise ConfigError(
                f"{kind} '{name}' is ambiguous: plugins {', '.join(c.plugin for c in found)} all register it",
                hint=f"say which one: {options}",
            )
        return found[0]


def load_catalog(
    plugins_dir: str | Path | None = None,
    *,
    allowlist: Iterable[str] | None = None,
    strict: bool | None = None,
    warn: Callable[[str], None] | None = None,
) -> Catalog:
    """Load every plugin into a fresh catalog.

    ``allowlist`` and ``strict`` default to ``ZOO_PLUGINS`` and
    ``ZOO_STRICT_PLUGINS``; ``plugins_dir`` to ``ZOO_PLUGINS_DIR``. ``warn``
    receives one line per failed plugin (default: print to stderr).
    """
    if allowlist is None and "ZOO_PLUGINS" in os.environ:
        allowlist = [n.strip() for n in os.environ["ZOO_PLUGINS"].split(",") if n.strip()]
    if strict is None:
        strict = os.environ.get("ZOO_STRICT_PLUGINS", "") not in ("", "0", "false", "no")
    if plugins_dir is None and os.environ.get("ZOO_PLUGINS_DIR"):
        plugins_dir = os.environ["ZOO_PLUGINS_DIR"]
    warn = warn or (lambda line: print(f"zoo: warning: {line}", file=sys.stderr))
    allowed = set(allowlist) if allowlist is not None else None

    catalog = Catalog()
    manager = pluggy.PluginManager("zoo")
    manager.add_hookspecs(hookspecs)
    for record, load_module in _discover(plugins_dir):
        if any(p.name == record.name for p in catalog.plugins):
            record.status, record.error = "failed", f"plugin name '{record.name}' is already taken"
        elif not record.builtin and allowed is not None and record.name not in allowed:
            record.status, record.error = "disabled", "not listed in ZOO_PLUGINS"
        else:
            _load_one(record, load_module, manager)
        catalog.plugins.append(record)
        if record.status == "failed":
            line = (
                f"plugin '{record.name}' ({record.distribution} {record.version}) failed to load: "
                f"{record.error}; fix or uninstall it, or leave it out with ZOO_PLUGINS "
                "('zoo plugins' shows details)"
            )
            if strict:
                raise PluginError(line, hint="unset ZOO_STRICT_PLUGINS to skip failing plugins")
            warn(line)
        for component in record.components:
            catalog.add(component)
    if allowed:
        missing = allowed - {p.name for p in catalog.plugins}
        for name in sorted(missing):
            warn(f"ZOO_PLUGINS names '{name}', but no such plugin is installed")
    return catalog


def _discover(plugins_dir: str | Path | None) -> Iterable[tuple[PluginRecord, Callable[[], ModuleType]]]:
    """Yield a record and a module loader for every entry point and loose file."""
    seen: set[tuple[str, str]] = set()
    entry_points = sorted(
        metadata.entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: (_distribution_name(ep) != BUILTIN_DISTRIBUTION, ep.name),
    )
    for entry_point in entry_points:
        if (entry_point.name, entry_point.value) in seen:
            continue  # the same distribution found twice on sys.path
        seen.add((entry_point.name, entry_point.value))
        distribution = _distribution_name(entry_point)
        version = entry_point.dist.version if entry_point.dist else ""
        record = PluginRecord(
            name=entry_point.name,
            distribution=distribution,
            version=version,
            module=entry_point.value,
            builtin=distribution == BUILTIN_DISTRIBUTION,
        )
        yield record, entry_point.load
    if plugins_dir is not None:
        directory = Path(plugins_dir)
        if not directory.is_dir():
            raise PluginError(
                f"plugins directory {str(directory)!r} does not exist",
                hint="pass an existing folder of .py plugin files to --plugins-dir / ZOO_PLUGINS_DIR",
            )
        for path in sorted(directory.glob("*.py")):
            record = PluginRecord(
                name=path.stem,
                distribution="(plugins dir)",
                version="",
                module=str(path),
                builtin=False,
                source="plugins dir",
            )
            yield record, (lambda path=path: _import_file(path))


def _distribution_name(entry_point: metadata.EntryPoint) -> str:
    return entry_point.dist.metadata["Name"] if entry_point.dist else "(unknown)"


def _import_file(path: Path) -> ModuleType:
    module_name = f"zoo_plugins_dir.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _load_one(record: PluginRecord, load_module: Callable[[], ModuleType], manager: pluggy.PluginManager) -> None:
    """Import one plugin and collect its components; on any error mark it failed."""
    try:
        module = load_module()
        _check_hook_names(module)
        manager.register(module, name=record.name)
        components: list[Component] = []
        for hook_name, kind in hookspecs.HOOK_KINDS.items():
            implementation = getattr(module, hook_name, None)
            if implementation is None:
                continue
            record.hooks.append(hook_name)
            try:
                registered = implementation()
            except Exception as error:
                raise PluginError(f"hook {hook_name} raised {type(error).__name__}: {error}") from error
            components.extend(_check_specs(registered, hook_name, kind, record))
        record.components = components
    except Exception as error:  # noqa: BLE001 - isolation is the point
        record.status = "failed"
        record.error = str(error) if isinstance(error, PluginError) else f"{type(error).__name__}: {error}"
        record.hooks, record.components = record.hooks, []


def _check_hook_names(module: ModuleType) -> None:
    """A function marked @hookimpl whose name is no hook is a typo: say so."""
    for attribute in dir(module):
        value = getattr(module, attribute, None)
        if callable(value) and hasattr(value, "zoo_impl") and attribute not in hookspecs.HOOK_KINDS:
            raise PluginError(
                f"'{attribute}' is marked @hookimpl but is not a zoo hook",
                hint=suggest(attribute, list(hookspecs.HOOK_KINDS), "hooks"),
            )


def _check_specs(registered: object, hook_name: str, kind: str, record: PluginRecord) -> list[Component]:
    """Validate what one hook returned and stamp each spec with its origin."""
    if registered is None:
        return []
    if isinstance(registered, (Component, str, bytes)) or not hasattr(registered, "__iter__"):
        raise PluginError(f"hook {hook_name} must return a list of zoo_core.Component, got {type(registered).__name__}")
    components = []
    names: set[str] = set()
    for spec in registered:
        if not isinstance(spec, Component):
            raise PluginError(f"hook {hook_name} returned {spec!r}, which is not a zoo_core.Component")
        if spec.kind and spec.kind != kind:
            raise PluginError(f"hook {hook_name} returned {spec.name!r} of kind {spec.kind!r}, expected {kind!r}")
        spec.kind = kind
        spec.validate_spec()
        if spec.name in names:
            raise PluginError(f"hook {hook_name} registers {kind} {spec.name!r} twice")
        names.add(spec.name)
        spec.plugin, spec.distribution, spec.version = record.name, record.distribution, record.version
        components.append(spec)
    return components
