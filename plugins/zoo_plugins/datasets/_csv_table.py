"""Reading a CSV table for the csv dataset: delimiter and header detection, the records with their byte offsets,
the label and feature columns, numbers checked cell by cell (file, line, column in every message).

Python's csv module parses, over the open file: nothing here holds a table's
rows. Importing this module imports neither numpy nor anything heavy.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import itertools
import math
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from zoo_core.errors import DataError
from zoo_plugins.datasets._common import kind, open_regular, path_mode, shown, some

#: Delimiters the sniffer chooses from.
DELIMITERS = ",;\t|"
#: Cells read as a missing value (in any case), besides an empty one.
MISSING = ("na", "n/a", "nan", "null", "none", "?", "-")
#: Characters at the start of a file from which its delimiter is sniffed.
SNIFF_CHARACTERS = 64 * 1024
#: The largest magnitude a feature may have: the model reads float32.
FLOAT32_MAX = 3.4028234663852886e38


@dataclass
class Table:
    """A CSV file's layout: its column names and delimiter, and whether its first record is the header.

    The rows are not held: :func:`records` reads them (with their lines and
    byte offsets) whenever they are needed.
    """

    path: Path
    names: list[str]
    delimiter: str
    header: bool


@dataclass
class Record:
    """One non-blank record of a CSV file: the physical line it starts on, its bytes ``[start, end)``, its cells."""

    line: int
    start: int
    end: int
    cells: list[str]


def open_table(path: Path, header: str | bool, delimiter: str, where: str, parameter: str) -> Table:
    """The layout of ``path`` from its first records; ``header`` "auto" (see :func:`has_header`), true or false;
    ``delimiter`` "auto" or one character."""
    _check_file(path, where, parameter)
    if delimiter == "auto":
        delimiter = sniff_delimiter(_sample(path, where))
    first = list(itertools.islice(records(path, delimiter, where), 2))
    if not first:
        raise DataError(f"{where}: '{path}' holds no rows", hint="one example per line, values separated by commas")
    lines = [(record.line, record.cells) for record in first]
    if header == "auto":
        header = has_header(lines)
    names = lines[0][1] if header else [f"column_{index}" for index in range(len(lines[0][1]))]
    if header and len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise DataError(f"{where}: '{path}' line {lines[0][0]} (the header) names column '{duplicate}' twice",
                        hint="give every column a distinct name")
    if header and len(first) < 2:
        raise DataError(f"{where}: '{path}' has a header but no rows of data")
    return Table(path, names, delimiter, bool(header))


def rows(table: Table, where: str) -> Iterator[Record]:
    """The data records of ``table`` (the header left out), each checked to have one value per column."""
    width = len(table.names)
    found = records(table.path, table.delimiter, where)
    for record in itertools.islice(found, 1 if table.header else 0, None):
        if len(record.cells) != width:
            raise DataError(f"{where}: '{table.path}' line {record.line} has {len(record.cells)} value(s); the "
                            f"{'header' if table.header else 'first line'} has {width}",
                            hint=f"every line needs {width} values separated by {_name(table.delimiter)}"
                                 + _quote_hint(record.cells))
        yield record


def _check_file(path: Path, where: str, parameter: str) -> None:
    """DataError unless ``path`` is a regular file (a link to one is fine): never open a FIFO or a device."""
    mode = path_mode(path, where)
    if mode is None or not stat.S_ISREG(mode):
        folder = mode is not None and stat.S_ISDIR(mode)
        what = "does not exist" if mode is None else f"is {kind(mode)}, not a CSV file"
        extra = '; for a folder of images use dataset = "image-folder"' if folder else ""
        raise DataError(f"{where}: '{path}' {what}",
                        hint=f"set {parameter} to a CSV file (relative paths are read from the working "
                             f"directory){extra}")


def _open(path: Path, where: str) -> Any:
    """``path`` as text (UTF-8, a byte-order mark skipped) with newlines untouched, as the csv module wants."""
    try:
        return io.TextIOWrapper(open_regular(path), encoding="utf-8-sig", newline="")
    except OSError as error:
        raise DataError(f"{where}: cannot read '{path}' ({error.strerror or error})",
                        hint="check that the file exists, is a regular file and that you may read it") from None


def _sample(path: Path, where: str) -> str:
    """The start of the file, for sniffing its delimiter."""
    with _open(path, where) as handle:
        try:
            return handle.read(SNIFF_CHARACTERS)
        except UnicodeDecodeError as error:
            raise _not_utf8(path, error, where) from None


def records(path: Path, delimiter: str, where: str) -> Iterator[Record]:
    """The non-blank records of the file, each with the physical line it starts on (a quoted value may span
    lines) and its byte offsets, parsed by Python's csv module over the open file; DataError naming the line of
    what it refuses."""
    with _open(path, where) as handle:
        lines = _CountedLines(handle)
        reader = csv.reader(lines, delimiter=delimiter)
        line, start, last, first = 1, lines.position, 0, []
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    last, first = line, first or cells
                    yield Record(line, start, lines.position, [cell.strip() for cell in cells])
                line, start = reader.line_num + 1, lines.position
        except UnicodeDecodeError as error:
            raise _not_utf8(path, error, where) from None
        except csv.Error as error:
            raise _refuse_record(path, line, reader.line_num, delimiter, first, str(error), where) from None
    if last and last < reader.line_num and _unclosed_quote(path, last, delimiter):
        raise DataError(f"{where}: '{path}' line {last}: a quote mark (\") opens a value that is never "
                        f"closed: it runs to the end of the file (line {reader.line_num})",
                        hint="close the quote or remove it; a value in quotes may hold the delimiter and line "
                             "breaks, and a quote inside one is written twice (\"\")")


class _CountedLines:
    """The lines of a text file (as the csv module reads them) and the byte offset reached: ``position``."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.position = len(codecs.BOM_UTF8) if handle.buffer.peek(3)[:3] == codecs.BOM_UTF8 else 0

    def __iter__(self) -> "_CountedLines":
        return self

    def __next__(self) -> str:
        line = self.handle.readline()
        if not line:
            raise StopIteration
        self.position += len(line.encode("utf-8"))
        return line


def _unclosed_quote(path: Path, start: int, delimiter: str) -> bool:
    """Whether the record that starts on physical line ``start`` ends the file inside a quoted value."""
    with _open(path, "dataset csv") as handle:
        for _ in range(start - 1):
            handle.readline()
        try:
            for _ in csv.reader(handle, delimiter=delimiter, strict=True):
                pass
        except csv.Error as error:
            return "unexpected end of data" in str(error)
    return False


def _not_utf8(path: Path, error: UnicodeDecodeError, where: str) -> DataError:
    """The DataError for a file that is not UTF-8, naming the first line that is not."""
    with open_regular(path) as handle:
        line = next((number for number, raw in enumerate(handle, start=1) if not _decodes(raw)), None)
    return DataError(f"{where}: '{path}'{f' line {line}' if line else ''} is not UTF-8 text ({error.reason})",
                     hint="save the table as CSV in UTF-8")


def _decodes(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _refuse_record(path: Path, start: int, end: int, delimiter: str, first: list[str], why: str,
                   where: str) -> DataError:
    """The DataError for a record the csv module refuses (a value over its field limit, a NUL byte...); ``first``:
    the cells of the file's first record (the header, if it has one)."""
    limit = csv.field_size_limit()
    if "field larger than field limit" not in why:
        return DataError(f"{where}: '{path}' line {start} cannot be read as CSV ({why})",
                         hint="save the table as plain CSV text (UTF-8, no NUL bytes)")
    column = _long_column(path, start, delimiter, limit)
    named = "" if column is None else f", column {column + 1}" + (
        f" ('{first[column].strip()}')" if column < len(first) and not is_number(first[column]) else "")
    spans = f" (it runs on to line {end})" if end > start else ""
    return DataError(f"{where}: '{path}' line {start}{named}: a value longer than {limit:,} characters, "
                     f"the csv module's field limit{spans}",
                     hint='most often a quote mark (") opens a quoted value that is never closed, so the rest '
                          f"of the file reads as one value: check the quotes on line {start}; a label or a "
                          f"number never needs {limit:,} characters")


def _long_column(path: Path, start: int, delimiter: str, limit: int) -> int | None:
    """The (0-based) column of the first value longer than ``limit`` in the record that starts on physical line
    ``start``, found by counting delimiters outside quotes; None if it cannot tell."""
    with _open(path, "dataset csv") as handle:
        for _ in range(start - 1):
            handle.readline()
        column, length, quoted = 0, 0, False
        for chunk in iter(lambda: handle.read(64 * 1024), ""):
            for character in chunk:
                if character == '"':
                    quoted = not quoted
                elif character == delimiter and not quoted:
                    column, length = column + 1, 0
                    continue
                elif character in "\r\n" and not quoted:
                    return None
                length += 1
                if length > limit:
                    return column
    return None


def _quote_hint(cells: list[str]) -> str:
    """A hint's end for a record holding a quoted value over several lines (a quote that was never closed?)."""
    return ("; a value of this line spans several lines: a quote mark (\") opens a value that runs until the next "
            "one, so check the quotes" if any("\n" in cell or "\r" in cell for cell in cells) else "")


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV text (one of , ; tab |) by Python's csv.Sniffer; a comma if it cannot tell."""
    try:
        return csv.Sniffer().sniff(text[:SNIFF_CHARACTERS], delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def has_header(lines: list[tuple[int, list[str]]]) -> bool:
    """The rule of ``header = "auto"``: the first row is a header if a cell of it is not a number where the
    second row holds a number (column names above numbers)."""
    if len(lines) < 2:
        return not any(is_number(cell) for cell in lines[0][1])
    first, second = lines[0][1], lines[1][1]
    return any(not is_number(a) and is_number(b) for a, b in zip(first, second))


def is_number(cell: str) -> bool:
    """A cell holding a finite number."""
    try:
        return math.isfinite(float(cell))
    except ValueError:
        return False


def _name(delimiter: str) -> str:
    return {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars"}.get(delimiter, repr(delimiter))


def column_index(table: Table, label: str | int, where: str) -> int:
    """The index of the label column: a name in the header, or an index (0-based; negative from the end)."""
    names = table.names
    if isinstance(label, int):
        if not -len(names) <= label < len(names):
            raise DataError(f"{where}: label column index {label} is out of range: '{table.path}' has "
                            f"{len(names)} columns (0..{len(names) - 1}, or -1 for the last)")
        return label % len(names)
    if label not in names:
        close = difflib.get_close_matches(label, names, n=1)
        raise DataError(f"{where}: '{table.path}' has no column '{label}' (its columns: {some(names)})",
                        hint=f"did you mean '{close[0]}'?" if close else
                        "name a column of the header, or give its index (0 is the first, -1 the last)")
    return names.index(label)


def feature_columns(table: Table, label: int, features: list[str], where: str) -> list[int]:
    """The indices of the feature columns: ``features`` (names) in that order, or every column but the label."""
    if not features:
        return [index for index in range(len(table.names)) if index != label]
    unknown = [name for name in features if name not in table.names]
    if unknown:
        raise DataError(f"{where}: '{table.path}' has no column '{unknown[0]}' (its columns: "
                        f"{some(table.names)})", hint="features must name columns of the header")
    if table.names[label] in features:
        raise DataError(f"{where}: column '{table.names[label]}' is both the label and a feature",
                        hint="leave the label out of features")
    return [table.names.index(name) for name in features]


def numbers(table: Table, chunk: list[Record], columns: list[int], where: str) -> Any:
    """The cells of ``columns`` in the records of ``chunk`` as an ``(n, len(columns))`` float64 array; DataError
    naming the line and column of a missing value, a cell that is not a number, or one float32 cannot hold."""
    import numpy as np

    cells = [[record.cells[index] for index in columns] for record in chunk]
    try:
        values = np.asarray(cells, dtype=np.float64).reshape(len(cells), len(columns))
        if np.isfinite(values).all() and not (np.abs(values) > FLOAT32_MAX).any():
            return values
    except ValueError:
        pass
    for record in chunk:  # find the first bad cell, for the message
        for index in columns:
            if not is_number(record.cells[index]) or abs(float(record.cells[index])) > FLOAT32_MAX:
                _refuse_cell(table, record.line, index, record.cells[index], where)
    raise DataError(f"{where}: '{table.path}' holds values that are not finite numbers")  # not reached


def _refuse_cell(table: Table, line: int, index: int, cell: str, where: str) -> None:
    """DataError for a feature cell that is missing, not a finite number, or beyond float32."""
    at = f"{where}: '{table.path}' line {line}, column '{table.names[index]}'"
    if not cell or cell.lower() in MISSING:
        raise DataError(f"{at}: missing value{f' ({cell!r})' if cell else ''}",
                        hint="fill in every value (e.g. with the column's mean) or drop the row; zoo does not "
                             "guess missing values")
    if is_number(cell):
        raise DataError(f"{at}: {shown(cell)} is too large (beyond ±{FLOAT32_MAX:.3g}, the float32 range)",
                        hint="scale the column down (e.g. to other units) before training on it")
    raise DataError(f"{at}: {shown(cell)} is not a number",
                    hint="feature columns must hold numbers; leave a text column out with features = [...]")


def label(table: Table, record: Record, column: int, where: str) -> str:
    """The label cell of ``record``; DataError naming the line of an empty one."""
    cell = record.cells[column]
    if not cell or cell.lower() in MISSING:
        raise DataError(f"{where}: '{table.path}' line {record.line}, column '{table.names[column]}' (the label): "
                        "missing value", hint="every row needs a label; drop unlabelled rows")
    return cell


def class_values(values: list[str]) -> tuple[list[str], list[str]]:
    """``(class names, each value's class name)``: the distinct label values, sorted numerically if all are
    numbers (``2`` before ``10``; ``1`` and ``1.0`` are one class), else as text."""
    distinct = set(values)
    if not all(is_number(value) for value in distinct):
        return sorted(distinct), list(values)
    canonical = {value: _number_name(float(value)) for value in distinct}
    names = sorted(set(canonical.values()), key=float)
    return names, [canonical[value] for value in values]


def _number_name(value: float) -> str:
    """``3`` for 3.0, ``0.5`` for 0.5."""
    return str(int(value)) if value.is_integer() else repr(value)
