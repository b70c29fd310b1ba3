"""Checking a TOML value against a parameter's type annotation, and naming types for users.

Besides plain types, an annotation may carry a declared range or choice:
``Annotated[float, Range(0, 1, high_open=True)]`` or
``Annotated[str, Choice(("relu", "tanh"), "a Keras activation")]``. zoo reads
them from the signature without calling the factory, enforces them when a
config is resolved and shows them in ``zoo show``. A float is refused when it
is NaN or infinite unless its ``Range`` says ``finite=False``.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal, Union

from zoo_core._util.text import suggest
from zoo_core.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """The allowed values of a number, or the allowed length of a list or a string (for ``Annotated``).

    ``Range(0, 1, high_open=True)`` is [0, 1); ``Range(0, low_open=True)`` is > 0;
    ``None`` is no bound. ``finite=False`` lets a float be NaN or infinite.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    finite: bool = True

    def rule(self) -> str:
        """The range as users read it: ``in [0, 1)``, ``> 0``, ``<= 8192``."""
        if self.low is not None and self.low == self.high and not (self.low_open or self.high_open):
            return f"equal to {_number(self.low)}"
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{_number(self.low)}, "
                    f"{_number(self.high)}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_number(self.high)}"
        return "any number" if self.finite else "any number, NaN or infinity"

    def contains(self, number: float) -> bool:
        """Whether ``number`` lies in the range (NaN does only when ``finite`` is False)."""
        if isinstance(number, float) and math.isnan(number):
            return not self.finite
        low_ok = self.low is None or (number > self.low if self.low_open else number >= self.low)
        high_ok = self.high is None or (number < self.high if self.high_open else number <= self.high)
        return low_ok and high_ok

    def check(self, value: Any, where: str) -> None:
        """Raise ConfigError naming ``where`` if ``value`` (a list's or string's length) is out of range."""
        if isinstance(value, (list, str)):
            if not self.contains(len(value)):
                raise ConfigError(f"{where} must have a length {self.rule()}, got {len(value)}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and not self.contains(value):
            raise ConfigError(f"{where} must be {self.rule()}, got {_number(value)}")


@dataclass(frozen=True)
class Choice:
    """The allowed strings of a parameter (for ``Annotated``), e.g. the names of Keras' activations.

    Unlike ``Literal``, a long list shows in ``zoo show`` as its ``label``.
    """

    names: tuple[str, ...]
    label: str = ""

    def check(self, value: Any, where: str) -> None:
        """Raise ConfigError naming ``where`` if ``value`` is not one of the names."""
        if isinstance(value, str) and value in self.names:
            return
        raise ConfigError(f"{where} must be {self.label or 'one of the choices'}, got {value!r}",
                          hint=suggest(str(value), list(self.names), "choices"))


def _number(value: float) -> str:
    """A bound or value as written in TOML: 0, 0.5, 1e-07, nan, inf."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def markers(annotation: Any) -> tuple[Any, list[Any]]:
    """``(base type, [Range/Choice markers])`` of an ``Annotated`` annotation; ``(annotation, [])`` otherwise."""
    if typing.get_origin(annotation) is not Annotated:
        return annotation, []
    base, *extras = typing.get_args(annotation)
    return base, [extra for extra in extras if isinstance(extra, (Range, Choice))]


def describe_type(annotation: Any) -> str:
    """A short user-facing name for a type annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return "any"
    if origin is Annotated:
        return _describe_annotated(annotation)
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


def _describe_annotated(annotation: Any) -> str:
    """``float in [0, 1)``, ``list[int in [1, 8192]], length <= 32``, ``str: a Keras activation``."""
    base, found = markers(annotation)
    text = describe_type(base)
    for marker in found:
        if isinstance(marker, Choice):
            text = f"{text}: {marker.label}" if marker.label else " | ".join(repr(name) for name in marker.names)
        elif (typing.get_origin(base) or base) in (list, tuple, str):
            text = f"{text}, length {marker.rule()}"
        else:
            text = f"{text} {marker.rule()}"
    return text


def show_value(value: Any) -> str:
    """A TOML value with its TOML type, for messages: ``integer 3``, ``string 'x'``."""
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "table"}
    return f"{kind.get(type(value), type(value).__name__)} {value!r}"


def check_value(annotation: Any, value: Any, where: str) -> Any:
    """Return ``value`` converted to ``annotation``, or raise ConfigError naming ``where``."""
    if annotation is Any or annotation is inspect.Parameter.empty:
        return value
    check = _BY_ORIGIN.get(typing.get_origin(annotation))
    if check is None and isinstance(annotation, type):
        check = _BY_TYPE.get(annotation, _check_instance)
    return check(annotation, value, where) if check else value


def _check_literal(annotation: Any, value: Any, where: str) -> Any:
    args = typing.get_args(annotation)
    if value in args and type(value) is type(next(a for a in args if a == value)):
        return value
    raise ConfigError(
        f"{where} must be one of {', '.join(repr(a) for a in args)}, got {value!r}",
        hint=suggest(str(value), [str(a) for a in args], "choices"),
    )


def _check_annotated(annotation: Any, value: Any, where: str) -> Any:
    """The base type's check, then each declared Range and Choice."""
    base, found = markers(annotation)
    non_finite = isinstance(value, float) and not math.isfinite(value)
    if non_finite and any(isinstance(m, Range) and not m.finite for m in found) and base in (float, Any):
        return value
    value = check_value(base, value, where)
    for marker in found:
        marker.check(value, where)
    return value


def _check_union(annotation: Any, value: Any, where: str) -> Any:
    options = [option for option in typing.get_args(annotation) if option is not type(None)]
    if len(options) == 1:  # X | None: X's own message, with its range
        return check_value(options[0], value, where)
    for option in options:
        try:
            return check_value(option, value, where)
        except ConfigError:
            continue
    raise ConfigError(f"{where} must be {describe_type(annotation)}, got {show_value(value)}")


def _check_list(annotation: Any, value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be {describe_type(annotation)}, got {show_value(value)}",
                          hint="write a TOML array, e.g. [128, 64]")
    inner = [arg for arg in typing.get_args(annotation) if arg is not Ellipsis]
    if not inner:
        return list(value)
    return [check_value(inner[0], item, f"{where}[{index}]") for index, item in enumerate(value)]


def _check_table(annotation: Any, value: Any, where: str) -> dict[Any, Any]:
    if isinstance(value, dict):
        return value
    raise ConfigError(f"{where} must be a table, got {show_value(value)}")


def _check_bool(annotation: Any, value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{where} must be true or false, got {show_value(value)}")


def _check_int(annotation: Any, value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConfigError(f"{where} must be an integer, got {show_value(value)}")


def _check_float(annotation: Any, value: Any, where: str) -> float:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer too large for a float
            raise ConfigError(f"{where} is too large a number ({len(str(value))} digits)") from None
    raise ConfigError(f"{where} must be a number, got {show_value(value)}")


def _check_str(annotation: Any, value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    raise ConfigError(f"{where} must be a string, got {show_value(value)}",
                      hint='quote strings in TOML, e.g. key = "value"')


def _check_instance(annotation: type, value: Any, where: str) -> Any:
    """Any other class: the value must already be an instance of it."""
    if isinstance(value, annotation):
        return value
    raise ConfigError(f"{where} must be {describe_type(annotation)}, got {show_value(value)}")


_Check = Callable[[Any, Any, str], Any]
#: Generic annotations, by their origin: ``Literal[...]``, ``X | Y``, ``list[X]``, ``dict[K, V]``.
_BY_ORIGIN: dict[Any, _Check] = {
    Literal: _check_literal,
    Annotated: _check_annotated,
    Union: _check_union,
    types.UnionType: _check_union,
    list: _check_list,
    tuple: _check_list,
    dict: _check_table,
}
#: Plain classes; any class not listed must match by isinstance.
_BY_TYPE: dict[type, _Check] = {
    bool: _check_bool,
    int: _check_int,
    float: _check_float,
    str: _check_str,
    dict: _check_table,
}
