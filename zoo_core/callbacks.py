"""Keras callbacks zoo adds to every run: progress, history, checkpoints, weights, NaN guard, clean stops."""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from zoo_core.files import write_json_atomic, write_text_atomic

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]


class EpochTimer(keras.callbacks.Callback):
    """Measures each epoch's wall time into ``logs["seconds"]`` (before later callbacks read it)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self._start


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
        write_text_atomic(self.path, history_csv(self.rows))


def history_csv(rows: list[dict[str, float]]) -> str:
    """The history rows as CSV text, with the columns that have values."""
    columns = [c for c in HISTORY_COLUMNS if any(c in row for row in rows)] or HISTORY_COLUMNS
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_history(path: Path) -> list[dict[str, float]]:
    """Read ``history.csv`` back into rows of numbers."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
                for row in csv.DictReader(handle)]


# --- checkpoints --------------------------------------------------------------------------

#: Version of checkpoint/state.json.
CHECKPOINT_FORMAT = 2
STATE_FILE = "state.json"


class Checkpointer(keras.callbacks.Callback):
    """At each epoch end: commit a checkpoint, then rewrite history.csv, then tell the runner.

    See :func:`save_checkpoint` for what a checkpoint holds and why a kill at
    any moment leaves a consistent one.
    """

    def __init__(self, directory: Path, history: HistoryWriter, weights: "WeightSnapshots",
                 on_commit: Callable[[int], None] = lambda epochs_done: None) -> None:
        super().__init__()
        self.directory = directory
        self.history = history
        self.weights = weights
        self.on_commit = on_commit

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        save_checkpoint(self.directory, self.model, epoch + 1, self.history.rows, self.weights.snapshots)
        self.history.write()
        self.on_commit(epoch + 1)


def save_checkpoint(directory: Path, model: Any, epochs_done: int, rows: list[dict],
                    snapshots: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Write a checkpoint of ``epochs_done`` completed epochs; return its state.

    A checkpoint is ``model-NNNN.keras`` (weights and optimizer state),
    ``weights-NNNN.npz`` (the weight snapshots the plots need) and
    ``state.json``, which names those two files and holds the epoch count,
    the history rows, the dropout/random seed-generator states (Keras does
    not save them in .keras files) and the optimizer's step count. Each file
    is written to a temporary name and renamed; ``state.json`` is written
    last and is the commit point: until it is renamed into place the
    previous checkpoint stays valid, so a process killed at any moment leaves
    a consistent checkpoint. Older files are removed after the commit.
    """
    from zoo_core.files import atomic_path

    directory.mkdir(parents=True, exist_ok=True)
    model_name, weights_name = f"model-{epochs_done:04d}.keras", f"weights-{epochs_done:04d}.npz"
    with atomic_path(directory / model_name) as temporary:
        model.save(temporary)
    write_weights_npz(directory / weights_name, snapshots)
    optimizer = getattr(model, "optimizer", None)
    state = {
        "format": CHECKPOINT_FORMAT,
        "epochs_done": epochs_done,
        "model": model_name,
        "weights": weights_name,
        "optimizer_iterations": int(optimizer.iterations.numpy()) if optimizer is not None else None,
        "rng": {"seed_generators": seed_generator_states(model)},
        "history": rows,
    }
    write_json_atomic(directory / STATE_FILE, state)
    for old in [*directory.glob("model-*.keras"), *directory.glob("weights-*.npz"), directory / "model.keras",
                directory / "weights.npz"]:
        if old.name not in (model_name, weights_name):
            old.unlink(missing_ok=True)
    return state


def read_checkpoint(directory: Path) -> dict[str, Any] | None:
    """The committed checkpoint state in ``directory`` (None if there is none), checked for consistency.

    Raises ValueError naming what is wrong if the state is unreadable or the
    files it names are missing.
    """
    import json

    path = directory / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path} is unreadable ({error})") from None
    if not isinstance(state, dict) or not isinstance(state.get("epochs_done"), int) or state["epochs_done"] < 0:
        raise ValueError(f"{path} has no valid 'epochs_done'")
    rows = state.get("history")
    if not isinstance(rows, list) or len(rows) != state["epochs_done"] or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: its history does not have one row per completed epoch")
    state.setdefault("model", "model.keras")  # format 1
    if not (directory / str(state["model"])).is_file():
        raise ValueError(f"{path} names the model file '{state['model']}', which is missing")
    return state


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


def progress_mode(mode: str, stream: Any = None) -> str:
    """Resolve 'auto' to 'bar' on a terminal and 'lines' otherwise."""
    if mode != "auto":
        return mode
    stream = stream or sys.stderr
    return "bar" if getattr(stream, "isatty", lambda: False)() else "lines"


class Progress(keras.callbacks.Callback):
    """Shows training progress: a live rich bar on a terminal, else one line per epoch."""

    def __init__(self, mode: str, epochs: int, steps: int, stream: Any = None) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.mode = progress_mode(mode, self.stream)
        self.epochs = epochs
        self.steps = steps
        self._bar: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self._bar = RichProgress(
                TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"), BarColumn(),
                MofNCompleteColumn(), TextColumn("{task.fields[metrics]}"),
                TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=False)
            self._bar.start()
            self._task = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._bar is not None:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._task = self._bar.add_task("train", total=self.steps, epoch=epoch + 1,
                                            epochs=self.epochs, metrics="")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=batch + 1, metrics=_format(logs, ("loss", "accuracy")))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        text = _format(logs, ("loss", "accuracy", "val_loss", "val_accuracy"))
        seconds = (logs or {}).get("seconds")
        line = f"epoch {epoch + 1}/{self.epochs}  {text}" + (f"  {seconds:.2f}s" if seconds is not None else "")
        if self._bar is not None:
            self._bar.update(self._task, completed=self.steps, metrics=text)
            self._bar.console.print(line, highlight=False)
        elif self.mode == "lines":
            print(line, file=self.stream, flush=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the live bar (also when training ends with an exception: restores the terminal)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _format(logs: dict | None, keys: tuple[str, ...]) -> str:
    logs = logs or {}
    return "  ".join(f"{key} {float(logs[key]):.4f}" for key in keys if key in logs)


def write_weights_npz(path: Path, snapshots: list[dict[str, np.ndarray]]) -> None:
    """Keep the weight snapshots with the run, so plots can be redrawn on resume (written atomically)."""
    from zoo_core.files import atomic_path

    arrays = {f"{index}/{name}": values for index, layers in enumerate(snapshots) for name, values in layers.items()}
    with atomic_path(path) as temporary:
        with open(temporary, "xb") as handle:
            np.savez_compressed(handle, **arrays)


def read_weights_npz(path: Path) -> list[dict[str, np.ndarray]]:
    """Inverse of write_weights_npz."""
    snapshots: dict[int, dict[str, np.ndarray]] = {}
    with np.load(path) as data:
        for key in data.files:
            index, _, name = key.partition("/")
            snapshots.setdefault(int(index), {})[name] = data[key]
    return [snapshots[i] for i in sorted(snapshots)]

