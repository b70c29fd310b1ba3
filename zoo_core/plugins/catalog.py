"""The catalog of loaded components, each plugin's record, and the messages that name where things come from."""

from __future__ import annotations

from dataclasses import dataclass, field

from zoo_core._util.text import suggest
from zoo_core.components import KINDS, PLURALS, Component
from zoo_core.errors import AmbiguousNameError, UnknownNameError


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
        """The record as ``zoo plugins --json`` prints it."""
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

    @property
    def origin(self) -> str:
        """Where the plugin comes from, for messages: its distribution and version, or its file."""
        if self.source == "plugins dir":
            return self.module
        return f"{self.distribution} {self.version}".strip()

    @property
    def remedy(self) -> str:
        """How to get rid of the plugin when it fails, for the one-line warning."""
        if self.source == "plugins dir":
            return f"fix or remove {self.module} ('zoo plugins' shows every plugin's status)"
        return (f"fix it, or 'pip uninstall {self.distribution}', or leave it out with "
                "ZOO_PLUGINS=<the plugins you want> ('zoo plugins' shows every plugin's status)")


@dataclass
class Catalog:
    """Every loaded component, by kind and name, and every plugin's record."""

    plugins: list[PluginRecord] = field(default_factory=list)
    by_kind: dict[str, dict[str, list[Component]]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

    def add(self, component: Component) -> None:
        """Add a component under its kind and bare name (next to any other plugin's of that name)."""
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
        """Whether ``name`` (or ``plugin:name``) is a component of ``kind``, ambiguous or not."""
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

    def not_loaded(self, name: str) -> str:
        """Why an unknown ``name`` (or ``plugin:name``) may be missing: the plugins that did not load, or ''.

        For ``plugin:name`` only that plugin counts: 'plugin 'p' failed to load:
        ...', or 'no plugin 'p' is installed'; for a bare name, every plugin that
        failed or is disabled, as any of them may have registered it.
        """
        plugin, _, _ = name.rpartition(":")
        records = [p for p in self.plugins if p.status != "loaded" and (not plugin or p.name == plugin)]
        if plugin and not any(p.name == plugin for p in self.plugins):
            return f"no plugin '{plugin}' is installed"
        return "; ".join(f"plugin '{p.name}' {'failed to load' if p.status == 'failed' else 'is ' + p.status}: "
                         f"{p.error}" for p in records)

    def collisions(self) -> list[list[Component]]:
        """Every group of components that share a kind and a bare name."""
        return [found for kind in KINDS for _, found in sorted(self.by_kind[kind].items()) if len(found) > 1]


def ambiguity(found: list[Component]) -> str:
    """'registered by plugins a (dist 1.0) and b (dist 2.0)'."""
    owners = [f"{c.plugin} {component_origin(c)}" for c in found]
    return f"registered by plugins {', '.join(owners[:-1])} and {owners[-1]}"


def component_origin(component: Component) -> str:
    """'(dist 1.0)', or '(plugins dir)' for a loose file."""
    if component.distribution.startswith("("):
        return component.distribution
    return f"({component.distribution} {component.version})".replace(" )", ")")
