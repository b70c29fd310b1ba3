"""Reading a factory's user arguments from its signature and its docstring's ``Args:`` section."""

from __future__ import annotations

import inspect
import re
import typing
from dataclasses import dataclass
from typing import Any, Callable

from zoo_core.errors import PluginError

#: The default of an argument that has none.
NO_DEFAULT = inspect.Parameter.empty


@dataclass(frozen=True)
class FactoryArgument:
    """One argument a user can set, as the factory declares it."""

    name: str
    annotation: Any  #: resolved type hint, else the default's type, else Any
    default: Any  #: NO_DEFAULT when there is none; tuples are turned into lists
    help: str  #: from the docstring's ``Args:`` section


def factory_arguments(factory: Callable[..., Any], context: tuple[str, ...]) -> list[FactoryArgument]:
    """The factory's arguments after the ``context`` ones zoo supplies; PluginError if it does not take those."""
    label = getattr(factory, "__qualname__", repr(factory))
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError) as error:
        raise PluginError(f"factory {label!r} has no signature zoo can read ({error})",
                          hint="register a plain Python function as the factory") from None
    hints = type_hints(factory, signature)
    helps = docstring_args(inspect.getdoc(factory) or "")
    names = list(signature.parameters)
    if tuple(names[: len(context)]) != context:
        expected = f"({', '.join(context)}, ...)" if context else "only keyword parameters"
        raise PluginError(
            f"factory {label!r} must take {expected}, takes ({', '.join(names)})",
            hint="see the hook's contract in docs/plugins.md",
        )
    arguments = []
    for name in names[len(context):]:
        parameter = signature.parameters[name]
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        default = _plain(parameter.default)
        annotation = hints.get(name, Any if default is NO_DEFAULT or default is None else type(default))
        arguments.append(FactoryArgument(name, annotation, default, helps.get(name, "")))
    return arguments


def type_hints(factory: Callable[..., Any], signature: inspect.Signature) -> dict[str, Any]:
    """The factory's resolved annotations; one that cannot be resolved is left out (untyped)."""
    try:
        return typing.get_type_hints(factory, include_extras=True)  # keep Annotated ranges
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
