"""What ``zoo resume RUN --set ...`` may change, and the record a resumed run keeps of what changed.

A resumed run continues the epochs already done, so ``--set`` may change
only what leaves those epochs as they were: how the run is spread over
processes (``strategy``, ``join_timeout``), how it shows progress and uses
threads, how many epochs it trains in all (not fewer than are done) and
what it exports. Everything else (the model, the data, the optimizer, the
batch size, the seed...) would make the run something it was not; that
takes a new run (``zoo run --config RUN/config.toml --set ...``).

Every worker of a multi-worker run resumes with the overrides applied to its
config, so the config digest the workers agree on (zoo_core.training.
distribute) covers them: all must be given the same ``--set`` options.
A resume with overrides rewrites config.toml, so a later resume, or
``zoo run --config``, continues with what the run became.
"""

from __future__ import annotations

import shlex
from typing import Any

from zoo_core._util.text import did_you_mean
from zoo_core.errors import ConfigError
from zoo_core.files import write_text_atomic
from zoo_core.registry import SETTINGS, Registry, RunConfig, parse_override
from zoo_core.registry.overrides import SWAP_KEYS, is_known_key, unknown_key
from zoo_core.runs import Run, utc_now
from zoo_core.training import distribute
from zoo_core.training.distribute import Cluster
from zoo_core.training.parameter_checks import check_exporters
from zoo_core.training.prepare import run_config
from zoo_core.training.session import Prepared
from zoo_core.training.strategy import Strategy

#: The settings ``zoo resume --set`` may change (``epochs`` not below the epochs done); plus ``exporters``.
RESUMABLE_SETTINGS = ("strategy", "progress", "threads", "join_timeout", "epochs")
#: How messages list the keys a resume may change.
RESUMABLE_TEXT = ("strategy, progress, threads, join_timeout, epochs (not below the epochs done), "
                  "exporters and exporters.NAME.PARAMETER")


def is_resumable(key: str) -> bool:
    """Whether ``--set KEY=...`` may change a run that is resumed."""
    return key in RESUMABLE_SETTINGS or key == "exporters" or key.startswith("exporters.")


def resume_overrides(run: Run, overrides: list[str] | None, flags: Cluster | None) -> list[str]:
    """The ``--set`` overrides a resume applies, checked before anything starts (a ConfigError, exit 2).

    ``--workers`` (``flags``) implies ``strategy=multi-worker`` for a run
    that trained on one process, as it does for ``zoo run``.
    """
    texts = list(overrides or [])
    keys = []
    for text in texts:
        key, value = parse_override(text)
        where = f"--set '{text}'"
        if not is_known_key(key.partition(".")[0]):  # names nothing a run has: a typo, not a key fixed on resume
            close = did_you_mean(key.partition(".")[0], [*SETTINGS, *SWAP_KEYS])
            raise ConfigError(unknown_key(key, where).message, key=key,
                              hint=f"{close + ' ' if close else ''}on resume, --set can change: {RESUMABLE_TEXT}")
        if not is_resumable(key):
            raise ConfigError(f"{where}: '{key}' cannot change when run '{run.id}' is resumed: the epochs done were "
                              "trained with it",
                              hint=f"on resume, --set can change: {RESUMABLE_TEXT}. To change '{key}', start a new "
                                   f"run from this one's config: zoo run --config {run.dir / 'config.toml'} --set {shlex.quote(text)}")
        if key in SETTINGS:
            SETTINGS[key].check(value, where)  # a bad value is reported before the cluster is looked at
        keys.append(key)
    if flags is not None and "strategy" not in keys \
            and run.config_table().get("strategy", "none") not in ("multi-worker", "auto"):
        texts.append("strategy=multi-worker")
    return texts


def strategy_setting(overrides: list[str]) -> str | None:
    """The strategy the overrides set (the last one wins), or None."""
    found = None
    for text in overrides:
        key, value = parse_override(text)
        if key == "strategy":
            found = str(value)
    return found


def resumed_config(run: Run, registry: Registry, overrides: list[str], done: int) -> RunConfig:
    """The run's config with the resume's overrides applied; ``epochs`` below ``done`` is a ConfigError."""
    config = run_config(run, registry, overrides)
    epochs_given = [text for text in overrides if parse_override(text)[0] == "epochs"]
    if epochs_given and config.settings["epochs"] < done:
        raise ConfigError(f"--set '{epochs_given[-1]}': run '{run.id}' has {done} epoch(s) done; on resume epochs may grow, "
                          "not shrink below what is done",
                          hint=f"use --set epochs={done} (finish it as it is) or more")
    return config


def check_new_exporters(config: RunConfig, prepared: Prepared, overrides: list[str]) -> None:
    """Check the exporters' parameters before training when the resume changed them (as zoo run does)."""
    if any(parse_override(text)[0].partition(".")[0] == "exporters" for text in overrides):
        check_exporters(config.exporters, prepared.dataset, config.recipe)


def record_resume(run: Run, data: dict[str, Any], config: RunConfig, overrides: list[str], strategy: Strategy,
                  done: int) -> str | None:
    """Record in the manifest ``data`` this resume: when, the cluster shape, the overrides, a change of shape.

    With overrides, config.toml is rewritten with the resumed config (an
    OSError if it cannot be). Returns the one line that states a change of
    cluster shape (None if the shape is the same), for the chief to print.
    """
    batch = int(config.settings["batch_size"])
    record = strategy.manifest_record() or distribute.one_process_record(batch)
    before = distribute.shape(data.get("distribution"), batch)
    after = distribute.shape(record, batch)
    change = distribute.shape_change(run.id, before, after, done + 1, batch)
    entry: dict[str, Any] = {"at": utc_now(), "epochs_done": done, "cluster": after}
    if overrides:
        entry["overrides"] = list(overrides)
        write_text_atomic(run.dir / "config.toml", config.to_toml())
        data["settings"] = config.settings
    data["resumed"] = [*data.get("resumed", []), entry]
    if data.get("distribution") is not None or strategy.tf_strategy is not None:
        data["distribution"] = record  # the shape it trains on now (the final weights' digests come after fit)
    if change is None:
        return None
    data["distribution_changes"] = [*data.get("distribution_changes", []), change]
    return change["note"]
