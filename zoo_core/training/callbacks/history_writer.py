"""HistoryWriter: one row per epoch, written to history.csv once the epoch's checkpoint is committed."""

from __future__ import annotations

from pathlib import Path

import keras

from zoo_core.runs.history import HISTORY_COLUMNS, write_history


class HistoryWriter(keras.callbacks.Callback):
    """Collects one row per epoch; :meth:`write` rewrites ``history.csv`` atomically.

    The :class:`~zoo_core.training.callbacks.checkpointer.Checkpointer` writes
    the file right after the epoch's checkpoint is committed, so history.csv
    never lists an epoch that a resume would have to repeat.
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
        """Rewrite history.csv with the rows so far."""
        write_history(self.path, self.rows)
