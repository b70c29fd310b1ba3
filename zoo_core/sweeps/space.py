"""The space of a ``[sweeps.NAME]``: its dimensions (a list of choices or a range) read from TOML, and the grid.

Split from :mod:`zoo_core.sweeps.definition` (the rest of the table): what
the space holds and how the grid sampler walks it. A grid is counted before
it is built, and refused above :data:`MAX_GRID_POINTS`, so that no listing
command builds billions of values.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Protocol, Union

from zoo_core._util.text import suggest
from zoo_core.errors import ConfigError

#: The keys of a range in the space: ``{ low = 1e-4, high = 1e-2, log = true }``.
RANGE_KEYS = ("low", "high", "log", "step")
class _Where(Protocol):
    """Errors about one sweep at the line of a key (``definition._Where``)."""

    def error(self, key: str | None, message: str, hint: str | None = None, *, space: bool = False) -> ConfigError:
        ...


#: The most points a grid may have (every combination): each is a training run, and the grid is held in memory.
MAX_GRID_POINTS = 10_000


def toml_value(value: Any) -> str:
    """``value`` as a TOML literal: what ``--set key=...`` parses back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        import json

        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        import json

        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise ConfigError(f"cannot write {value!r} as a TOML value")




@dataclass(frozen=True)
class Choice:
    """One of a list of values; values that are not scalars (lists, tables) are sampled as their TOML text."""

    values: tuple[Any, ...]

    @property
    def scalar(self) -> bool:
        """Whether Optuna can take the values as they are (str, int, float, bool)."""
        return all(isinstance(v, (str, int, float, bool)) for v in self.values)

    def describe(self) -> str:
        """``one of: "mlp-128-64-10", "wide"``."""
        return "one of: " + ", ".join(toml_value(v) for v in self.values)


@dataclass(frozen=True)
class Range:
    """A number from ``low`` to ``high`` (both included); integers when both bounds are integers."""

    low: Union[int, float]
    high: Union[int, float]
    log: bool = False
    step: Union[int, float, None] = None

    @property
    def integer(self) -> bool:
        """An integer range: both bounds (and the step) written as integers."""
        return all(isinstance(v, int) for v in (self.low, self.high, self.step or 1))

    def describe(self) -> str:
        """``float from 0.0001 to 0.01, log scale``."""
        text = f"{'int' if self.integer else 'float'} from {self.low} to {self.high}"
        return text + (", log scale" if self.log else "") + (f", step {self.step}" if self.step else "")

    def grid_count(self) -> int:
        """How many values :meth:`grid` has, counted without building them (``sys.maxsize`` past counting)."""
        step = self.step or 1
        if self.integer:
            return (self.high - self.low) // step + 1
        ratio = (self.high - self.low) / step
        if not math.isfinite(ratio) or ratio >= sys.maxsize:
            return sys.maxsize
        count = int(round(ratio))  # as grid() does: the last value is dropped when it rounds past high
        return count + (1 if round(self.low + count * step, 12) <= self.high else 0)

    def grid(self) -> list[Any]:
        """Every value of the range on its step (an integer range without a step: every integer).

        Build it only after :func:`check_grid`: a range on a tiny step has billions of values.
        """
        step = self.step or 1
        count = int(round((self.high - self.low) / step)) + 1
        values = [self.low + index * step for index in range(count)]
        return [v for v in (values if self.integer else [round(v, 12) for v in values]) if v <= self.high]


Dimension = Union[Choice, Range]


def dimension_points(dimension: Dimension) -> int:
    """How many values the grid sampler walks on one dimension."""
    return len(dimension.values) if isinstance(dimension, Choice) else dimension.grid_count()


def grid_points(space: dict[str, Dimension]) -> int:
    """How many points the grid has (every combination), counted without building it."""
    return math.prod(dimension_points(d) for d in space.values())




def flatten(table: dict[str, Any], where: _Where, section: str, prefix: str = "") -> dict[str, Any]:
    """Dotted keys written unquoted (``optimizer.learning_rate = ...`` is a nested table in TOML) joined again."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        nested = isinstance(value, dict) and (not _is_range(value) if section == "space" else "component" not in value)
        if nested:
            flat.update(flatten(value, where, section, f"{full}."))
        else:
            flat[full] = value
    return flat


def _is_range(value: dict[str, Any]) -> bool:
    """A table that is a range (it has a range key, or only scalar values) rather than a group of dotted keys."""
    return any(key in RANGE_KEYS for key in value) or not any(isinstance(v, (dict, list)) for v in value.values())


def read_space(table: Any, where: _Where) -> dict[str, Dimension]:
    if not isinstance(table, dict) or not table:
        raise where.error("space", "a sweep needs a space: a table of --set keys, each a list of choices or a range",
                          'e.g. [sweeps.NAME.space] architecture = ["mlp-128-64-10", "mlp"], '
                          '"optimizer.learning_rate" = { low = 1e-4, high = 1e-2, log = true }')
    return {key: _dimension(key, value, where) for key, value in flatten(table, where, "space").items()}


def _dimension(key: str, value: Any, where: _Where) -> Dimension:
    if isinstance(value, list):
        if not value:
            raise where.error(key, f"space.{key}: an empty list of choices", "give at least one value", space=True)
        return Choice(tuple(value))
    if isinstance(value, dict):
        return _range(key, value, where)
    raise where.error(key, f"space.{key} must be a list of choices or a range {{ low = ..., high = ... }}, got "
                      f"{toml_value(value)}", f"a fixed value goes in set = {{ \"{key}\" = {toml_value(value)} }}",
                      space=True)


def _range(key: str, table: dict[str, Any], where: _Where) -> Range:
    def fail(message: str, hint: str | None = None) -> ConfigError:
        return where.error(key, f"space.{key}: {message}", hint, space=True)

    unknown = [k for k in table if k not in RANGE_KEYS]
    if unknown:
        raise fail(f"unknown key '{unknown[0]}' in a range", suggest(unknown[0], list(RANGE_KEYS), "range keys"))
    bounds = {k: table.get(k) for k in ("low", "high")}
    for name, bound in bounds.items():
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise fail(f"a range needs {name} = a number, got {bound!r}", "e.g. { low = 1e-4, high = 1e-2, log = true }")
    low, high, log, step = bounds["low"], bounds["high"], table.get("log", False), table.get("step")
    if not isinstance(log, bool):
        raise fail(f"'log' must be true or false, got {log!r}")
    if low > high:
        raise fail(f"low ({low}) is above high ({high})", "swap them")
    if log and low <= 0:
        raise fail(f"a log range needs low > 0, got {low}", "e.g. { low = 1e-5, high = 1e-1, log = true }")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
            raise fail(f"'step' must be a number > 0, got {step!r}")
        if log:
            raise fail("a range cannot have both 'log' and 'step'", "drop one of them")
    return Range(low, high, log, step)




def check_grid(space: dict[str, Dimension], where: _Where) -> None:
    """What the grid sampler cannot walk: a continuous range without a step, a log range, too many points."""
    for key, dimension in space.items():
        if isinstance(dimension, Range) and not dimension.integer and dimension.step is None:
            raise where.error(key, f"space.{key}: the grid sampler needs a step or a list for a continuous range",
                              f'e.g. {{ low = {dimension.low}, high = {dimension.high}, step = ... }}, or '
                              'sampler = "tpe"', space=True)
        if isinstance(dimension, Range) and dimension.log:
            raise where.error(key, f"space.{key}: the grid sampler cannot walk a log range",
                              "list the values instead, e.g. [1e-4, 1e-3, 1e-2]", space=True)
    _check_grid_size(space, where)


def _check_grid_size(space: dict[str, Dimension], where: _Where) -> None:
    """Refuse a grid of more than :data:`MAX_GRID_POINTS` points, at the line of its largest dimension."""
    points = grid_points(space)
    if points <= MAX_GRID_POINTS:
        return
    key = max(space, key=lambda k: dimension_points(space[k]))
    largest, dimension = dimension_points(space[key]), space[key]
    shown = "more than can be counted" if largest >= sys.maxsize else f"{largest:,}"
    total = "more than can be counted" if points >= sys.maxsize else f"{points:,}"
    fix = (f"a larger step for space.{key}" if isinstance(dimension, Range) else f"fewer choices for space.{key}")
    raise where.error(key, f"space.{key}: the grid has {total} points ({shown} for {key} alone), more than the "
                      f"limit of {MAX_GRID_POINTS:,}", f"{fix}, or sampler = \"tpe\" or \"random\" (which draw "
                      "`trials` points instead of walking every one)", space=True)
