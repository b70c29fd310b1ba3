"""Which components the kit checks: by plugin, kind and name, and the parameters given for each.

``conformance_tests``, ``conformance_cases`` and ``check_plugin`` select
components here: ``plugin`` (one plugin's components), ``kinds`` (singular
or plural: ``"architecture"`` or ``"architectures"``) and ``names`` (bare or
``plugin:name``). A selection that matches nothing, a name no component has,
a bare name two plugins register, and a ``params`` key that names no selected
component are errors that say
what was wrong and what the choices are, never silently ignored.
"""

from __future__ import annotations

from typing import Any, Iterable

from zoo_core._util.text import suggest
from zoo_core.components import KINDS, PLURALS, Component
from zoo_core.errors import AmbiguousNameError, UnknownNameError
from zoo_core.plugins import ambiguity
from zoo_core.testing.results import kind_of


def wanted_kinds(kinds: Iterable[str] | str | None) -> list[str]:
    """The kinds to check, singular, in zoo's order; ``None`` is every kind, a single string is one kind."""
    if kinds is None:
        return list(KINDS)
    chosen = {kind_of(word) for word in ([kinds] if isinstance(kinds, str) else list(kinds))}
    return [kind for kind in KINDS if kind in chosen]


def select_components(catalog: Any, plugin: str | None = None, kinds: Iterable[str] | str | None = None,
                      names: Iterable[str] | str | None = None) -> list[Component]:
    """The components of ``plugin`` (every plugin if None) of ``kinds``, narrowed to ``names`` if given.

    A name is bare (``"wine"``) or ``plugin:name``; a bare name matches every
    kind it is registered in. Raises UnknownNameError (with did-you-mean) for
    a name that matches nothing in the selection, AmbiguousNameError for a
    bare name two plugins register in one kind, ValueError for an unknown kind.
    """
    kinds_wanted = wanted_kinds(kinds)
    pool = [c for c in catalog.components() if c.kind in kinds_wanted and (plugin is None or c.plugin == plugin)]
    if names is None:
        return pool
    chosen: list[Component] = []
    for name in [names] if isinstance(names, str) else list(names):
        chosen += _matching(pool, name, catalog, plugin, kinds_wanted)
    return [component for component in pool if any(component is c for c in chosen)]


def _matching(pool: list[Component], name: str, catalog: Any, plugin: str | None,
              kinds_wanted: list[str]) -> list[Component]:
    """The components of ``pool`` that ``name`` (bare or ``plugin:name``) names; raise if none or ambiguous."""
    owner, _, bare = str(name).rpartition(":")
    found = [c for c in pool if c.name == bare and (not owner or c.plugin == owner)]
    if not found:
        raise UnknownNameError(f"the conformance kit has no component '{name}' to check"
                               f"{_scope(plugin, kinds_wanted)}{_elsewhere(catalog, name)}",
                               hint=suggest(str(name), _candidates(pool, owner), "components in the selection"))
    for kind in KINDS:
        same_kind = [c for c in found if c.kind == kind]
        if len(same_kind) > 1:
            raise AmbiguousNameError(f"{kind} '{name}' is ambiguous: {ambiguity(same_kind)}",
                                     hint=f"write {' or '.join(repr(c.qualified_name) for c in same_kind)}")
    return found


def _candidates(pool: list[Component], owner: str) -> list[str]:
    """The names to suggest for a name that matched nothing: ``owner``'s as ``plugin:name`` if it has any."""
    own = [c.qualified_name for c in pool if owner and c.plugin == owner]
    return sorted(own) if own else _names(pool, qualified=False)


def _names(components: list[Component], qualified: bool = True) -> list[str]:
    """The names that select ``components``: bare, and ``plugin:name`` (all of them if ``qualified``,
    else only where two plugins share the bare name)."""
    shared = {c.name for c in components if sum(other.name == c.name and other.kind == c.kind
                                                 for other in components) > 1}
    return sorted({c.name for c in components}
                  | {c.qualified_name for c in components if qualified or c.name in shared})


def _scope(plugin: str | None, kinds_wanted: list[str]) -> str:
    """' in plugin 'x' among architectures', for messages."""
    text = f" in plugin '{plugin}'" if plugin else ""
    if list(kinds_wanted) != list(KINDS):
        text += f" among the {', '.join(PLURALS[kind] for kind in kinds_wanted)}"
    return text


def _elsewhere(catalog: Any, name: str) -> str:
    """'; 'wine' is a dataset of plugin 'extras'' when the name exists outside the selection, else ''."""
    owner, _, bare = str(name).rpartition(":")
    found = [c for c in catalog.components() if c.name == bare and (not owner or c.plugin == owner)]
    if not found:
        return ""
    where = ", ".join(f"{'an' if c.kind[0] in 'aeiou' else 'a'} {c.kind} of plugin '{c.plugin}'" for c in found)
    return f" ('{name}' is {where}: widen plugin= or kinds=)"


def case_name(catalog: Any, component: Component) -> str:
    """The name a case uses: bare, or ``plugin:name`` when two plugins register the bare name."""
    ambiguous = len(catalog.by_kind[component.kind].get(component.name, [])) > 1
    return component.qualified_name if ambiguous else component.name


def params_for(component: Component, params: dict[str, dict[str, Any]] | None) -> dict[str, Any] | None:
    """The parameters ``params`` gives ``component``: under ``plugin:name``, else under its bare name."""
    params = params or {}
    if component.qualified_name in params:
        return params[component.qualified_name]
    return params.get(component.name)


def check_params_keys(params: dict[str, dict[str, Any]] | None, components: list[Component]) -> None:
    """Raise UnknownNameError if a key of ``params`` names no selected component (a typo would be ignored)."""
    known = _names(components)
    for key in params or {}:
        if key not in known:
            raise UnknownNameError(f"params={{{key!r}: ...}} names no component being checked, so its "
                                   f"parameters would be ignored",
                                   hint=suggest(str(key), _names(components, qualified=":" in str(key)),
                                                "components being checked"))


def nothing_selected(catalog: Any, plugin: str | None, kinds: Iterable[str] | str | None) -> str:
    """Why a selection is empty: the plugin is not installed, failed to load, or has none of these kinds."""
    records = {record.name: record for record in catalog.plugins}
    if plugin is None:
        return "no components are installed" + _scope(None, wanted_kinds(kinds))
    if plugin in records and records[plugin].status != "loaded":
        record = records[plugin]
        return f"plugin '{plugin}' is {record.status}: {record.error}"
    if plugin in records:
        registered = [f"{c.kind} {c.name}" for c in catalog.components() if c.plugin == plugin]
        if not registered:
            return f"plugin '{plugin}' registers no components"
        return (f"plugin '{plugin}' registers no {' or '.join(PLURALS[k] for k in wanted_kinds(kinds))} "
                f"(it registers {', '.join(registered)})")
    installed = ", ".join(sorted(records)) or "(none)"
    return (f"no plugin named '{plugin}' is installed (installed: {installed}); install your package "
            f"(pip install -e .) so that its 'zoo' entry point is found")
