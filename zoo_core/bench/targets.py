"""Which runs ``zoo bench`` and ``zoo compare`` work on: run ids, run directories and recipe names.

A recipe name means its latest completed run in the runs root; ``zoo bench
--train-missing`` trains a recipe that has none, with the normal training API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from zoo_core._util.text import did_you_mean
from zoo_core.errors import ConfigError
from zoo_core.registry import Registry
from zoo_core.runs import Run, RunNotFound, find_run, list_runs

#: How a trained recipe is reported while ``zoo bench --train-missing`` works: ``(recipe, run)``.
Announce = Callable[[str, Run], None]


def find_target(reference: str, root: Path, registry: Registry, finished: bool = True) -> Run:
    """The run ``reference`` names: a run id or directory (its status checked if ``finished``), or a recipe.

    Raises RunNotFound (exit code 2) with a did-you-mean hint for a name that
    is neither, and for a run that is not completed when ``finished``.
    """
    try:
        run = find_run(reference, root, statuses=("completed",))
    except RunNotFound as error:
        raise RunNotFound(error.message, hint=_near(reference, root, registry) or error.hint) from None
    status = run.status()
    if finished and status != "completed":
        raise RunNotFound(f"run '{run.id}' is not finished (status: {status}): only completed runs have a "
                          "model to measure", hint=_unfinished_hint(run, status))
    return run


def _unfinished_hint(run: Run, status: str) -> str:
    """What to do with a run that is not completed: wait for a running one, resume a stopped one."""
    other = "or pick a completed run ('zoo runs')"
    if status == "running":  # zoo resume refuses a run another process works in
        manifest = run.manifest()
        return (f"it is still training (process {manifest.get('pid', '?')} on {manifest.get('host', '?')}): "
                f"bench it when it has finished, {other}")
    if status in ("interrupted", "failed", "pruned"):
        return f"finish it with 'zoo resume {run.id}', {other}"
    return f"train the recipe again ('zoo run --config {run.dir / 'config.toml'}'), {other}"


def _near(reference: str, root: Path, registry: Registry) -> str:
    """'did you mean ...?' over the recipes and the run ids in ``root``, or '' if nothing is close."""
    close = did_you_mean(reference, list(registry.recipes) + [run.id for run in list_runs(root)])
    return f"{close} ('zoo list runs' lists the recipes, 'zoo runs' the runs)" if close else ""


def bench_targets(references: list[str], root: Path, registry: Registry, train_missing: bool = False,
                  overrides: list[str] | None = None, progress: str | None = "none",
                  announce: Announce | None = None) -> list[Run]:
    """The completed runs to bench, one per reference, in order, without repeats.

    A recipe without a completed run is an error (exit code 2) unless
    ``train_missing``: then it is trained (with ``overrides``, ``--set``
    texts) into ``root`` first. Every reference is checked before any training.
    """
    if not references:
        raise ConfigError("nothing to bench: name recipes or runs, e.g. zoo bench mnist-mlp",
                          hint=_completed_hint(root))
    plan: list[tuple[str, Run | None]] = []
    for reference in references:
        try:
            plan.append((reference, find_target(reference, root, registry)))
        except RunNotFound:
            if reference not in registry.recipes or not _has_no_completed_run(reference, root):
                raise
            if not train_missing:
                raise RunNotFound(f"recipe '{reference}' has no completed run in '{root}'",
                                  hint=f"train it first ('zoo run {reference}'), or add --train-missing") from None
            registry.resolve_recipe(reference, overrides)  # a mistake in --set shows before any training
            plan.append((reference, None))
    runs: list[Run] = []
    for reference, run in plan:
        if run is None:
            run = _train(reference, root, registry, overrides, progress)
            if announce is not None:
                announce(reference, run)
        if all(run.dir.resolve() != other.dir.resolve() for other in runs):
            runs.append(run)
    return runs


def _has_no_completed_run(recipe: str, root: Path) -> bool:
    return not any(run.manifest().get("recipe") == recipe and run.status() == "completed" for run in list_runs(root))


def _train(recipe: str, root: Path, registry: Registry, overrides: list[str] | None, progress: str | None) -> Run:
    """Train ``recipe`` into ``root``; a run whose training failed is a RunError from the training API."""
    from zoo_core import training

    outcome: Any = training.train(registry.resolve_recipe(recipe, overrides), root, progress)
    return outcome.run


def _completed_hint(root: Path) -> str:
    recipes = sorted({str(run.manifest().get("recipe")) for run in list_runs(root) if run.status() == "completed"})
    if recipes:
        return f"recipes with completed runs in '{root}': {', '.join(recipes)}"
    return f"no completed runs in '{root}' yet: train one (zoo run mnist-mlp), or add --train-missing"


def compare_targets(references: list[str], root: Path, registry: Registry) -> list[Run]:
    """The runs to compare (any status: an interrupted run has curves too); at least two different ones."""
    runs: list[Run] = []
    for reference in references:
        run = find_target(reference, root, registry, finished=False)
        if any(run.dir.resolve() == other.dir.resolve() for other in runs):
            raise ConfigError(f"'{reference}' is run '{run.id}' again: compare needs different runs",
                              hint="'zoo runs' lists the runs")
        runs.append(run)
    if len(runs) < 2:
        raise ConfigError(f"compare needs two runs or more, got {len(runs)}",
                          hint="zoo compare RUN RUN [RUN...]; 'zoo runs' lists the runs")
    return runs


def model_labels(models: list[tuple[str, str]]) -> list[str]:
    """A short name per ``(run id, recipe)``: the recipe, or ``recipe@suffix`` when two runs share a recipe.

    The suffix is the run id's last part (its random suffix), or the whole id
    when that is not unique either.
    """
    runs_of: dict[str, set[str]] = {}
    for run_id, recipe in models:
        runs_of.setdefault(recipe, set()).add(run_id)
    labels = []
    for run_id, recipe in models:
        if len(runs_of[recipe]) == 1:
            labels.append(recipe)
            continue
        suffixes = {other.rsplit("-", 1)[-1] for other in runs_of[recipe]}
        labels.append(f"{recipe}@{run_id.rsplit('-', 1)[-1]}" if len(suffixes) == len(runs_of[recipe]) else run_id)
    return labels
