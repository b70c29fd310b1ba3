"""Finding and loading plugins, each in isolation, into a catalog of components.

Plugins are Python modules named by entry points in the ``zoo`` group (the
built-ins are declared exactly the same way in zoo's own ``pyproject.toml``)
or loose ``.py`` files in a ``--plugins-dir``. A plugin that fails to import,
whose hook raises, or that registers a malformed spec is reported and left
out; every other plugin keeps working. Two plugins that register the same
name in one kind both stay reachable as ``plugin:name``; the bare name is
then an error, and the collision is warned about once at load. Environment
variables:

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
from zoo_core.components import KINDS, PLURALS, Component, suggest
from zoo_core.errors import AmbiguousNameError, PluginError, UnknownNameError

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

        Raises UnknownNameError with suggestions, or AmbiguousNameError when
        two plugins registered the bare name.
        """
        plugin, _, bare = name.rpartition(":")
        found = self.by_kind[kind].get(bare, [])
        if plugin:
            found = [c for c in found if c.plugin == plugin]
        if not found:
            raise UnknownNameError(f"unknown {kind} '{name}'", hint=self.unknown_hint(kind, name))
        if len(found) > 1:
            raise AmbiguousNameError(f"{kind} '{name}' is ambiguous: {ambiguity(found)}",
                                     hint=f"write {' or '.join(repr(c.qualified_name) for c in found)}")
        return found[0]

    def unknown_hint(self, kind: str, name: str, names: list[str] | None = None) -> str:
        """Did-you-mean and the available names, plus any plugin that did not load."""
        hint = suggest(name, self.names(kind) if names is None else names, f"available {PLURALS[kind]}")
        missing = [f"{p.name} ({p.status})" for p in self.plugins if p.status != "loaded"]
        if missing:
            hint += f"; not loaded: {', '.join(missing)} ('zoo plugins' says why)"
        return hint

    def collisions(self) -> list[list[Component]]:
        """Every group of components that share a kind and a bare name."""
        return [found for kind in KINDS for _, found in sorted(self.by_kind[kind].items()) if len(found) > 1]


def ambiguity(found: list[Component]) -> str:
    """'registered by plugins a (dist 1.0) and b (dist 2.0)'."""
    owners = [f"{c.plugin} {_component_origin(c)}" for c in found]
    return f"registered by plugins {', '.join(owners[:-1])} and {owners[-1]}"


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

    def problem(line: str) -> None:
        if strict:
            raise PluginError(line, hint="ZOO_STRICT_PLUGINS is set; unset it to make this a warning")
        warn(line)

    catalog = Catalog()
    manager = pluggy.PluginManager("zoo")
    manager.add_hookspecs(hookspecs)
    for record, load_module in _discover(plugins_dir):
        taken = next((p for p in catalog.plugins if p.name == record.name), None)
        if taken:
            record.status = "failed"
            record.error = f"plugin name '{record.name}' is already taken by {taken.distribution}"
        elif not record.builtin and allowed is not None and record.name not in allowed:
            record.status, record.error = "disabled", "not listed in ZOO_PLUGINS"
        else:
            _load_one(record, load_module, manager)
        catalog.plugins.append(record)
        if record.status == "failed":
            problem(f"plugin '{record.name}' ({_origin(record)}) failed to load: {record.error}; "
                    f"{_remedy(record)}")
        for component in record.components:
            catalog.add(component)
    for found in catalog.collisions():
        newcomer = found[-1]
        problem(f"{newcomer.kind} '{newcomer.name}' is {ambiguity(found)}; the bare name is now an error: "
                f"write {' or '.join(repr(c.qualified_name) for c in found)}, "
                f"or leave '{newcomer.plugin}' out with ZOO_PLUGINS")
    if allowed:
        missing = allowed - {p.name for p in catalog.plugins}
        for name in sorted(missing):
            warn(f"ZOO_PLUGINS names '{name}', but no such plugin is installed; "
                 f"{suggest(name, [p.name for p in catalog.plugins if not p.builtin], 'installed plugins')}")
    return catalog


def _component_origin(component: Component) -> str:
    """'(dist 1.0)', or '(plugins dir)' for a loose file."""
    if component.distribution.startswith("("):
        return component.distribution
    return f"({component.distribution} {component.version})".replace(" )", ")")


def _origin(record: PluginRecord) -> str:
    """Where a plugin comes from, for messages: its distribution and version, or its file."""
    if record.source == "plugins dir":
        return record.module
    return f"{record.distribution} {record.version}".strip()


def _remedy(record: PluginRecord) -> str:
    """How to get rid of a failing plugin, for the one-line warning."""
    if record.source == "plugins dir":
        return f"fix or remove {record.module} ('zoo plugins' shows every plugin's status)"
    return (f"fix it, or 'pip uninstall {record.distribution}', or leave it out with "
            "ZOO_PLUGINS=<the plugins you want> ('zoo plugins' shows every plugin's status)")


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
            if path.name.startswith("_"):
                continue  # __init__.py and private helpers are not plugins
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
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
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
    except (Exception, SystemExit) as error:  # noqa: BLE001 - isolation is the point
        record.status = "failed"
        record.error = _one_line(error)
        record.components = []


def _one_line(error: BaseException) -> str:
    """An exception as one line: a PluginError's message and hint, or 'Type: message'."""
    if isinstance(error, PluginError):
        text = f"{error.message} ({error.hint})" if error.hint else error.message
    else:
        text = f"{type(error).__name__}: {error}"
    return " ".join(text.split())


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
