"""``[sweeps.NAME]`` in registry.toml: read, checked against the registry, never evaluated as code.

Nothing here imports TensorFlow or Optuna: ``zoo show SWEEP`` and the checks
that run before any trial are as fast as ``zoo list``. The schema is in
docs/sweeps.md. A sweep's name is the folder of its report
(``<runs root>/sweeps/NAME``): one plain folder name (:func:`name_problem`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo_core._util.text import suggest
from zoo_core.errors import ConfigError, UnknownNameError
from zoo_core.registry import Registry, Source
from zoo_core.registry.reading import key_line
from zoo_core.runs.directory import MAX_NAME, PLAIN_NAME, safe_name
from zoo_core.runs.history import EPOCH_METRICS
from zoo_core.sweeps.space import (RANGE_KEYS, Choice, Dimension, Range, check_grid, flatten, grid_points,
                                   read_space, toml_value)

__all__ = ["Choice", "Dimension", "Range", "RANGE_KEYS", "Sweep", "load_sweep", "read_sweep", "toml_value"]

#: Every key a ``[sweeps.NAME]`` table may have.
SWEEP_KEYS = ("summary", "run", "space", "set", "metric", "direction", "trials", "sampler", "pruner", "seed")
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("none", "median", "hyperband")
DIRECTIONS = ("maximize", "minimize")
#: The keys of a pruner written as a table: ``{ kind = "median", startup_trials = 2, warmup_epochs = 1 }``.
PRUNER_KEYS = ("kind", "startup_trials", "warmup_epochs")
#: Metrics read from the last epoch of history.csv: its validation figures (zoo_core.runs.history.EPOCH_METRICS);
#: every other metric is a number of metrics.json.
VALIDATION_METRICS = tuple(sorted(name for name, better in EPOCH_METRICS.items()
                                  if better and name.startswith("val_")))
TEST_METRICS = ("accuracy", "loss", "precision_macro", "recall_macro", "f1_macro",
                "precision_weighted", "recall_weighted", "f1_weighted")


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
        """How many points the grid sampler has (every combination), counted without building the grid."""
        return grid_points(self.space)


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
    space = read_space(table.get("space"), where)
    metric = _string(table, "metric", "val_accuracy", where)
    if metric not in (*VALIDATION_METRICS, *TEST_METRICS):
        raise where.error("metric", f"unknown metric '{metric}'",
                          suggest(metric, [*VALIDATION_METRICS, *TEST_METRICS], "metrics (val_*: the last epoch's)"))
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
    _check_fixed(sweep, where)
    if sampler == "grid":
        check_grid(sweep.space, where)
    return sweep


def _check_fixed(sweep: Sweep, where: "_Where") -> None:
    """``set`` may not name a key of the space: the sweep chooses it (as ``--set`` may not, :func:`check_sweep`)."""
    for text in sweep.fixed:
        key = text.partition("=")[0]
        if key in sweep.space:
            raise where.error("set", f"set.{key} is also a key of the space; the sweep chooses it for each trial",
                              f'drop "{key}" from set, or from [sweeps.{sweep.name}.space] to fix it for every trial')


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
    return [f"{key}={toml_value(value)}" for key, value in flatten(table, where, "set").items()]


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
