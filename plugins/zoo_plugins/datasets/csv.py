"""Built-in dataset: your own table, a CSV file with a label column and numeric feature columns.

::

    [datasets.wine]
    component = "csv"
    path = "data/wine.csv"
    label = "cultivar"             # a column name, or an index (0 the first, -1 the last: the default)

The rows stream: every cell is checked first (a pass that keeps each row's
byte offsets, not its values), then zoo reads each batch's rows from the
file as it trains, so memory does not grow with the table. Parsing and
checking the cells is in :mod:`zoo_plugins.datasets._csv_table`; the passes
over the rows and the decoding of one row in :mod:`zoo_plugins.datasets._csv_rows`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from zoo_core import Component, Range, hookimpl
from zoo_core.errors import DataError
from zoo_plugins.datasets._common import shown, some

TestSplit = Annotated[float, Range(0, 1, low_open=True, high_open=True)]
#: The most memory (bytes of float32 values) ``cache = "auto"`` gives a table's training rows.
AUTO_MEMORY = 512 * 1024 * 1024


def csv_dataset(path: str = "", test_path: str = "", test_split: TestSplit = 0.2, label: str | int = -1,
                features: list[str] = [], header: Literal["auto"] | bool = "auto",  # noqa: B006
                delimiter: str = "auto", standardise: bool = True, seed: int = 42,
                cache: Literal["auto", "none", "memory", "disk"] = "auto") -> Any:
    """Your own table: a CSV file, one example per row, a label column and numeric feature columns.

    The rows are read from the file as training goes. Class names are the label values, sorted (numerically when they are
    numbers). Every cell is checked before any work: a missing value or a
    feature cell that is not a number is an error naming the file, line and
    column. With ``standardise`` each feature is scaled by the mean and
    standard deviation of the training split (a constant feature by 1),
    recorded in the model's input contract, so ``zoo predict`` takes CSV rows
    of raw features.

    Args:
        path: the CSV file; relative to the working directory; required.
        test_path: a separate test CSV with the same columns; empty: split off test_split.
        test_split: fraction of each class held out for testing (seeded), when there is no test_path.
        label: the label column: its name in the header, or its index (0 the first, -1 the last).
        features: names of the feature columns, in order; empty: every column but the label.
        header: whether the first row names the columns; "auto": it does if a cell of it is not a number
            where the second row holds a number.
        delimiter: the character between values; "auto": sniffed from the file (comma, semicolon, tab, bar).
        standardise: scale each feature to mean 0 and standard deviation 1 (statistics of the training split).
        seed: seed of the test split and of the order of the examples.
        cache: "none": read the rows from the file every epoch (flat memory, however long the table); "memory":
            keep their values (float32) once read, as fast as arrays; "disk": keep them in a file of the run
            directory; "auto": "memory" if the training rows' values take at most 512 MiB, else "none".
    """
    from zoo_core.data import StreamingDataset
    from zoo_plugins.datasets._csv_rows import RowDecoder
    from zoo_plugins.datasets._csv_table import open_table
    from zoo_plugins.datasets._splits import shuffled, stratified_split

    where = "dataset csv"
    _check_parameters(path, delimiter, where)
    table = open_table(Path(path), header, delimiter, where, "path")
    columns = _columns(table, label, features, where)
    rows, names, y = _rows(table, columns, where)
    if test_path:
        test, test_columns = _test_table(test_path, header, delimiter, table, columns, where)
        test_rows, y_test = _test_rows(test, test_columns, names, where)
        train_order, test_order = shuffled(len(y), seed), shuffled(len(y_test), seed + 1)
        tables = [(table, columns[1:]), (test, test_columns[1:])]
    else:
        test_rows, y_test = rows, y
        train_order, test_order = stratified_split(y, test_split, seed, where)
        tables = [(table, columns[1:])]
    mean, std = _standardisation(table, columns, train_order, len(y), where) if standardise else (None, None)
    decoder = RowDecoder(tables, where)
    if cache == "auto":
        cache = "memory" if len(train_order) * (len(columns) - 1) * 4 <= AUTO_MEMORY else "none"
    info = _info(path, test_path, table, columns, names, _value_range(rows, test_rows, mean, std), mean, std)
    info.extra["cache"] = cache
    entries = RowDecoder.entries(0, rows)
    test_entries = RowDecoder.entries(1, test_rows) if test_path else entries
    return StreamingDataset(entries[train_order], y[train_order], test_entries[test_order], y_test[test_order],
                            decoder, info, cache=cache, decode_batch=decoder.decode_batch, read=decoder.read)


def _check_parameters(path: str, delimiter: str, where: str) -> None:
    """A DataError for a missing path or a delimiter that is not one character."""
    if not path:
        raise DataError(f"{where}: no file given (its parameter path is empty)",
                        hint="set path to a CSV file: path = \"data/wine.csv\" in the dataset's registry.toml "
                             "entry, or --set dataset.path=data/wine.csv")
    if delimiter != "auto" and len(delimiter) != 1:
        raise DataError(f"{where}: delimiter must be one character or \"auto\", got {delimiter!r}",
                        hint="e.g. delimiter = \";\" or \"\\t\" (tab)")


def _columns(table: Any, label: str | int, features: list[str], where: str) -> list[int]:
    """``[label column, *feature columns]`` of the training table."""
    from zoo_plugins.datasets._csv_table import column_index, feature_columns

    label_column = column_index(table, label, where)
    columns = feature_columns(table, label_column, features, where)
    if not columns:
        raise DataError(f"{where}: '{table.path}' has no feature columns "
                        f"(only the label '{table.names[label_column]}')",
                        hint="a CSV needs one label column and at least one feature column")
    return [label_column, *columns]


def _rows(table: Any, columns: list[int], where: str) -> tuple[Any, list[str], Any]:
    """The training table's rows (every cell checked), its class names and each row's class index."""
    import numpy as np

    from zoo_plugins.datasets._csv_rows import scan
    from zoo_plugins.datasets._csv_table import class_values

    rows = scan(table, columns[0], columns[1:], where)
    names, named = class_values(rows.values)
    if len(names) < 2:
        raise DataError(f"{where}: column '{table.names[columns[0]]}' of '{table.path}' (the label) holds one "
                        f"value, {shown(names[0])}; a classifier needs two classes or more",
                        hint="check the label column (label = NAME or index)")
    classes = np.asarray([names.index(name) for name in named], dtype=np.int64)
    return rows, names, classes[rows.codes]


def _test_table(test_path: str, header: Any, delimiter: str, train: Any, columns: list[int],
                where: str) -> tuple[Any, list[int]]:
    """The test table and its ``[label, *features]`` columns, found by the training table's names (or position
    without a header)."""
    from zoo_plugins.datasets._csv_table import open_table

    test = open_table(Path(test_path), header, delimiter, where, "test_path")
    wanted = [train.names[index] for index in columns]
    missing = [name for name in wanted if name not in test.names]
    if missing:
        raise DataError(f"{where}: test file '{test.path}' has no column '{missing[0]}' (its columns: "
                        f"{some(test.names)})", hint="give the test file the training file's columns")
    return test, [test.names.index(name) for name in wanted]


def _test_rows(test: Any, columns: list[int], names: list[str], where: str) -> tuple[Any, Any]:
    """The test table's rows and their class indices; DataError naming the line of a label training never saw."""
    import numpy as np

    from zoo_plugins.datasets._csv_rows import first_line, scan
    from zoo_plugins.datasets._csv_table import class_values

    rows = scan(test, columns[0], columns[1:], where)
    _, named = class_values(rows.values + names)  # named alike: 1.0 and 1 are one class
    unknown = [value for value, name in zip(rows.values, named) if name not in names]
    if unknown:
        line = first_line(test, columns[0], unknown[0], where)
        raise DataError(f"{where}: test file '{test.path}' line {line}: label {shown(unknown[0])} is not a class of "
                        f"the training file (its classes: {some(names)})",
                        hint="a model cannot predict a class it never saw; drop those rows or add examples to "
                             "the training file")
    classes = np.asarray([names.index(name) for name in named[: len(rows.values)]], dtype=np.int64)
    return rows, classes[rows.codes]


def _standardisation(table: Any, columns: list[int], train_order: Any, count: int,
                     where: str) -> tuple[list[float], list[float]]:
    """The contract's feature_mean and feature_std: the statistics of the training split (the rows ``train_order``
    of ``count``); a constant feature is divided by 1.0 (with a warning)."""
    import numpy as np

    from zoo_plugins.datasets._csv_rows import statistics

    chosen = np.zeros(count, bool)
    chosen[train_order] = True
    mean, std = statistics(table, columns[1:], chosen, where)
    feature_names = [table.names[index] for index in columns[1:]]
    constant = [name for name, value in zip(feature_names, std) if not value > 0]
    if constant:
        print(f"zoo: warning: {where}: feature(s) {some(constant)} are constant in the training split; "
              "they are not scaled (standard deviation taken as 1)", file=sys.stderr, flush=True)
    return mean.tolist(), np.where(std > 0, std, 1.0).tolist()


def _value_range(rows: Any, test_rows: Any, mean: list[float] | None, std: list[float] | None) -> tuple[float, float]:
    """The model inputs' range, widened by 1 each way: from the features' smallest and largest raw values."""
    import numpy as np

    low, high = np.minimum(rows.low, test_rows.low), np.maximum(rows.high, test_rows.high)
    if mean is not None and std is not None:
        low, high = (low - np.asarray(mean)) / np.asarray(std), (high - np.asarray(mean)) / np.asarray(std)
    return float(np.floor(low.min())) - 1.0, float(np.ceil(high.max())) + 1.0


def _info(path: str, test_path: str, table: Any, columns: list[int], names: list[str],
          value_range: tuple[float, float], mean: list[float] | None, std: list[float] | None) -> Any:
    """The DatasetInfo of the table: its features, classes and standardisation."""
    from zoo_core.data import DatasetInfo

    feature_names = [table.names[index] for index in columns[1:]]
    return DatasetInfo(
        name="csv", input_shape=(len(feature_names),), num_classes=len(names), class_names=names, image=False,
        feature_names=feature_names, value_range=value_range, feature_mean=mean, feature_std=std,
        description=f"Table '{path}'" + (f" (test: '{test_path}')" if test_path else "")
                    + f": label column '{table.names[columns[0]]}', {len(feature_names)} numeric features"
                    + (", each standardised with the training split's mean and standard deviation."
                       if mean is not None else ", raw."))


@hookimpl
def register_datasets() -> list[Component]:
    return [Component("csv", csv_dataset)]
