"""Built-in dataset: your own table, a CSV file with a label column and numeric feature columns.

::

    [datasets.wine]
    component = "csv"
    path = "data/wine.csv"
    label = "cultivar"             # a column name, or an index (0 the first, -1 the last: the default)

Parsing and checking the cells is in :mod:`zoo_plugins.datasets._csv_table`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from zoo_core import Component, Range, hookimpl
from zoo_core.errors import DataError
from zoo_plugins.datasets._common import shown, some

TestSplit = Annotated[float, Range(0, 1, low_open=True, high_open=True)]


def csv_dataset(path: str = "", test_path: str = "", test_split: TestSplit = 0.2, label: str | int = -1,
                features: list[str] = [], header: Literal["auto"] | bool = "auto",  # noqa: B006
                delimiter: str = "auto", standardise: bool = True, seed: int = 42) -> Any:
    """Your own table: a CSV file, one example per row, a label column and numeric feature columns.

    Class names are the label values, sorted (numerically when they are
    numbers). A missing value or a feature cell that is not a number is an
    error naming the file, line and column. With ``standardise`` each feature
    is scaled by the mean and standard deviation of the training split (a
    constant feature by 1), recorded in the model's input contract, so
    ``zoo predict`` takes CSV rows of raw features.

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
    """
    import numpy as np

    from zoo_core.data import Dataset, DatasetInfo
    from zoo_plugins.datasets._csv_table import read_table

    where = "dataset csv"
    if not path:
        raise DataError(f"{where}: no file given (its parameter path is empty)",
                        hint="set path to a CSV file: path = \"data/wine.csv\" in the dataset's registry.toml "
                             "entry, or --set dataset.path=data/wine.csv")
    if delimiter != "auto" and len(delimiter) != 1:
        raise DataError(f"{where}: delimiter must be one character or \"auto\", got {delimiter!r}",
                        hint="e.g. delimiter = \";\" or \"\\t\" (tab)")
    table = read_table(Path(path), header, delimiter, where, "path")
    raw, values, names, columns = _examples(table, label, features, where)
    if len(names) < 2:
        raise DataError(f"{where}: column '{table.names[columns[0]]}' of '{path}' (the label) holds one value, "
                        f"{shown(names[0])}; a classifier needs two classes or more",
                        hint="check the label column (label = NAME or index)")
    test = read_table(Path(test_path), header, delimiter, where, "test_path") if test_path else None
    raw_test, y, y_test, train_order, test_order = _split(table, test, raw, values, names, columns, test_split,
                                                          seed, where)
    raw_train, raw_test, y_train, y_test = raw[train_order], raw_test[test_order], y[train_order], y_test[test_order]
    feature_names = [table.names[index] for index in columns[1:]]
    mean, std = _statistics(raw_train, feature_names, where) if standardise else (None, None)
    x_train, x_test = (_scaled(part, mean, std) for part in (raw_train, raw_test))
    low = float(np.floor(min(x_train.min(), x_test.min()))) - 1.0
    high = float(np.ceil(max(x_train.max(), x_test.max()))) + 1.0
    info = DatasetInfo(
        name="csv", input_shape=(len(feature_names),), num_classes=len(names), class_names=names, image=False,
        feature_names=feature_names, value_range=(low, high), feature_mean=mean, feature_std=std,
        description=f"Table '{path}'" + (f" (test: '{test_path}')" if test_path else "")
                    + f": label column '{table.names[columns[0]]}', {len(feature_names)} numeric features"
                    + (", each standardised with the training split's mean and standard deviation."
                       if standardise else ", raw."))
    return Dataset(x_train, y_train, x_test, y_test, info)


def _split(table: Any, test: Any, raw: Any, values: list[str], names: list[str], columns: list[int],
           test_split: float, seed: int, where: str) -> tuple[Any, Any, Any, Any, Any]:
    """``(raw test features, labels, test labels, training order, test order)``: the rows of the ``test`` table,
    or (None) a stratified split of the training rows."""
    import numpy as np

    from zoo_plugins.datasets._splits import shuffled, stratified_split

    classes = {name: number for number, name in enumerate(names)}
    y = np.asarray([classes[value] for value in values], dtype=np.int64)
    if test is None:
        return raw, y, y, *stratified_split(y, test_split, seed, where)
    raw_test, test_values = _test_examples(test, table, columns, names, where)
    y_test = np.asarray([classes[value] for value in test_values], dtype=np.int64)
    return raw_test, y, y_test, shuffled(len(y), seed), shuffled(len(y_test), seed + 1)


def _examples(table: Any, label: str | int, features: list[str], where: str) -> tuple[Any, list[str], list[str],
                                                                                       list[int]]:
    """``(raw features, label values, class names, [label column, *feature columns])`` of the training table."""
    from zoo_plugins.datasets._csv_table import class_values, column_index, feature_columns, labels, numbers

    label_column = column_index(table, label, where)
    columns = feature_columns(table, label_column, features, where)
    if not columns:
        raise DataError(f"{where}: '{table.path}' has no feature columns "
                        f"(only the label '{table.names[label_column]}')",
                        hint="a CSV needs one label column and at least one feature column")
    names, values = class_values(labels(table, label_column, where))
    return numbers(table, columns, where), values, names, [label_column, *columns]


def _test_examples(test: Any, train: Any, columns: list[int], names: list[str], where: str) -> tuple[Any, list[str]]:
    """Raw features and label values of the test table, its columns found by name (or position without a header)."""
    from zoo_plugins.datasets._csv_table import class_values, labels, numbers

    wanted = [train.names[index] for index in columns]
    missing = [name for name in wanted if name not in test.names]
    if missing:
        raise DataError(f"{where}: test file '{test.path}' has no column '{missing[0]}' (its columns: "
                        f"{some(test.names)})", hint="give the test file the training file's columns")
    found = [test.names.index(name) for name in wanted]
    _, values = class_values(labels(test, found[0], where) + names)  # named alike: 1.0 and 1 are one class
    values = values[: len(test.rows)]
    unknown = next(((number, value) for (number, _), value in zip(test.rows, values) if value not in names), None)
    if unknown:
        raise DataError(f"{where}: test file '{test.path}' line {unknown[0]}: label {shown(unknown[1])} is not a class of "
                        f"the training file (its classes: {some(names)})",
                        hint="a model cannot predict a class it never saw; drop those rows or add examples to "
                             "the training file")
    return numbers(test, found[1:], where), values


def _statistics(raw: Any, feature_names: list[str], where: str) -> tuple[list[float], list[float]]:
    """Per-feature mean and standard deviation of the training split; 1.0 for a constant feature (with a warning)."""
    import numpy as np

    mean, std = raw.mean(axis=0), raw.std(axis=0)
    constant = [name for name, value in zip(feature_names, std) if not value > 0]
    if constant:
        print(f"zoo: warning: {where}: feature(s) {some(constant)} are constant in the training split; "
              "they are not scaled (standard deviation taken as 1)", file=sys.stderr, flush=True)
    return mean.tolist(), np.where(std > 0, std, 1.0).tolist()


def _scaled(raw: Any, mean: list[float] | None, std: list[float] | None) -> Any:
    """The model's inputs: ``(raw - mean) / std`` (as zoo_core.data.normalise_inputs computes it), float32."""
    from zoo_core.data import normalise_inputs

    contract = {"feature_mean": mean, "feature_std": std} if mean is not None else {}
    return normalise_inputs(raw, contract)


@hookimpl
def register_datasets() -> list[Component]:
    return [Component("csv", csv_dataset)]
