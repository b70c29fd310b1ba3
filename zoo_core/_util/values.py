"""Checking a TOML value against a parameter's type annotation, and naming types for users."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Callable, Literal, Union

from zoo_core._util.text import suggest
from zoo_core.errors import ConfigError


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


def _check_union(annotation: Any, value: Any, where: str) -> Any:
    for option in typing.get_args(annotation):
        if option is type(None):
            continue
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
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
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
