"""Keras callbacks zoo adds to every run: history, checkpoints, weights, NaN guard, clean stops.

The files they write have their formats in zoo_core.runs (history, checkpoint);
the progress display is in zoo_core.training.progress.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from zoo_core.runs.checkpoint import commit_checkpoint, read_variables_npz, write_variables_npz
from zoo_core.runs.history import HISTORY_COLUMNS, write_history

class EpochTimer(keras.callbacks.Callback):
    """Each epoch's wall time into ``logs["seconds"]``: from the previous epoch's end to this one's.

    So an epoch's time holds everything the training loop does once per
    epoch: the steps, validation, and the callbacks at the previous epoch's
    end (checkpoint, history.csv, manifest, progress line). The first epoch
    counts from the start of training (its time includes tracing). Put it
    first among the callbacks, so that the later ones read the figure.
    """

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._mark = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        if logs is not None:
            logs["seconds"] = now - self._mark
        self._mark = now


class HistoryWriter(keras.callbacks.Callback):
    """Collects one row per epoch; :meth:`write` rewrites ``history.csv`` atomically.

    The runner writes the file right after the epoch's checkpoint is
    committed (see :class:`Checkpointer`), so history.csv never lists an
    epoch that a resume would have to repeat.
    """

    def __init__(self, path: Path, rows: list[dict[str, float]] | None = None) -> None:
        super().__init__()
        self.path = path
        self.rows = list(rows or [])

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        row = {"epoch": epoch + 1}
        for column in HISTORY_COLUMNS[1:]:
            if column in logs:
                row[column] = float(logs[column])
        self.rows.append(row)

    def write(self) -> None:
        write_history(self.path, self.rows)


class Checkpointer(keras.callbacks.Callback):
    """At each epoch end: commit a checkpoint, then rewrite history.csv, then tell the runner.

    See :func:`save_checkpoint` for what a checkpoint holds and why a kill at
    any moment leaves a consistent one.
    """

    def __init__(self, directory: Path, history: HistoryWriter, weights: "WeightSnapshots",
                 on_commit: Callable[[int], None] = lambda epochs_done: None,
                 extra: Callable[[int, bool], dict[str, Any]] = lambda epochs_done, stopping: {}) -> None:
        super().__init__()
        self.directory = directory
        self.history = history
        self.weights = weights
        self.on_commit = on_commit
        self.extra = extra  #: (epochs done, a callback asked to stop) -> more state (the callbacks' states)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        extra = self.extra(epoch + 1, bool(getattr(self.model, "stop_training", False)))
        save_checkpoint(self.directory, self.model, epoch + 1, self.history.rows, self.weights.snapshots, extra)
        self.history.write()
        self.on_commit(epoch + 1)


def save_checkpoint(directory: Path, model: Any, epochs_done: int, rows: list[dict],
                    snapshots: list[dict[str, np.ndarray]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Commit a checkpoint of ``epochs_done`` completed epochs (format: zoo_core.runs.checkpoint); return its state."""
    optimizer = getattr(model, "optimizer", None)
    return commit_checkpoint(directory, epochs_done, lambda path: save_variables(model, path), rows, snapshots,
                             int(optimizer.iterations.numpy()) if optimizer is not None else None,
                             seed_generator_states(model), extra)


def save_variables(model: Any, path: Path) -> None:
    """The values of the model's weights and its optimizer's variables, as an .npz file at ``path``.

    What a checkpoint needs to resume: the architecture is rebuilt from
    config.toml. Several times cheaper than ``model.save`` (which walks and
    re-serialises the model and the optimizer every epoch).
    """
    groups = {"model": _values(model.weights)}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        groups["optimizer"] = _values(optimizer.variables)
    write_variables_npz(path, groups)


def load_variables(model: Any, path: Path) -> None:
    """Put the values written by :func:`save_variables` back; a ValueError saying what does not fit."""
    groups = read_variables_npz(path)
    optimizer = getattr(model, "optimizer", None)
    targets = {"model": list(model.weights), "optimizer": list(optimizer.variables) if optimizer is not None else []}
    for group, variables in targets.items():
        saved = groups.get(group, [])
        if len(saved) != len(variables):
            raise ValueError(f"{len(saved)} {group} variables saved, the model has {len(variables)}")
        for variable, (name, value) in zip(variables, saved):
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"{group} variable {name} has shape {tuple(value.shape)} in the checkpoint, "
                                 f"{tuple(variable.shape)} in the model")
    for group, variables in targets.items():
        for variable, (_, value) in zip(variables, groups.get(group, [])):
            variable.assign(value)


def _values(variables: list[Any]) -> list[tuple[str, np.ndarray]]:
    return [(str(getattr(v, "path", v.name)), np.asarray(keras.ops.convert_to_numpy(v))) for v in variables]


def seed_generator_states(model: Any) -> list[dict[str, Any]]:
    """The state of every random seed generator of the model's layers (dropout, noise...), in order."""
    states = []
    for index, variable in enumerate(_seed_variables(model)):
        value = np.asarray(keras.ops.convert_to_numpy(variable))
        states.append({"index": index, "path": str(getattr(variable, "path", "")),
                       "dtype": value.dtype.name, "value": value.tolist()})
    return states


def restore_seed_generators(model: Any, states: list[dict[str, Any]]) -> bool:
    """Put back the seed-generator states from :func:`seed_generator_states`; False if they do not fit."""
    variables = _seed_variables(model)
    if len(variables) != len(states):
        return False
    values = [np.asarray(state["value"], dtype=state.get("dtype", "uint32")) for state in states]
    if any(tuple(v.shape) != tuple(var.shape) for v, var in zip(values, variables)):
        return False
    for variable, value in zip(variables, values):
        variable.assign(value.astype(np.dtype(variable.dtype)))
    return True


def _seed_variables(model: Any) -> list[Any]:
    """State variables of the SeedGenerators that the model's layers own (Keras tracks them per layer)."""
    layers = model._flatten_layers(include_self=True) if hasattr(model, "_flatten_layers") else [model]
    found, seen = [], set()
    for layer in layers:
        for generator in getattr(layer, "_seed_generators", []) or []:
            state = getattr(generator, "state", None)
            if state is not None and id(state) not in seen:
                seen.add(id(state))
                found.append(state)
    return found


class StopAtSafePoint(keras.callbacks.Callback):
    """Turns a pending stop request (Ctrl-C, SIGTERM) into KeyboardInterrupt at a safe point.

    ``pending()`` returns the exception to raise, or None. Mid-epoch it raises
    after the current call into TensorFlow returns (the partial epoch is
    lost); when the request arrives in an epoch's last steps it waits for the
    epoch end, after :class:`Checkpointer` has committed that epoch. Put it
    after Checkpointer in the callback list.
    """

    def __init__(self, pending: Callable[[], BaseException | None], steps: int) -> None:
        super().__init__()
        self.pending = pending
        self.steps = steps

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if batch + 1 < self.steps:
            self._check()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._check()

    def _check(self) -> None:
        error = self.pending()
        if error is not None:
            raise error


class WeightSnapshots(keras.callbacks.Callback):
    """Keeps a sample of each layer's kernel before training and after each epoch."""

    def __init__(self, max_values: int = 20_000) -> None:
        super().__init__()
        self.max_values = max_values
        self.snapshots: list[dict[str, np.ndarray]] = []

    def snapshot(self) -> None:
        """Record the current kernels (call once before training)."""
        layers: dict[str, np.ndarray] = {}
        for layer in self.model.layers:
            kernel = getattr(layer, "kernel", None)
            if kernel is None:
                continue
            values = np.asarray(keras.ops.convert_to_numpy(kernel)).ravel()
            if values.size > self.max_values:
                values = values[:: math.ceil(values.size / self.max_values)]
            layers[layer.name] = values
        self.snapshots.append(layers)

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not self.snapshots:
            self.snapshot()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.snapshot()


class NonFiniteLoss(Exception):
    """Raised by NaNGuard; the runner turns it into a clear failed run."""

    def __init__(self, epoch: int, batch: int | None, value: float) -> None:
        super().__init__(f"loss became {value} in epoch {epoch + 1}" + (f" (batch {batch + 1})" if batch is not None else ""))
        self.epoch = epoch


class NaNGuard(keras.callbacks.Callback):
    """Stops training at once when the loss is NaN or infinite."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._check(logs, batch)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._check(logs, None, epoch)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def _check(self, logs: dict | None, batch: int | None, epoch: int | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLoss(epoch if epoch is not None else getattr(self, "_epoch", 0), batch, float(loss))
