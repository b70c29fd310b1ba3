"""The merged registry: presets, recipes and sweeps, resolved against the catalog of components into a RunConfig."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo_core._util.text import suggest
from zoo_core.components import KINDS, LISTED_KINDS, PLURALS, Component
from zoo_core.errors import AmbiguousNameError, ConfigError, ParameterMismatchError, UnknownNameError
from zoo_core.plugins import BUILTIN_DISTRIBUTION, Catalog, component_origin
from zoo_core.registry.overrides import apply_overrides, component_swaps, parse_overrides
from zoo_core.registry.runconfig import RUN_COMPONENT_KINDS, RUN_KEYS, ComponentChoice, RunConfig, recorded_plugins
from zoo_core.registry.settings import SETTINGS, check_settings


#: zoo's defaults for ``zoo train``: always its own components, whatever plugins register the same names.
DEFAULTS = {"optimizer": "adam", "loss": "sparse-categorical-crossentropy"}


@dataclass
class Source:
    """Where an entry was written: a file and line; ``builtin`` when it is zoo's own registry.toml."""

    path: str
    line: int | None = None
    builtin: bool = False

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
    unavailable: str = ""  #: why it cannot be used (a component it needs is unknown or takes other parameters), or ''
    problem: ConfigError | None = None  #: the error using it raises, at the line of the unknown name or parameter

    @property
    def where(self) -> str:
        """How messages name it: ``path:line [architectures.NAME]``."""
        return f"{self.source} [{PLURALS[self.kind]}.{self.name}]"


@dataclass
class Entry:
    """A named table of registry.toml as written: a recipe or a sweep; ``table`` is its raw TOML table."""

    name: str
    summary: str
    table: dict[str, Any]
    source: Source
    unavailable: str = ""  #: why it cannot be used (a component it needs is unknown or takes other parameters), or ''
    problem: ConfigError | None = None  #: the error using it raises, at the line of the unknown name or parameter


@dataclass
class Recipe(Entry):
    """A recipe: a ``[runs.NAME]`` table (the section keeps the name it had before recipes had their own word)."""


@dataclass
class Registry:
    """The merged registry files, checked against a catalog of components."""

    catalog: Catalog
    presets: dict[str, dict[str, Preset]] = field(default_factory=lambda: {k: {} for k in KINDS})
    recipes: dict[str, Recipe] = field(default_factory=dict)  #: the ``[runs.NAME]`` tables
    #: ``[sweeps.NAME]`` tables as written; zoo_core.sweeps.definition checks them when a sweep is used
    sweeps: dict[str, Entry] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    # -- components and presets -------------------------------------------------

    def names(self, kind: str) -> list[str]:
        """Every name usable for ``kind``: components and presets (not those unavailable)."""
        return sorted(set(self.catalog.names(kind)) | {n for n, p in self.presets[kind].items() if not p.unavailable})

    def resolve(self, kind: str, reference: Any, where: str, builtin: bool = False) -> ComponentChoice:
        """Resolve a name or an inline table ``{component = ..., **params}``.

        ``builtin``: the reference was written by zoo itself (its registry.toml
        or a default), so a bare name that a plugin also registers means zoo's
        own component. A user's bare name that two plugins register is an error.
        """
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
        component, preset_params, chain = self._follow(kind, name, where, builtin)
        try:
            checked = check_params(component, {**preset_params, **params}, where)
        except ParameterMismatchError as error:
            raise self._at_preset(error, kind, chain[:-1], params, where) from None
        return ComponentChoice(kind, name, component, checked, chain)

    def resolve_preset(self, kind: str, name: str) -> ComponentChoice:
        """The preset ``name`` itself, resolved (even where a plugin's component shares its name)."""
        preset = self.presets[kind][name]
        if preset.problem is not None:
            raise _again(preset.problem)
        component, params, chain = self._follow(kind, preset.base, preset.where, preset.source.builtin, [name])
        try:
            checked = check_params(component, {**params, **preset.params}, preset.where)
        except ParameterMismatchError as error:
            raise self._at_preset(error, kind, [name, *chain[:-1]], {}, preset.where) from None
        return ComponentChoice(kind, name, component, checked, [name, *chain])

    def _at_preset(self, error: ParameterMismatchError, kind: str, presets: list[str], given: dict[str, Any],
                   where: str) -> ParameterMismatchError:
        """The error at the preset of ``presets`` (outermost first) that sets its parameter, unless ``given`` does."""
        setter = next((self.presets[kind][n] for n in presets if error.key in self.presets[kind][n].params), None)
        if setter is not None and error.key not in given:
            error.message = error.message.replace(where, setter.where, 1)
        return error

    def _follow(self, kind: str, name: str, where: str, builtin: bool,
                seen: list[str] | None = None) -> tuple[Component, dict[str, Any], list[str]]:
        """Walk a preset chain down to a component; return it, the merged params and the names followed.

        ``seen``: the presets already followed to reach ``name`` (for the loop check).
        """
        chain: list[str] = [*(seen or []), name]
        layers: list[dict[str, Any]] = []
        while (preset := self._preset_named(kind, name, where, builtin)) is not None:
            if name in chain[:-1]:
                loop = " -> ".join(chain)
                raise ConfigError(f"{where}: presets refer to each other in a loop: {loop}",
                                  hint=f"make one of them name {with_article(kind)} component")
            layers.append(preset.params)
            name, where, builtin = preset.base, preset.where, preset.source.builtin
            chain.append(name)
        component = self._component(kind, name, where, builtin)
        params: dict[str, Any] = {}
        for layer in reversed(layers):
            params.update(layer)
        return component, params, chain[len(seen or []):]

    def _preset_named(self, kind: str, name: str, where: str, builtin: bool) -> Preset | None:
        """The preset ``name`` means here, if it means a preset rather than a component.

        A component of the same name wins, except that zoo's own names prefer
        its presets to a third-party plugin's component; a user's bare name
        that is both a preset and a plugin's component is ambiguous.
        """
        preset = self.presets[kind].get(name)
        owners = self.catalog.by_kind[kind].get(name, []) if preset is not None else []
        if preset is None or not owners:
            return preset
        if builtin:
            return None if any(c.distribution == BUILTIN_DISTRIBUTION for c in owners) else preset
        plugins = " and ".join(f"'{c.plugin}'" for c in owners)
        raise AmbiguousNameError(
            f"{where}: {kind} '{name}' is ambiguous: a preset ({preset.source}) and {with_article(kind)} of plugin {plugins}",
            hint=f"write {' or '.join(repr(c.qualified_name) for c in owners)} for a plugin's, or rename the preset")

    def _component(self, kind: str, name: str, where: str, builtin: bool) -> Component:
        """The component ``name`` names; zoo's own names (``builtin``) pick zoo's component when a plugin clashes."""
        found = self.catalog.by_kind[kind].get(name, [])
        if builtin and len(found) > 1:
            found = [c for c in found if c.distribution == BUILTIN_DISTRIBUTION] or found
            if len(found) == 1:
                return found[0]
        try:
            return self.catalog.find(kind, name)
        except AmbiguousNameError as error:
            example = self.catalog.by_kind[kind][name][0].qualified_name
            where_to = f"e.g. --set {kind}={example}" if kind in RUN_COMPONENT_KINDS else f'e.g. "{example}"'
            raise AmbiguousNameError(f"{where}: {error.message}", hint=f"{error.hint} ({where_to})") from None
        except UnknownNameError:
            missing = self.catalog.not_loaded(name)
            raise UnknownNameError(f"{where}: unknown {kind} '{name}'{self._elsewhere(kind, name)}"
                                   + (f" ({missing})" if missing else ""),
                                   hint=self.catalog.unknown_hint(kind, name, self.names(kind)),
                                   key=PLURALS[kind] if PLURALS[kind] in LISTED_KINDS else kind  # its key in a run table
                                   ) from None

    def _example(self, kind: str) -> str:
        """A name for hints: a component that zoo's own recipes use (``mnist``), else the first by name."""
        names = self.names(kind)
        used = [recipe.table.get(kind) for recipe in getattr(self, "recipes", {}).values() if recipe.source.builtin]
        presets = getattr(self, "presets", {}).get(kind, {})
        return next((name for name in used if isinstance(name, str) and name in names and name not in presets),
                    names[0] if names else "name")

    def _elsewhere(self, kind: str, name: str) -> str:
        """' (it is an architecture)' when ``name`` exists as another kind."""
        others = [other for other in KINDS if other != kind and name in self.names(other)]
        return f" (it is {with_article(others[0])})" if others else ""

    # -- recipes and runs -------------------------------------------------------

    def resolve_recipe(self, name: str, overrides: list[str] | None = None) -> RunConfig:
        """The configuration of a run of the recipe ``name``, with the ``--set`` ``overrides`` applied."""
        if name not in self.recipes:  # the message says "run": `zoo list runs` lists recipes under that word
            raise UnknownNameError(f"unknown run '{name}'", hint=suggest(name, list(self.recipes), "available runs"))
        recipe = self.recipes[name]
        try:
            return self.run_from_table(recipe.table, name, f"{recipe.source} [runs.{name}]", overrides,
                                       builtin=recipe.source.builtin)
        except (UnknownNameError, ParameterMismatchError):
            if recipe.problem is not None and not overrides:  # the same error, at the line of the name or parameter
                raise _again(recipe.problem) from None
            raise

    #: The name docs/distributed.md used before recipes had their own word (``registry.resolve_recipe("mnist-mlp")``).
    run = resolve_recipe

    def compose(self, dataset: str, architecture: str, optimizer: str | None = None, loss: str | None = None,
                exporters: list[str] | None = None, overrides: list[str] | None = None,
                callbacks: list[str] | None = None) -> RunConfig:
        """The configuration of an ad-hoc run (no recipe: ``zoo train``) from component or preset names.

        ``optimizer`` and ``loss`` default to zoo's own ``adam`` and
        ``sparse-categorical-crossentropy`` (:data:`DEFAULTS`), whatever plugins
        register the same names.
        """
        table = {"dataset": dataset, "architecture": architecture,
                 "optimizer": optimizer if optimizer is not None else self._builtin_name("optimizer"),
                 "loss": loss if loss is not None else self._builtin_name("loss"), "exporters": list(exporters or []),
                 "callbacks": list(callbacks or [])}
        return self.run_from_table(table, "adhoc", "command line", overrides)

    def _builtin_name(self, kind: str) -> str:
        """zoo's default ``kind`` as ``plugin:name`` of the built-in component (bare if there is none)."""
        name = DEFAULTS[kind]
        found = [c for c in self.catalog.by_kind[kind].get(name, []) if c.distribution == BUILTIN_DISTRIBUTION]
        return found[0].qualified_name if len(found) == 1 else name

    def run_from_table(self, table: dict[str, Any], recipe: str, where: str,
                       overrides: list[str] | None = None, *, builtin: bool = False,
                       recorded: dict[tuple[str, str], str] | None = None) -> RunConfig:
        """Resolve a run table (a recipe's, or a run's config.toml) and apply ``--set`` overrides.

        Overrides that replace a component (``optimizer=sgd``) or the exporters
        take the table's place before anything is resolved; parameter and
        setting overrides are applied after (zoo_core.registry.overrides).
        ``builtin``: the table is zoo's own (see :meth:`resolve`). ``recorded``
        binds bare component names to the plugin a run recorded for them
        (:func:`recorded_plugins`); by default, when ``where`` is a run's
        config.toml, from the manifest.json beside it.
        """
        table = copy.deepcopy(table)
        parsed = parse_overrides(overrides)
        swaps = component_swaps(parsed)
        self._check_run_table(table, where, swaps)
        settings = check_settings({k: v for k, v in table.items() if k in SETTINGS}, where)
        self._bind_recorded(table, recorded if recorded is not None else recorded_beside(where))

        def part(kind: str) -> ComponentChoice:
            if kind in swaps:
                return self.resolve(kind, swaps[kind][1], swaps[kind][0])
            return self.resolve(kind, table.get(kind), where, builtin)

        def listed(key: str) -> list[ComponentChoice]:  # exporters, callbacks
            place, references = swaps.get(key, (where, table.get(key, [])))
            return [self.resolve(LISTED_KINDS[key], ref, place, builtin and key not in swaps)
                    for ref in (references if isinstance(references, list) else [references])]

        config = RunConfig(
            recipe=str(table.get("recipe", recipe)),
            summary=str(table.get("summary", "")),
            dataset=part("dataset"),
            architecture=part("architecture"),
            optimizer=part("optimizer"),
            loss=part("loss"),
            exporters=listed("exporters"),
            callbacks=listed("callbacks"),
            settings=settings,
        )
        apply_overrides(config, parsed)
        self._tensorboard_setting(config)
        return config

    def _tensorboard_setting(self, config: RunConfig) -> None:
        """``tensorboard = true`` (configs before callbacks existed) means zoo's ``tensorboard`` callback.

        The setting becomes false and the callback is added (unless the run
        already lists one), so config.toml records it as a callback.
        """
        if not config.settings.get("tensorboard"):
            return
        config.settings["tensorboard"] = False
        if any(choice.component.name == "tensorboard" for choice in config.callbacks):
            return
        found = [c for c in self.catalog.by_kind["callback"].get("tensorboard", [])
                 if c.distribution == BUILTIN_DISTRIBUTION]
        name = found[0].qualified_name if found else "tensorboard"
        choice = self.resolve("callback", name, "setting 'tensorboard'", builtin=True)
        choice.ref = "tensorboard"  # as a user would list it (its key for --set callbacks.tensorboard.X)
        config.callbacks.append(choice)

    def _bind_recorded(self, table: dict[str, Any], recorded: dict[tuple[str, str], str]) -> None:
        """Write ``plugin:name`` for each bare component name a run recorded, while that plugin still has it."""
        def bound(kind: str, reference: Any) -> Any:
            inline = isinstance(reference, dict)
            name = reference.get("component") if inline else reference
            if not isinstance(name, str) or ":" in name or (kind, name) not in recorded:
                return reference
            qualified = f"{recorded[(kind, name)]}:{name}"
            if not self.catalog.has(kind, qualified):
                return reference
            return {**reference, "component": qualified} if inline else qualified

        for kind in RUN_COMPONENT_KINDS:
            if kind in table:
                table[kind] = bound(kind, table[kind])
        for key, kind in LISTED_KINDS.items():
            if isinstance(table.get(key), list):
                table[key] = [bound(kind, ref) for ref in table[key]]

    def _check_run_table(self, table: dict[str, Any], where: str, swaps: dict[str, Any]) -> None:
        """Unknown keys, missing components and a non-array ``exporters`` or ``callbacks`` in a run table."""
        unknown = [key for key in table if key not in RUN_KEYS]
        if unknown:
            raise ConfigError(f"{where}: unknown key '{unknown[0]}'",
                              hint=suggest(unknown[0], list(RUN_KEYS), "valid keys"), key=unknown[0])
        missing = [kind for kind in RUN_COMPONENT_KINDS if kind not in table and kind not in swaps]
        if missing:
            raise ConfigError(f"{where}: a run needs '{missing[0]}'",
                              hint=f'add e.g. {missing[0]} = "{self._example(missing[0])}"')
        for key, example in (("exporters", '"savedmodel", "tflite"'),
                             ("callbacks", '"early-stopping", { component = "mlflow", experiment = "x" }')):
            value = table.get(key, [])
            if key not in swaps and not isinstance(value, list):
                raise ConfigError(f"{where}: '{key}' must be an array of names, got {value!r}",
                                  hint=f"e.g. {key} = [{example}]", key=key)


def _again(error: ConfigError) -> ConfigError:
    """A fresh copy of an entry's stored error, to raise each time it is used."""
    return type(error)(error.message, hint=error.hint, key=error.key)


def check_params(component: Component, params: dict[str, Any], where: str) -> dict[str, Any]:
    """``component.check_params``; parameters that a third-party plugin's component rejects are a plugin change.

    zoo's own components stay as documented, so a mistake in their parameters
    is the file's. A plugin's component can be another plugin's since the
    entry was written (or another version): the error says whose it is now,
    as a ParameterMismatchError, which makes only its entry unavailable.
    """
    try:
        return component.check_params(params, where)
    except ConfigError as error:
        if component.distribution == BUILTIN_DISTRIBUTION:
            raise
        owner = f"plugin '{component.plugin}' {component_origin(component)}"
        raise ParameterMismatchError(
            f"{error.message} ('{component.name}' is {with_article(component.kind)} of {owner})",
            hint=f"{error.hint + '; ' if error.hint else ''}if it was written for another plugin's '{component.name}', install that plugin "
                 f"again (its plugin:name picks it), or fit the parameters to {owner}", key=error.key) from None


def recorded_beside(where: str) -> dict[tuple[str, str], str]:
    """The plugins recorded in the manifest.json beside ``where``, when it is a run's config.toml; else none."""
    path = Path(where)
    manifest = path.parent / "manifest.json"
    if path.name != "config.toml" or not manifest.is_file():
        return {}
    try:
        return recorded_plugins(json.loads(manifest.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def with_article(noun: str) -> str:
    """'an architecture', 'a dataset'."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
