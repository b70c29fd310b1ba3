"""history.csv: one row per completed epoch (epoch, loss, accuracy, val_loss, val_accuracy, learning_rate, seconds).

``learning_rate`` is there when a callback reports it (a schedule, reduce-lr-on-plateau).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from zoo_core.files import write_text_atomic

#: The figures an epoch logs, history.csv's columns after ``epoch``, and which way each is better: ``min`` (a
#: loss), ``max`` (an accuracy), or None for a figure that does not measure the model (the learning rate a
#: schedule reports, the epoch's wall time). The one list: callbacks that watch a metric check their ``monitor``
#: and ``mode`` against it (zoo_plugins.callbacks). ``val_*`` need a validation split.
EPOCH_METRICS: dict[str, str | None] = {"loss": "min", "accuracy": "max", "val_loss": "min", "val_accuracy": "max",
                                        "learning_rate": None, "seconds": None}
HISTORY_COLUMNS = ["epoch", *EPOCH_METRICS]


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


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    """Rewrite ``history.csv`` atomically from the rows."""
    write_text_atomic(path, history_csv(rows))
