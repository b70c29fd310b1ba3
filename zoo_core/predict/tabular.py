"""Feature vectors from a ``.csv`` file: one example per line, an optional header row of feature names.

Importing this module imports neither numpy nor Pillow.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core._util.text import listing
from zoo_core.errors import DataError

if TYPE_CHECKING:
    import numpy as np


def read_csv_rows(path: Path, features: int, feature_names: list[str] | None = None) -> "np.ndarray":
    """The numbers of a CSV file as an ``(n, features)`` float64 array, in the model's feature order.

    Blank lines are skipped. A first row without any number is a header:
    when the model records ``feature_names`` the header must name those
    features (in any order; columns are put in the model's order); other
    columns, e.g. the label of a training table, are then ignored. Raises
    DataError naming the line and column of a row with the wrong number of
    values, a cell that is not a number, or NaN/infinity.
    """
    import numpy as np

    lines = _read_lines(path)
    if not lines:
        raise DataError(f"input '{path}' holds no rows of numbers",
                        hint=f"write one example per line: {features} comma-separated numbers")
    order, width = None, features
    if not any(_is_number(cell) for cell in lines[0][1]):  # a row of names: the header
        order = _header_order(path, lines[0], features, feature_names or [])
        width = len(lines[0][1])
        lines = lines[1:]
    rows = [_row_values(path, number, cells, features, width, order) for number, cells in lines]
    if not rows:
        raise DataError(f"input '{path}' has a header row but no rows of numbers",
                        hint=f"add one example per line: {features} comma-separated numbers")
    return np.asarray(rows, dtype=np.float64)


def _read_lines(path: Path) -> list[tuple[int, list[str]]]:
    """``(line number, cells)`` of every non-blank line (a UTF-8 byte order mark is ignored)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            lines, start, reader = [], 1, csv.reader(handle)
            for cells in reader:  # numbered by the physical line a row starts on (a quoted value may span lines)
                if any(cell.strip() for cell in cells):
                    lines.append((start, [cell.strip() for cell in cells]))
                start = reader.line_num + 1
            return lines
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"input '{path}' is not a readable CSV text file ({error})",
                        hint="save the table as CSV (UTF-8), one example per line") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _header_order(path: Path, header: tuple[int, list[str]], features: int,
                  feature_names: list[str]) -> list[int] | None:
    """Column index of each model feature, from a header row (None: keep the file's order)."""
    number, names = header
    if feature_names and len(set(names)) == len(names) and set(feature_names) <= set(names):
        return None if names == list(feature_names) else [names.index(name) for name in feature_names]
    if len(names) != features:
        raise DataError(f"input '{path}' line {number} (the header) names {len(names)} column"
                        f"{'s' * (len(names) != 1)}; the model takes {features} features",
                        hint=_separator_hint(names) or _names_hint(feature_names, features))
    if not feature_names:
        return None
    unknown = [name for name in names if name not in feature_names]
    missing = [name for name in feature_names if name not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise DataError(f"input '{path}' line {number} (the header) does not name the model's features: "
                        f"unknown {listing(unknown) or 'none'}; missing {listing(missing) or 'none'}",
                        hint=_names_hint(feature_names, features))
    return [names.index(name) for name in feature_names]


def _separator_hint(cells: list[str]) -> str:
    """A hint when a line was split on something other than commas (one cell holding ';' or tabs)."""
    for separator, name in ((";", "semicolons"), ("\t", "tabs")):
        if len(cells) == 1 and separator in cells[0]:
            return f"separate the values with commas, not {name}"
    return ""


def _names_hint(feature_names: list[str], features: int) -> str:
    if feature_names:
        return f"the model's features, in order: {listing(feature_names, 20)}"
    return f"give {features} numbers per line; a header row is optional"


def _row_values(path: Path, number: int, cells: list[str], features: int, width: int,
                columns: list[int] | None) -> list[float]:
    """The numbers of one line of ``width`` cells, those of ``columns`` (None: all), in that order; DataError
    for a wrong count, a non-number, NaN or infinity."""
    if len(cells) != width:
        expected = f"the model takes {features} features" if width == features else f"the header has {width} columns"
        raise DataError(f"input '{path}' line {number} has {len(cells)} value{'s' * (len(cells) != 1)}; {expected}",
                        hint=_separator_hint(cells) or f"one example per line: {width} comma-separated numbers")
    values = []
    for index in columns if columns is not None else range(width):
        column, cell = index + 1, cells[index]
        where = f"input '{path}' line {number}, column {column}"
        if not cell:
            raise DataError(f"{where} is empty", hint="fill in every value (e.g. with the feature's mean)")
        if not _is_number(cell):
            raise DataError(f"{where} ({cell!r}) is not a number",
                            hint="only the first row may hold names (a header); the rest must be numbers")
        value = float(cell)
        if not math.isfinite(value):
            raise DataError(f"{where} is {cell}; the model needs finite numbers",
                            hint="fill in missing values (e.g. with the feature's mean) or drop the row")
        values.append(value)
    return values


def describe_input(contract: dict[str, Any]) -> str:
    """What a model takes, in words: ``feature vectors (13 features)``, ``images of 28x28 pixels, 1 channel``."""
    shape = tuple(contract.get("input_shape") or ())
    if contract.get("image", True):
        height, width = (shape + (1, 1))[:2]
        channels = int(contract.get("channels", 1))
        return f"images of {width}x{height} pixels, {channels} channel{'s' * (channels != 1)}"
    if len(shape) == 1:
        return f"feature vectors ({shape[0]} features)"
    return f"arrays of shape {shape}"
