"""Loading every plugin, each in isolation, into a :class:`Catalog`.

A plugin that fails to import, whose hook raises, or that registers a
malformed spec is reported and left out; every other plugin keeps working.
The environment variables are described in docs/plugins.md and in
:func:`_policy_from_env`.
"""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable

import pluggy

from zoo_core import hookspecs
from zoo_core._util.text import printable, suggest
from zoo_core.components import Component
from zoo_core.errors import PluginError
from zoo_core.plugins.catalog import Catalog, PluginRecord, ambiguity
from zoo_core.plugins.discovery import BUILTIN_DISTRIBUTION, discover


class _PluginManager(pluggy.PluginManager):
    """pluggy's manager for the ``zoo`` hooks, taking a function named after a hook as its implementation.

    zoo has always called such a function whether or not it is marked
    ``@hookimpl``; ``parse_hookimpl_opts`` is pluggy's documented way to say so
    (pytest does the same for ``pytest_*`` functions).
    """

    def __init__(self) -> None:
        super().__init__("zoo")
        self.add_hookspecs(hookspecs)

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name in hookspecs.HOOK_KINDS and inspect.isroutine(getattr(plugin, name, None)):
            return {}  # pluggy fills in the default options
        return opts


@dataclass(frozen=True)
class LoadPolicy:
    """Which plugins to load, from where, and whether a failure is an error."""

    plugins_dir: str | Path | None
    allowed: set[str] | None  #: third-party plugins to load; None: all of them
    strict: bool


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
    policy = _policy_from_env(plugins_dir, allowlist, strict)
    warn = warn or (lambda line: print(f"zoo: warning: {printable(line)}", file=sys.stderr))

    def problem(line: str) -> None:
        if policy.strict:
            raise PluginError(line, hint="ZOO_STRICT_PLUGINS is set; unset it to make this a warning")
        warn(line)

    catalog = Catalog()
    manager = _PluginManager()
    for record, load_module in discover(policy.plugins_dir):
        taken = next((p for p in catalog.plugins if p.name == record.name), None)
        if taken:
            record.status = "failed"
            record.error = f"plugin name '{record.name}' is already taken by {taken.distribution}"
        elif not record.builtin and policy.allowed is not None and record.name not in policy.allowed:
            record.status, record.error = "disabled", "not listed in ZOO_PLUGINS"
        else:
            _load_one(record, load_module, manager)
        catalog.plugins.append(record)
        if record.status == "failed":
            problem(f"plugin '{record.name}' ({record.origin}) failed to load: {record.error}; {record.remedy}")
        for component in record.components:
            catalog.add(component)
    _warn_collisions(catalog, problem)
    if policy.allowed:
        _warn_not_installed(catalog, policy.allowed, warn)
    return catalog


def _policy_from_env(plugins_dir: str | Path | None, allowlist: Iterable[str] | None,
                     strict: bool | None) -> LoadPolicy:
    """Fill in what the caller left as None from the environment.

    - ``ZOO_PLUGINS=a,b``: load only these third-party plugins (built-ins
      always load); set but empty: built-ins only.
    - ``ZOO_STRICT_PLUGINS=1``: a plugin failure is an error, not a warning.
    - ``ZOO_PLUGINS_DIR=DIR``: same as ``--plugins-dir DIR``.
    """
    if allowlist is None and "ZOO_PLUGINS" in os.environ:
        allowlist = [n.strip() for n in os.environ["ZOO_PLUGINS"].split(",") if n.strip()]
    if strict is None:
        strict = os.environ.get("ZOO_STRICT_PLUGINS", "") not in ("", "0", "false", "no")
    if plugins_dir is None and os.environ.get("ZOO_PLUGINS_DIR"):
        plugins_dir = os.environ["ZOO_PLUGINS_DIR"]
    return LoadPolicy(plugins_dir, set(allowlist) if allowlist is not None else None, strict)


def _warn_collisions(catalog: Catalog, problem: Callable[[str], None]) -> None:
    """One line per bare name that two plugins register in one kind."""
    for found in catalog.collisions():
        newcomer = found[-1]
        builtin = any(c.distribution == BUILTIN_DISTRIBUTION for c in found)
        problem(f"{newcomer.kind} '{newcomer.name}' is {ambiguity(found)}; the bare name is now an error: "
                f"write {' or '.join(repr(c.qualified_name) for c in found)}, "
                f"or leave '{newcomer.plugin}' out with ZOO_PLUGINS"
                + ("; zoo's own recipes and defaults keep zoo's" if builtin else ""))


def _warn_not_installed(catalog: Catalog, allowed: set[str], warn: Callable[[str], None]) -> None:
    """One line per name in ZOO_PLUGINS that no installed plugin has."""
    missing = allowed - {p.name for p in catalog.plugins}
    for name in sorted(missing):
        warn(f"ZOO_PLUGINS names '{name}', but no such plugin is installed; "
             f"{suggest(name, [p.name for p in catalog.plugins if not p.builtin], 'installed plugins')}")


def _load_one(record: PluginRecord, load_module: Callable[[], ModuleType], manager: pluggy.PluginManager) -> None:
    """Import one plugin and collect its components; on any error mark it failed."""
    try:
        module = load_module()
        _check_hook_names(module, manager)
        manager.register(module, name=record.name)  # pluggy checks each hook's arguments against its spec
        implementations = _implementations(module, manager)
        components: list[Component] = []
        for hook_name, kind in hookspecs.HOOK_KINDS.items():
            if hook_name not in implementations:
                continue
            record.hooks.append(hook_name)
            try:
                registered = implementations[hook_name]()
            except Exception as error:
                raise PluginError(f"hook {hook_name} raised {type(error).__name__}: {error}") from error
            components.extend(_check_specs(registered, hook_name, kind, record))
        record.components = components
    except (Exception, SystemExit) as error:  # noqa: BLE001 - isolation is the point
        record.status = "failed"
        record.error = _one_line(error)
        record.components = []


def _implementations(module: ModuleType, manager: pluggy.PluginManager) -> dict[str, Callable[[], object]]:
    """The plugin's own hook functions by hook name, as pluggy registered them.

    Each hook is called for one plugin at a time (not through ``manager.hook``,
    which calls every plugin's), so that one plugin's failure stays its own.
    """
    return {caller.name: implementation.function
            for caller in manager.get_hookcallers(module) or []
            for implementation in caller.get_hookimpls() if implementation.plugin is module}


def _one_line(error: BaseException) -> str:
    """An exception as one line: a PluginError's message and hint, or 'Type: message'."""
    if isinstance(error, PluginError):
        text = f"{error.message} ({error.hint})" if error.hint else error.message
    else:
        text = f"{type(error).__name__}: {error}"
    return " ".join(text.split())


def _check_hook_names(module: ModuleType, manager: pluggy.PluginManager) -> None:
    """A function marked @hookimpl whose name is no hook is a typo: say so."""
    for attribute in dir(module):
        if attribute in hookspecs.HOOK_KINDS:
            continue
        try:
            marked = manager.parse_hookimpl_opts(module, attribute) is not None
        except Exception:  # noqa: BLE001 - an attribute that cannot even be read is no hook
            continue
        if marked:
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
