"""Training progress: a live rich bar on a terminal, one line per epoch otherwise; each epoch's examples per second."""

from __future__ import annotations

import sys
from typing import Any

import keras


def progress_mode(mode: str, stream: Any = None) -> str:
    """Resolve 'auto' to 'bar' on a terminal and 'lines' otherwise."""
    if mode != "auto":
        return mode
    stream = stream or sys.stderr
    return "bar" if getattr(stream, "isatty", lambda: False)() else "lines"


class Progress(keras.callbacks.Callback):
    """Shows training progress: a live rich bar on a terminal, else one line per epoch."""

    def __init__(self, mode: str, epochs: int, steps: int, stream: Any = None, examples: int = 0) -> None:
        super().__init__()
        self.examples = examples  #: training examples per epoch (0: unknown, no rate shown)
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
        if seconds and self.examples:
            line += f"  {self.examples / seconds:,.0f} examples/s"
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
