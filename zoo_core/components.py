"""What a registered component is: its kind, name, factory and parameters.

A plugin registers components as :class:`Component` specs. The factory may be
a callable or a ``"module:attribute"`` string; either way nothing heavy is
imported until a run is built. Parameters are read from the factory's
signature (names, types with their declared :class:`Range` or :class:`Choice`,
defaults) and its docstring's ``Args:`` section, so ``zoo show`` and validation
cannot drift from the code, and every value is checked before any work.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from zoo_core._util.signature import NO_DEFAULT, docstring_args, factory_arguments
from zoo_core._util.text import first_line, suggest
from zoo_core._util.values import Choice, Range, check_value, describe_type
from zoo_core.errors import ConfigError, PluginError

# Re-exported: the signature and value machinery lives in zoo_core._util.
__all__ = [
    "CONTEXT_ARGUMENTS", "KINDS", "KIND_TABLE", "LISTABLE_EXTRAS", "LISTED_KINDS", "NAME_PATTERN", "PLURALS", "REQUIRED",
    "Choice", "Component", "Kind", "Parameter", "Range", "check_value", "describe_type", "docstring_args", "parameters_of", "suggest",
]


@dataclass(frozen=True)
class Kind:
    """One kind of component: its names, its hook, its registry.toml section, the arguments zoo supplies."""

    name: str  #: singular, as in ``kind = "loss"`` and ``--set loss=...``
    plural: str  #: as users write it: ``zoo list losses``, the registry section ``[losses.NAME]``
    context: tuple[str, ...] = ()  #: leading factory arguments zoo supplies; not user parameters
    listed: bool = False  #: a run holds a list of these (``exporters = [...]``), not one


    @property
    def hook(self) -> str:
        """The hookspec that registers this kind, e.g. ``register_losses``."""
        return f"register_{self.plural}"


#: The one table of component kinds; every other list of kinds derives from it.
KIND_TABLE: tuple[Kind, ...] = (
    Kind("dataset", "datasets"),
    Kind("architecture", "architectures", ("input_shape", "num_classes")),
    Kind("optimizer", "optimizers"),
    Kind("loss", "losses"),
    Kind("exporter", "exporters", ("context",), listed=True),
    Kind("callback", "callbacks", ("context",), listed=True),
)
KINDS: tuple[str, ...] = tuple(kind.name for kind in KIND_TABLE)
#: The kinds a run holds a list of, by the key a run table uses: ``{"exporters": "exporter", "callbacks": "callback"}``.
LISTED_KINDS: dict[str, str] = {kind.plural: kind.name for kind in KIND_TABLE if kind.listed}
#: What ``zoo list`` shows besides components, with their plurals.
LISTABLE_EXTRAS = {"preset": "presets", "run": "runs", "setting": "settings"}
#: Each kind's plural (and of presets, runs and settings), as users write it (``zoo list losses``).
PLURALS = {**{kind.name: kind.plural for kind in KIND_TABLE}, **LISTABLE_EXTRAS}
#: Leading factory arguments that zoo supplies itself, per kind.
CONTEXT_ARGUMENTS: dict[str, tuple[str, ...]] = {kind.name: kind.context for kind in KIND_TABLE}

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class _Required:
    """Marker for a parameter with no default."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
#: Where a parameter was written in a TOML file (``registry.toml:3 [optimizers.x]``, ``config.toml``): its hint
#: then shows the table's key, not a ``--set`` option.
TOML_PLACE = re.compile(r"\.toml(:\d+)?( |$)")


@dataclass(frozen=True)
class Parameter:
    """One user-settable parameter of a component factory."""

    name: str
    annotation: Any
    default: Any = REQUIRED
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def type_name(self) -> str:
        """The parameter's type as users see it: ``int``, ``list[int]``, ``'a' | 'b'``."""
        return describe_type(self.annotation)

    def check(self, value: Any, where: str) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ConfigError.

        ``where`` names the place the value came from, for the message.
        """
        try:
            return check_value(self.annotation, value, f"{where}: parameter '{self.name}'")
        except ConfigError as error:
            error.key = self.name
            raise


@dataclass
class Component:
    """A registered component spec.

    Args:
        name: registry name, lower case, e.g. ``"mlp"``.
        factory: the callable that builds the component, or a
            ``"package.module:function"`` string imported only when needed.
        summary: one line for ``zoo list``; defaults to the first line of the
            factory's docstring when the factory is a callable.
        kind: filled in from the hook that registered it.
        requires: top-level modules the factory needs that zoo does not install
            itself (an optional extra), e.g. ``("mlflow",)``. ``zoo list`` shows
            the component as unavailable while one is missing, and a run that
            uses it fails before any work with the install command.
        install: what to ``pip install`` for them, e.g. ``"zoo[mlflow]"``
            (default: the module names).
    """

    name: str
    factory: Callable[..., Any] | str
    summary: str = ""
    kind: str = ""
    plugin: str = ""
    distribution: str = ""
    version: str = ""
    requires: tuple[str, ...] = ()
    install: str = ""
    _parameters: dict[str, Parameter] | None = field(default=None, repr=False, compare=False)

    @property
    def qualified_name(self) -> str:
        """``plugin:name``, the name that is never ambiguous."""
        return f"{self.plugin}:{self.name}" if self.plugin else self.name

    def validate_spec(self) -> None:
        """Raise PluginError if this spec is malformed (checked at load time)."""
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            raise PluginError(
                f"component name {self.name!r} is not valid",
                hint="use lower-case letters, digits, '.', '_' or '-', e.g. 'my-dataset'",
            )
        if self.kind not in KINDS:
            raise PluginError(f"component {self.name!r} has unknown kind {self.kind!r}")
        if isinstance(self.factory, str):
            if not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$", self.factory):
                raise PluginError(
                    f"{self.kind} {self.name!r}: factory {self.factory!r} is not a 'module:function' path"
                )
        elif not callable(self.factory):
            raise PluginError(f"{self.kind} {self.name!r}: factory {self.factory!r} is not callable")
        if not isinstance(self.summary, str):
            raise PluginError(f"{self.kind} {self.name!r}: summary must be a string")
        if isinstance(self.requires, str) or not all(isinstance(m, str) and re.match(r"^[A-Za-z_]\w*$", m)
                                                     for m in self.requires):
            raise PluginError(f"{self.kind} {self.name!r}: requires must be a tuple of top-level module names, "
                              f"got {self.requires!r}", hint='e.g. requires=("mlflow",)')
        if not isinstance(self.install, str):
            raise PluginError(f"{self.kind} {self.name!r}: install must be a string, e.g. \"zoo[mlflow]\"")
        self.requires = tuple(self.requires)
        if callable(self.factory):
            if not self.summary:
                self.summary = first_line(inspect.getdoc(self.factory) or "")
            try:  # the signature is at hand: check it now, not when a run is built
                self.parameters()
            except PluginError as error:
                raise PluginError(f"{self.kind} {self.name!r}: {error.message}", hint=error.hint) from None

    def missing(self) -> list[str]:
        """The modules of :attr:`requires` that are not installed (found without importing them)."""
        import importlib.util

        return [module for module in self.requires if importlib.util.find_spec(module) is None]

    def requirement_problem(self) -> str:
        """'needs mlflow, which is not installed: pip install 'zoo[mlflow]'', or '' when nothing is missing."""
        missing = self.missing()
        if not missing:
            return ""
        names = ", ".join(missing)
        return (f"needs {names}, which {'is' if len(missing) == 1 else 'are'} not installed: "
                f"pip install '{self.install or ' '.join(missing)}'")

    def load_factory(self) -> Callable[..., Any]:
        """Import (if needed) and return the factory callable."""
        if callable(self.factory):
            return self.factory
        module_name, _, attribute = self.factory.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                target = getattr(target, part)
        except Exception as error:  # noqa: BLE001 - any import failure is the plugin's
            raise PluginError(
                f"{self.kind} {self.qualified_name}: cannot import factory {self.factory!r}: {error}",
                hint=f"reinstall or fix the plugin {self.plugin!r}",
            ) from error
        if not callable(target):
            raise PluginError(f"{self.kind} {self.qualified_name}: factory {self.factory!r} is not callable")
        return target

    def parameters(self) -> dict[str, Parameter]:
        """The user parameters, from the factory's signature and docstring."""
        if self._parameters is None:
            self._parameters = parameters_of(self.load_factory(), CONTEXT_ARGUMENTS[self.kind])
        return self._parameters

    def check_params(self, params: dict[str, Any], where: str, set_prefix: str | None = None) -> dict[str, Any]:
        """Check ``params`` against the declared parameters and fill in defaults.

        Returns every parameter with a concrete value (parameters whose
        default is None and that were not given are left out). Unknown or
        missing parameters and wrong types raise ConfigError naming ``where``,
        with a hint written as ``where`` gives parameters: ``name = ...`` when
        ``where`` is a TOML file's table (``registry.toml:3 [optimizers.x]``),
        else ``--set KEY=...`` (``set_prefix`` is how the command names this
        component's parameters, by default ``optimizer.`` or ``exporters.NAME.``).
        """
        declared = self.parameters()
        checked: dict[str, Any] = {}
        for key, value in params.items():
            if key not in declared:
                raise ConfigError(
                    f"{where}: {self.kind} '{self.name}' has no parameter '{key}'",
                    hint=suggest(key, list(declared), "parameters"), key=key,
                )
            try:
                checked[key] = declared[key].check(value, where)
            except ConfigError as error:
                error.hint = error.hint or self._default_hint(declared[key], where, set_prefix)
                raise
        for name, parameter in declared.items():
            if name in checked:
                continue
            if parameter.required:
                raise ConfigError(
                    f"{where}: {self.kind} '{self.name}' needs parameter '{name}' ({parameter.type_name})",
                    hint=f"set it, e.g. {self._written(name, '...', where, set_prefix)}", key=name,
                )
            if parameter.default is not None:
                checked[name] = parameter.default
        return checked

    def _default_hint(self, parameter: Parameter, where: str, set_prefix: str | None) -> str:
        """'e.g. --set optimizer.beta_1=0.9 (the default); 'zoo show adam' lists every parameter ...'."""
        listing = f"'zoo show {self.name}' lists every parameter with its type and range"
        if parameter.required or parameter.default is None:
            return listing
        written = self._written(parameter.name, toml_literal(parameter.default), where, set_prefix)
        return f"e.g. {written} (the default); {listing}"

    def _written(self, name: str, value: str, where: str, set_prefix: str | None) -> str:
        """Parameter ``name`` given ``value`` as ``where`` gives it: a ``--set`` option, or a key of a TOML table."""
        if set_prefix is None:
            set_prefix = f"{PLURALS[self.kind]}.{self.name}." if PLURALS[self.kind] in LISTED_KINDS else f"{self.kind}."
        return written_as(name, value, where, f"{set_prefix}{name}")


def written_as(name: str, value: str, where: str, set_key: str) -> str:
    """A parameter or setting given ``value`` as ``where`` gives it, for a hint: ``name = value`` when ``where`` is a
    TOML file's table (:data:`TOML_PLACE`), else ``--set set_key=value``."""
    if not where.startswith("--set") and TOML_PLACE.search(where):
        return f"{name} = {value}"
    return f"--set {set_key}={value}"


def toml_literal(value: Any) -> str:
    """A plain value (bool, number, string, list) as a TOML literal, for hints."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_literal(item) for item in value) + "]"
    return repr(value)


def parameters_of(factory: Callable[..., Any], context: tuple[str, ...]) -> dict[str, Parameter]:
    """Read a factory's user parameters from its signature and docstring."""
    return {
        argument.name: Parameter(argument.name, argument.annotation,
                                 REQUIRED if argument.default is NO_DEFAULT else argument.default, argument.help)
        for argument in factory_arguments(factory, context)
    }
