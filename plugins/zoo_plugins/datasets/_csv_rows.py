"""The rows of a CSV table as the csv dataset streams them: where each row is, its label, the training split's
statistics, and one row decoded by its byte offsets when zoo's input pipeline asks for it.

A first pass (:func:`scan`) checks every cell and keeps, per row, only its
byte offsets and a label code; a second (:func:`statistics`) folds the
training rows' mean and standard deviation in chunks. Memory grows with the
number of rows (24 bytes a row here; with the dataset's entry strings and
orders about 210, benchmarks/NOTES.md), never with their values.
"""

from __future__ import annotations

import io
import os
import threading
import weakref
from array import array
from dataclasses import dataclass
from typing import Any, Iterator

from zoo_core.errors import DataError
from zoo_plugins.datasets._csv_table import Record, Table, label, numbers, rows

#: Rows parsed into one numpy array at a time, by both passes.
CHUNK = 4096


@dataclass
class Rows:
    """The data rows of one table: byte offsets, a label code per row (an index into ``values``, the distinct
    label cells in order of appearance), and each feature's smallest and largest value."""

    starts: Any
    ends: Any
    codes: Any
    values: list[str]
    low: Any
    high: Any


def scan(table: Table, label_column: int, feature_columns: list[int], where: str) -> Rows:
    """Every data row of ``table`` checked (its width, its label, its features: the first problem in the file is
    named by line and column), nothing of its values kept but each feature's range."""
    import numpy as np

    starts, ends, codes, values = array("q"), array("q"), array("q"), {}
    bounds: list[Any] = []
    chunk: list[Record] = []

    def fold() -> None:
        if chunk:
            found = numbers(table, chunk, feature_columns, where)
            low, high = found.min(axis=0), found.max(axis=0)
            bounds[:] = [np.minimum(bounds[0], low), np.maximum(bounds[1], high)] if bounds else [low, high]
            chunk.clear()

    try:
        for record in rows(table, where):
            starts.append(record.start)
            ends.append(record.end)
            codes.append(values.setdefault(label(table, record, label_column, where), len(values)))
            chunk.append(record)
            if len(chunk) == CHUNK:
                fold()
    except DataError:
        fold()  # a bad cell on an earlier line of the chunk is named first
        raise
    fold()
    return Rows(np.frombuffer(starts, np.int64), np.frombuffer(ends, np.int64), np.frombuffer(codes, np.int64),
                list(values), *bounds)


def first_line(table: Table, label_column: int, value: str, where: str) -> int:
    """The line of the first row whose label is ``value`` (for a message: rows keep no line numbers)."""
    return next(record.line for record in rows(table, where) if label(table, record, label_column, where) == value)


def statistics(table: Table, feature_columns: list[int], chosen: Any, where: str) -> tuple[Any, Any]:
    """Per-feature mean and (population) standard deviation of the rows where ``chosen`` (a bool per data row) is
    true, folded chunk by chunk (Chan et al.'s pairwise update); one chunk gives numpy's ``mean`` and ``std``."""
    import numpy as np

    count, mean, squares = 0, np.zeros(len(feature_columns)), np.zeros(len(feature_columns))
    chunk: list[Record] = []

    def fold() -> None:
        nonlocal count, mean, squares
        if not chunk:
            return
        values = numbers(table, chunk, feature_columns, where)
        chunk.clear()
        part_mean = values.mean(axis=0)
        part_squares = ((values - part_mean) ** 2).sum(axis=0)
        total = count + len(values)
        delta = part_mean - mean
        mean = mean + delta * (len(values) / total)
        squares = squares + part_squares + delta ** 2 * (count * len(values) / total)
        count = total

    for index, record in enumerate(rows(table, where)):
        if chosen[index]:
            chunk.append(record)
            if len(chunk) == CHUNK:
                fold()
    fold()
    return mean, np.sqrt(squares / count)


class RowDecoder:
    """``decode(entry)`` of a streamed table (zoo_core.data.StreamingDataset): the features of one row, read
    from its file by the byte offsets its entry names (``"FILE:START:END"``, FILE an index into ``tables``).

    The row is parsed by Python (in ``tf.numpy_function``); a row that no
    longer parses (the file changed during the run) is a DataError naming
    the file.
    """

    def __init__(self, tables: list[tuple[Table, list[int]]], where: str) -> None:
        self.tables, self.where = tables, where
        self._files: dict[int, int] = {}
        self._lock = threading.Lock()
        weakref.finalize(self, _close, self._files)

    @staticmethod
    def entries(file: int, found: Rows) -> Any:
        """The entries of a table's rows, for ``StreamingDataset.train_files`` / ``test_files``."""
        import numpy as np

        return np.asarray([f"{file}:{start}:{end}" for start, end in zip(found.starts.tolist(), found.ends.tolist())],
                          dtype=str)

    def read(self, entry: str) -> bytes:
        """The bytes of the row ``entry`` names, as they are in its file (``StreamingDataset.read``)."""
        file, start, end = (int(part) for part in str(entry).split(":"))
        return os.pread(self._descriptor(file), end - start, start)

    def values(self, entries: Any) -> Any:
        """The features of the rows ``entries`` names (a 1-D array), as float32 (raw, before standardisation)."""
        import numpy as np

        found = np.empty((len(entries), len(self.tables[0][1])), np.float32)
        for number, entry in enumerate(entries):
            entry = entry.decode() if isinstance(entry, bytes) else str(entry)  # bytes in a pipeline
            table, columns = self.tables[int(entry.split(":")[0])]
            cells = next(_cells(self.read(entry).decode("utf-8", errors="replace"), table.delimiter), [])
            try:
                found[number] = [float(cells[index]) for index in columns]
            except (IndexError, ValueError):
                raise DataError(f"{self.where}: '{table.path}' changed while zoo read it: bytes "
                                f"{entry.split(':', 1)[1]} no longer hold a row of {len(table.names)} values",
                                hint="leave the table as it is while a run reads it, and start the run again") from None
        return found

    def __call__(self, entry: Any) -> Any:
        """One row's features (``StreamingDataset.decode``)."""
        import tensorflow as tf

        return self.decode_batch(tf.reshape(entry, [1]))[0]

    def decode_batch(self, entries: Any) -> Any:
        """The features of a batch of rows, one ``tf.numpy_function`` call (``StreamingDataset.decode_batch``)."""
        import tensorflow as tf

        width = len(self.tables[0][1])
        return tf.ensure_shape(tf.numpy_function(self.values, [entries], tf.float32, stateful=False), (None, width))

    def _descriptor(self, file: int) -> int:
        with self._lock:
            if file not in self._files:
                self._files[file] = os.open(self.tables[file][0].path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            return self._files[file]


def _cells(text: str, delimiter: str) -> Iterator[list[str]]:
    """The cells of one record's text: split on the delimiter, or by the csv module when a value is quoted."""
    import csv

    if '"' not in text:
        yield text.rstrip("\r\n").split(delimiter)
    else:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _close(files: dict[int, int]) -> None:
    for descriptor in files.values():
        os.close(descriptor)
