"""What a registered component is: its kind, name, factory and parameters.

A plugin registers components as :class:`Component` specs. The factory may be
a callable or a ``"module:attribute"`` string; either way nothing heavy is
imported until a run is built. Parameters are read from the factory's
signature (names, types, defaults) and its docstring's ``Args:`` section, so
``zoo show`` and validation cannot drift from the code.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Union

from zoo_core._util.text import first_line
from zoo_core.errors import ConfigError, PluginError

@dataclass(frozen=True)
class Kind:
    """One kind of component: its names, its hook, its registry.toml section, the arguments zoo supplies."""

    name: str  #: singular, as in ``kind = "loss"`` and ``--set loss=...``
    plural: str  #: as users write it: ``zoo list losses``, the registry section ``[losses.NAME]``
    context: tuple[str, ...] = ()  #: leading factory arguments zoo supplies; not user parameters

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
    Kind("exporter", "exporters", ("context",)),
)
KINDS: tuple[str, ...] = tuple(kind.name for kind in KIND_TABLE)
BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KIND_TABLE}
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
        return check_value(self.annotation, value, f"{where}: parameter '{self.name}'")


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
    """

    name: str
    factory: Callable[..., Any] | str
    summary: str = ""
    kind: str = ""
    plugin: str = ""
    distribution: str = ""
    version: str = ""
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
        if callable(self.factory):
            if not self.summary:
                self.summary = first_line(inspect.getdoc(self.factory) or "")
            try:  # the signature is at hand: check it now, not when a run is built
                self.parameters()
            except PluginError as error:
                raise PluginError(f"{self.kind} {self.name!r}: {error.message}", hint=error.hint) from None

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

    def check_params(self, params: dict[str, Any], where: str) -> dict[str, Any]:
        """Check ``params`` against the declared parameters and fill in defaults.

        Returns every parameter with a concrete value (parameters whose
        default is None and that were not given are left out). Unknown or
        missing parameters and wrong types raise ConfigError naming ``where``.
        """
        declared = self.parameters()
        checked: dict[str, Any] = {}
        for key, value in params.items():
            if key not in declared:
                raise ConfigError(
                    f"{where}: {self.kind} '{self.name}' has no parameter '{key}'",
                    hint=suggest(key, list(declared), "parameters"),
                )
            checked[key] = declared[key].check(value, where)
        for name, parameter in declared.items():
            if name in checked:
                continue
            if parameter.required:
                raise ConfigError(
                    f"{where}: {self.kind} '{self.name}' needs parameter '{name}' ({parameter.type_name})",
                    hint=f"set it, e.g. --set {self.kind}.{name}=...",
                )
            if parameter.default is not None:
                checked[name] = parameter.default
        return checked


def parameters_of(factory: Callable[..., Any], context: tuple[str, ...]) -> dict[str, Parameter]:
    """Read a factory's user parameters from its signature and docstring."""
    label = getattr(factory, "__qualname__", repr(factory))
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError) as error:
        raise PluginError(f"factory {label!r} has no signature zoo can read ({error})",
                          hint="register a plain Python function as the factory") from None
    hints = _type_hints(factory, signature)
    helps = docstring_args(inspect.getdoc(factory) or "")
    names = list(signature.parameters)
    if tuple(names[: len(context)]) != context:
        expected = f"({', '.join(context)}, ...)" if context else "only keyword parameters"
        raise PluginError(
            f"factory {label!r} must take {expected}, takes ({', '.join(names)})",
            hint="see the hook's contract in docs/plugins.md",
        )
    result: dict[str, Parameter] = {}
    for name in names[len(context):]:
        parameter = signature.parameters[name]
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        default = _plain(REQUIRED if parameter.default is inspect.Parameter.empty else parameter.default)
        annotation = hints.get(name, Any if default is REQUIRED or default is None else type(default))
        result[name] = Parameter(name, annotation, default, helps.get(name, ""))
    return result


def _type_hints(factory: Callable[..., Any], signature: inspect.Signature) -> dict[str, Any]:
    """The factory's resolved annotations; one that cannot be resolved is left out (untyped)."""
    try:
        return typing.get_type_hints(factory)
    except Exception:  # noqa: BLE001 - resolve what can be, one by one
        pass
    namespace = getattr(factory, "__globals__", {})
    hints: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        annotation = parameter.annotation
        if annotation is inspect.Parameter.empty:
            continue
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, dict(namespace))  # noqa: S307 - the plugin's own source
            except Exception:  # noqa: BLE001
                continue
        hints[name] = annotation
    return hints


def _plain(value: Any) -> Any:
    """Tuples become lists, so defaults compare equal to TOML values (and infer ``list``)."""
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def docstring_args(doc: str) -> dict[str, str]:
    """Parse a Google-style ``Args:`` section into ``{name: help}``."""
    helps: dict[str, str] = {}
    in_args = False
    current: str | None = None
    base_indent = 0
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args, current = True, None
            base_indent = -1
            continue
        if not in_args:
            continue
        if not stripped:
            current = None
            continue
        indent = len(line) - len(line.lstrip())
        if base_indent < 0:
            base_indent = indent
        if indent < base_indent or (indent == 0 and stripped.endswith(":")):
            in_args = False
            continue
        match = re.match(r"^(\w+)(?:\s*\([^)]*\))?\s*:\s*(.*)$", stripped)
        if indent == base_indent:  # a new entry; ``*args:``/``**kwargs:`` are no parameter
            current = match.group(1) if match else None
            if current:
                helps[current] = match.group(2)
        elif current:
            helps[current] = (helps[current] + " " + stripped).strip()
    return helps


def describe_type(annotation: Any) -> str:
    """A short user-facing name for a type annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return "any"
    if origin is Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin in (Union, types.UnionType):
        return " | ".join(describe_type(arg) for arg in args if arg is not type(None))
    if origin in (list, tuple):
        inner = [arg for arg in args if arg is not Ellipsis]
        return f"list[{describe_type(inner[0])}]" if inner else "list"
    if origin is dict:
        return "table"
    return getattr(annotation, "__name__", str(annotation))


def check_value(annotation: Any, value: Any, where: str) -> Any:
    """Return ``value`` converted to ``annotation``, or raise ConfigError."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return value
    if origin is Literal:
        if value in args and type(value) is type(next(a for a in args if a == value)):
            return value
        raise ConfigError(
            f"{where} must be one of {', '.join(repr(a) for a in args)}, got {value!r}",
            hint=suggest(str(value), [str(a) for a in args], "choices"),
        )
    if origin in (Union, types.UnionType):
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return check_value(option, value, where)
            except ConfigError as error:
                errors.append(error)
        raise ConfigError(f"{where} must be {describe_type(annotation)}, got {_show(value)}")
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be {describe_type(annotation)}, got {_show(value)}",
                              hint="write a TOML array, e.g. [128, 64]")
        inner = [arg for arg in args if arg is not Ellipsis]
        if not inner:
            return list(value)
        return [check_value(inner[0], item, f"{where}[{index}]") for index, item in enumerate(value)]
    if origin is dict or annotation is dict:
        if isinstance(value, dict):
            return value
        raise ConfigError(f"{where} must be a table, got {_show(value)}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {_show(value)}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be an integer, got {_show(value)}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where} must be a number, got {_show(value)}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} must be a string, got {_show(value)}",
                          hint='quote strings in TOML, e.g. key = "value"')
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        raise ConfigError(f"{where} must be {describe_type(annotation)}, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "table"}
    return f"{kind.get(type(value), type(value).__name__)} {value!r}"


def suggest(word: str, choices: list[str], label: str) -> str:
    """'did you mean ...?' plus the list of valid choices."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
    listing = ", ".join(sorted(choices)) if choices else "(none)"
    if close:
        return f"did you mean {' or '.join(repr(c) for c in close)}? {label}: {listing}"
    return f"{label}: {listing}"


