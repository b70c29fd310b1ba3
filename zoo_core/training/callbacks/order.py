"""The order of a run's callbacks, zoo's own and the run's callback components, as one table.

Keras calls a run's callbacks in list order at every hook (batch end, epoch
end...), so where each one stands is part of what it can rely on: the
figures it reads are already in the logs, the checkpoint is or is not yet
committed. :data:`ORDER` is that order, docs/plugins.md shows the same table
(tests/test_docs.py checks they agree), and :func:`run_callbacks` builds a
run's list from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zoo_core.training.callbacks.checkpointer import Checkpointer
from zoo_core.training.callbacks.components import Built, build_components
from zoo_core.training.callbacks.epoch_timer import EpochTimer
from zoo_core.training.callbacks.history_writer import HistoryWriter
from zoo_core.training.callbacks.nan_guard import NaNGuard
from zoo_core.training.callbacks.progress import Progress
from zoo_core.training.callbacks.stop_at_safe_point import StopAtSafePoint
from zoo_core.training.callbacks.weight_snapshots import WeightSnapshots
from zoo_core.training.session import RunSession

#: Each slot of a run's callback list, in order, with what stands there.
ORDER: tuple[tuple[str, str], ...] = (
    ("validation", "Validation: the epoch's val_* figures in one call (zoo's in-graph loop); the others read them"),
    ("epoch-timer", "EpochTimer: the epoch's wall time, logs['seconds']"),
    ("nan-guard", "NaNGuard: stops at once when the loss is NaN or infinite"),
    ("components", "the run's callback components, in the run's order, but those after the checkpoint"),
    ("history", "HistoryWriter: the epoch's row"),
    ("weights", "WeightSnapshots: a sample of each kernel, for the weight plots"),
    ("checkpointer", "Checkpointer: commits the checkpoint, then writes history.csv and the manifest; from here to "
                     "the next epoch, Ctrl-C or SIGTERM stops at once"),
    ("components-after-checkpoint", "the callback components with zoo_after_checkpoint = True (trackers)"),
    ("progress", "Progress: the live bar, or the epoch's line"),
    ("extra", "the Python API's extra_callbacks (zoo sweep's pruning)"),
    ("stop-at-safe-point", "StopAtSafePoint: Ctrl-C or SIGTERM stops training here, after the checkpoint"),
)


def in_order(slots: dict[str, list[Any]]) -> list[Any]:
    """The callbacks of each slot, in the order of :data:`ORDER` (a slot that is not in the table is a bug)."""
    unknown = set(slots) - {name for name, _ in ORDER}
    if unknown:
        raise ValueError(f"callback slots not in ORDER: {sorted(unknown)}")
    return [callback for name, _ in ORDER for callback in slots.get(name, [])]


@dataclass
class RunCallbacks:
    """The Keras callbacks of one run, in order, and the ones the runner reads afterwards."""

    all: list[Any]
    history: HistoryWriter
    weights: WeightSnapshots
    progress: Progress
    components: list[Built]


def run_callbacks(session: RunSession, validation: list[Any], mode: str, steps: int) -> RunCallbacks:
    """zoo's callbacks for the run around its callback components; commits the first checkpoint of a new run."""
    prepared = session.prepared
    history = HistoryWriter(session.run.dir / "history.csv", prepared.rows)
    weights = WeightSnapshots()
    weights.set_model(prepared.model)
    weights.snapshots = list(prepared.snapshots)
    if not weights.snapshots:  # a new run, or a resume whose snapshots were lost: each later one at its own epoch
        weights.snapshots = [{} for _ in range(prepared.first_epoch)]
        weights.snapshot()
    history.write()  # after a resume: drop any row of an epoch that was not committed
    components = build_components(session, steps)
    checkpointer = Checkpointer(session.run.dir / "checkpoint", history, weights, components, session.manifest,
                                session.epochs, committed=session.stops.committed)
    checkpointer.set_model(prepared.model)
    if prepared.checkpoint is None:  # a checkpoint exists from the first step on
        checkpointer.commit_start()
    progress = Progress(mode, session.epochs, steps, session.stream, examples=len(prepared.split.y_train))
    slots = {
        "validation": validation,
        "epoch-timer": [EpochTimer()],
        "nan-guard": [NaNGuard()],
        "components": [item.callback for item in components if not item.after_checkpoint],
        "history": [history],
        "weights": [weights],
        "checkpointer": [checkpointer],
        "components-after-checkpoint": [item.callback for item in components if item.after_checkpoint],
        "progress": [progress],
        "extra": list(session.extra_callbacks),
        "stop-at-safe-point": [StopAtSafePoint(session.stops, steps)],
    }
    return RunCallbacks(in_order(slots), history, weights, progress, components)
