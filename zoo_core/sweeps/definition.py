"""``[sweeps.NAME]`` in registry.toml: read, checked against the registry, never evaluated as code.

Nothing here imports TensorFlow or Optuna: ``zoo show SWEEP`` and the checks
that run before any trial are as fast as ``zoo list``. The schema is in
docs/sweeps.md. A sweep's name is the folder of its report
(``<runs root>/sweeps/NAME``): one plain folder name (:func:`name_problem`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from zoo_core._util.text import suggest
from zoo_core.errors import ConfigError, UnknownNameError
from zoo_core.registry import Registry, Source
from zoo_core.registry.reading import key_line
from zoo_core.runs.directory import MAX_NAME, PLAIN_NAME, safe_name

#: Every key a ``[sweeps.NAME]`` table may have.
SWEEP_KEYS = ("summary", "run", "space", "set", "metric", "direction", "trials", "sampler", "pruner", "seed")
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("none", "median", "hyperband")
DIRECTIONS = ("maximize", "minimize")
#: The keys of a range in the space: ``{ low = 1e-4, high = 1e-2, log = true }``.
RANGE_KEYS = ("low", "high", "log", "step")
#: The keys of a pruner written as a table: ``{ kind = "median", startup_trials = 2, warmup_epochs = 1 }``.
PRUNER_KEYS = ("kind", "startup_trials", "warmup_epochs")
#: Metrics read from the last epoch of history.csv; every other metric is a number of metrics.json.
EPOCH_METRICS = ("val_accuracy", "val_loss")
TEST_METRICS = ("accuracy", "loss", "precision_macro", "recall_macro", "f1_macro",
                "precision_weighted", "recall_weighted", "f1_weighted")


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

    def grid(self) -> list[Any]:
        """Every value of the range on its step (an integer range without a step: every integer)."""
        step = self.step or 1
        count = int(round((self.high - self.low) / step)) + 1
        values = [self.low + index * step for index in range(count)]
        return [v for v in (values if self.integer else [round(v, 12) for v in values]) if v <= self.high]


Dimension = Union[Choice, Range]


@dataclass(frozen=True)
class PrunerSpec:
    """Which pruner, after how many complete trials and from which epoch it may stop a trial."""

    kind: str = "none"
    startup_trials: int = 5
    warmup_epochs: int = 0


@dataclass
class Sweep:
    """A checked ``[sweeps.NAME]``: the recipe every trial starts from, the space of ``--set`` keys, how to search it.

    ``recipe`` is the table's ``run`` key (the word the file format keeps).
    """

    name: str
    recipe: str
    space: dict[str, Dimension]
    summary: str = ""
    fixed: list[str] = field(default_factory=list)  #: ``set`` as ``--set`` texts, applied to every trial
    metric: str = "val_accuracy"
    direction: str = "maximize"
    trials: int = 20
    sampler: str = "tpe"
    pruner: PrunerSpec = field(default_factory=PrunerSpec)
    seed: int = 0
    source: Source = field(default_factory=lambda: Source("command line"))

    def grid_size(self) -> int:
        """How many points the grid sampler has (every combination)."""
        size = 1
        for dimension in self.space.values():
            size *= len(dimension.values) if isinstance(dimension, Choice) else len(dimension.grid())
        return size


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


def name_problem(name: str) -> str:
    """Why ``name`` cannot name a sweep, or ''; it names the folder ``<runs root>/sweeps/NAME``, never a path."""
    if PLAIN_NAME.match(name) and len(name) <= MAX_NAME:
        return ""
    return (f"'{name}' cannot name a sweep: the name is its report's folder (<runs root>/sweeps/NAME), so it may hold "
            f"only letters, digits, '.', '_' and '-', not start with '.' or '-', and be at most {MAX_NAME} characters")


def name_hint(name: str) -> str:
    """How to fix a sweep's name that :func:`name_problem` refuses."""
    return f"rename the sweep, e.g. [sweeps.{safe_name(name)}]"


def load_sweep(registry: Registry, name: str, overrides: list[str] | None = None) -> Sweep:
    """The sweep ``name`` read and checked: every choice and bound resolves as a run of its base recipe.

    ``overrides`` are the command's ``--set`` texts (applied to every trial);
    they may not name a key of the space. Raises ConfigError (file:line,
    did-you-mean) for any mistake, before any trial runs.
    """
    if name not in registry.sweeps:
        raise UnknownNameError(f"unknown sweep '{name}'", hint=suggest(name, list(registry.sweeps), "sweeps"))
    sweep = read_sweep(registry, name)
    check_sweep(registry, sweep, overrides or [])
    return sweep


def read_sweep(registry: Registry, name: str) -> Sweep:
    """The table of ``[sweeps.name]`` as a :class:`Sweep`; its own shape checked, not yet the registry's names."""
    entry = registry.sweeps[name]
    table, where = entry.table, _Where(entry.source, name)
    if name_problem(name):
        raise where.error(None, name_problem(name), name_hint(name))
    unknown = [key for key in table if key not in SWEEP_KEYS]
    if unknown:
        raise where.error(unknown[0], f"unknown key '{unknown[0]}'", suggest(unknown[0], list(SWEEP_KEYS), "valid keys"))
    recipe = table.get("run")
    if not isinstance(recipe, str):
        raise where.error("run", "a sweep needs run = \"<recipe>\", the run each trial starts from",
                          suggest("", list(registry.recipes), "runs"))
    space = _space(table.get("space"), where)
    metric = _string(table, "metric", "val_accuracy", where)
    if metric not in (*EPOCH_METRICS, *TEST_METRICS):
        raise where.error("metric", f"unknown metric '{metric}'",
                          suggest(metric, [*EPOCH_METRICS, *TEST_METRICS], "metrics (val_*: the last epoch's)"))
    direction = _string(table, "direction", "minimize" if "loss" in metric else "maximize", where)
    if direction not in DIRECTIONS:
        raise where.error("direction", f"direction must be one of {', '.join(DIRECTIONS)}, got '{direction}'",
                          suggest(direction, list(DIRECTIONS), "directions"))
    sampler = _string(table, "sampler", "tpe", where)
    if sampler not in SAMPLERS:
        raise where.error("sampler", f"unknown sampler '{sampler}'", suggest(sampler, list(SAMPLERS), "samplers"))
    sweep = Sweep(name=name, recipe=recipe, space=space, summary=entry.summary, fixed=_fixed(table.get("set"), where),
                  metric=metric, direction=direction, trials=_count(table, "trials", 20, where, minimum=1),
                  sampler=sampler, pruner=_pruner(table.get("pruner", "none"), where),
                  seed=_count(table, "seed", 0, where, minimum=0), source=entry.source)
    if sampler == "grid":
        _check_grid(sweep, where)
    return sweep


def check_sweep(registry: Registry, sweep: Sweep, overrides: list[str]) -> None:
    """Resolve the base recipe once per choice and per bound (without TensorFlow); a mistake names its key and line."""
    where = _Where(sweep.source, sweep.name)
    if sweep.recipe not in registry.recipes:
        raise where.error("run", f"unknown run '{sweep.recipe}'", suggest(sweep.recipe, list(registry.recipes), "runs"),
                          unknown=True)
    for text in overrides:
        key = text.partition("=")[0].strip()
        if key in sweep.space:
            raise ConfigError(f"--set '{text}': '{key}' is a parameter of sweep '{sweep.name}'; the sweep chooses it",
                              hint=f"drop this --set, or edit space.{key} in {sweep.source.path}")
    base = [*sweep.fixed, *overrides]
    try:
        config = registry.resolve_recipe(sweep.recipe, base)
    except ConfigError as error:
        raise where.error("set", f"the base run '{sweep.recipe}': {error.message}", error.hint) from None
    for key, dimension in sweep.space.items():
        values = dimension.values if isinstance(dimension, Choice) else (dimension.low, dimension.high)
        for value in values:
            _check_value(registry, sweep, base, key, value, where)
    if sweep.metric.startswith("val_") and not config.settings["validation_split"] and \
            "validation_split" not in sweep.space:
        raise where.error("metric", f"metric '{sweep.metric}' needs a validation part, but run '{sweep.recipe}' has "
                          "validation_split = 0", "set validation_split > 0 (set = { validation_split = 0.1 }), "
                          "or use a test metric such as metric = \"accuracy\"")


def _check_value(registry: Registry, sweep: Sweep, base: list[str], key: str, value: Any, where: "_Where") -> None:
    """``key = value`` must resolve on the base recipe, or with one of the swept choices of its component.

    ``optimizer = ["adam", "sgd"]`` with ``optimizer.momentum`` is a valid
    space: the momentum fits sgd; a trial that draws adam with it fails
    with its reason and the sweep goes on.
    """
    setting = f"{key}={toml_value(value)}"
    swapped = sweep.space.get(key.partition(".")[0]) if "." in key else None
    contexts = [[]] + ([[f"{key.partition('.')[0]}={toml_value(c)}"] for c in swapped.values]
                       if isinstance(swapped, Choice) else [])
    first: ConfigError | None = None
    for context in contexts:
        try:
            registry.resolve_recipe(sweep.recipe, [*base, *context, setting])
            return
        except ConfigError as error:
            first = first or error
    assert first is not None
    raise where.error(key, f"space.{key} = {toml_value(value)}: {_without_set(first.message)}", first.hint,
                      space=True) from None


def _without_set(message: str) -> str:
    """A --set error's message without its ``--set '...': `` prefix (the sweep names the key itself)."""
    return message.split("': ", 1)[1] if message.startswith("--set '") and "': " in message else message


class _Where:
    """Errors about one sweep, at the line of the key they concern."""

    def __init__(self, source: Source, name: str) -> None:
        self.source, self.name = source, name

    def error(self, key: str | None, message: str, hint: str | None = None, *, space: bool = False,
              unknown: bool = False) -> ConfigError:
        line = key_line(self.source, "sweeps", self.name, key)
        if space and key and line.line == self.source.line and "." in key:  # written as nested tables
            line = key_line(self.source, "sweeps", self.name, key.rpartition(".")[2])
        kind = UnknownNameError if unknown else ConfigError
        table = self.name if PLAIN_NAME.match(self.name) else toml_value(self.name)  # quoted, as TOML writes it
        return kind(f"{line} [sweeps.{table}]: {message}", hint=hint, key=key)


def _string(table: dict[str, Any], key: str, default: str, where: _Where) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise where.error(key, f"'{key}' must be a string, got {value!r}")
    return value


def _count(table: dict[str, Any], key: str, default: int, where: _Where, minimum: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise where.error(key, f"'{key}' must be an integer >= {minimum}, got {value!r}")
    return value


def _fixed(table: Any, where: _Where) -> list[str]:
    """``set = { epochs = 2, exporters = [] }``: ``--set`` keys given to every trial."""
    if table is None:
        return []
    if not isinstance(table, dict):
        raise where.error("set", f"'set' must be a table of --set keys, got {table!r}",
                          'e.g. set = { epochs = 3, "optimizer.learning_rate" = 0.01 }')
    return [f"{key}={toml_value(value)}" for key, value in _flatten(table, where, "set").items()]


def _flatten(table: dict[str, Any], where: _Where, section: str, prefix: str = "") -> dict[str, Any]:
    """Dotted keys written unquoted (``optimizer.learning_rate = ...`` is a nested table in TOML) joined again."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        nested = isinstance(value, dict) and (not _is_range(value) if section == "space" else "component" not in value)
        if nested:
            flat.update(_flatten(value, where, section, f"{full}."))
        else:
            flat[full] = value
    return flat


def _is_range(value: dict[str, Any]) -> bool:
    """A table that is a range (it has a range key, or only scalar values) rather than a group of dotted keys."""
    return any(key in RANGE_KEYS for key in value) or not any(isinstance(v, (dict, list)) for v in value.values())


def _space(table: Any, where: _Where) -> dict[str, Dimension]:
    if not isinstance(table, dict) or not table:
        raise where.error("space", "a sweep needs a space: a table of --set keys, each a list of choices or a range",
                          'e.g. [sweeps.NAME.space] architecture = ["mlp-128-64-10", "mlp"], '
                          '"optimizer.learning_rate" = { low = 1e-4, high = 1e-2, log = true }')
    return {key: _dimension(key, value, where) for key, value in _flatten(table, where, "space").items()}


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


def _pruner(value: Any, where: _Where) -> PrunerSpec:
    table = {"kind": value} if isinstance(value, str) else value
    if not isinstance(table, dict):
        raise where.error("pruner", f"'pruner' must be a name or a table, got {value!r}",
                          'e.g. pruner = "median" or pruner = { kind = "median", startup_trials = 2 }')
    unknown = [k for k in table if k not in PRUNER_KEYS]
    if unknown:
        raise where.error("pruner", f"unknown key '{unknown[0]}' in 'pruner'",
                          suggest(unknown[0], list(PRUNER_KEYS), "pruner keys"))
    kind = table.get("kind", "median")
    if kind not in PRUNERS:
        raise where.error("pruner", f"unknown pruner '{kind}'", suggest(str(kind), list(PRUNERS), "pruners"))
    return PrunerSpec(kind, _count(table, "startup_trials", 5, where, 0), _count(table, "warmup_epochs", 0, where, 0))


def _check_grid(sweep: Sweep, where: _Where) -> None:
    for key, dimension in sweep.space.items():
        if isinstance(dimension, Range) and not dimension.integer and dimension.step is None:
            raise where.error(key, f"space.{key}: the grid sampler needs a step or a list for a continuous range",
                              f'e.g. {{ low = {dimension.low}, high = {dimension.high}, step = ... }}, or '
                              'sampler = "tpe"', space=True)
        if isinstance(dimension, Range) and dimension.log:
            raise where.error(key, f"space.{key}: the grid sampler cannot walk a log range",
                              "list the values instead, e.g. [1e-4, 1e-3, 1e-2]", space=True)
