"""Keras callbacks zoo adds to every run: progress, history, checkpoints, weights, NaN guard."""

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
    """Rewrites ``history.csv`` after every epoch (atomically) and keeps the rows."""

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


class Checkpointer(keras.callbacks.Callback):
    """Saves model + optimizer state and progress at each epoch end, atomically.

    ``checkpoint/model.keras`` holds the model with its optimizer state and
    ``checkpoint/state.json`` the number of completed epochs and the history;
    the state file is written last, so it never points at a missing model.
    """

    def __init__(self, directory: Path, history: HistoryWriter, extra_state: Callable[[], dict]) -> None:
        super().__init__()
        self.directory = directory
        self.history = history
        self.extra_state = extra_state

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        save_checkpoint(self.directory, self.model, epoch + 1, self.history.rows, self.extra_state())


def save_checkpoint(directory: Path, model: Any, epochs_done: int, rows: list[dict], extra: dict) -> None:
    """Write the checkpoint: model first, then the state that refers to it."""
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".model.tmp-{epochs_done}.keras"
    model.save(temporary)
    temporary.replace(directory / "model.keras")
    write_json_atomic(directory / "state.json", {"epochs_done": epochs_done, "history": rows, **extra})


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
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _format(logs: dict | None, keys: tuple[str, ...]) -> str:
    logs = logs or {}
    return "  ".join(f"{key} {float(logs[key]):.4f}" for key in keys if key in logs)


def write_weights_npz(path: Path, snapshots: list[dict[str, np.ndarray]]) -> None:
    """Keep the weight snapshots with the run, so plots can be redrawn on resume."""
    arrays = {f"{index}/{name}": values for index, layers in enumerate(snapshots) for name, values in layers.items()}
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(temporary, **arrays)
    temporary.replace(path)


def read_weights_npz(path: Path) -> list[dict[str, np.ndarray]]:
    """Inverse of write_weights_npz."""
    snapshots: dict[int, dict[str, np.ndarray]] = {}
    with np.load(path) as data:
        for key in data.files:
            index, _, name = key.partition("/")
            snapshots.setdefault(int(index), {})[name] = data[key]
    return [snapshots[i] for i in sorted(snapshots)]

