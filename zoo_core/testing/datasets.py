"""Dataset checks: a ``Dataset`` of numpy arrays (or a ``StreamingDataset``) that honours its ``DatasetInfo``."""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo_core.components import Component
from zoo_core.data import Dataset, DatasetInfo, StreamingDataset
from zoo_core.errors import ZooError
from zoo_core.testing.parameters import begin_checks
from zoo_core.testing.labels import check_labels
from zoo_core.testing.results import Broken, CheckResult


def check_dataset(component: str | Component, params: dict[str, Any] | None = None, *,
                  catalog: Any = None, deterministic: bool = True, light_import: bool = True) -> list[CheckResult]:
    """Check a dataset: a ``zoo_core.data.Dataset`` of numpy arrays honouring its ``DatasetInfo``, or a
    ``StreamingDataset`` (its files, its decode, zoo's pipeline over it: zoo_core.testing.streamed_datasets).

    ``deterministic`` builds it twice and compares (turn off for a dataset
    that is slow to load).
    """
    from zoo_core.testing.streamed_datasets import run_streaming_checks

    component, checks, values = begin_checks("dataset", component, params, catalog, light_import)
    dataset = checks.run("builds", _build_dataset, component, values, needs=["defaults_accepted"])
    checks.run("info", _check_info, dataset, needs=["builds"])
    if isinstance(dataset, StreamingDataset):
        run_streaming_checks(checks, dataset, component, values, deterministic)
        checks.run("normalisation", _check_normalisation, dataset.info, needs=["builds"])
        checks.run("runner_accepts", _check_runner_accepts, dataset, component.name,
                   needs=["info", "files", "decodes", "labels_in_range"])
        return checks.results
    checks.run("arrays", _check_arrays, dataset, needs=["builds"])
    checks.run("shapes", _check_shapes, dataset, needs=["arrays"])
    checks.run("dtypes", _check_dtypes, dataset, needs=["arrays"])
    checks.run("labels_in_range", check_labels, dataset, needs=["arrays", "shapes"])
    checks.run("values_in_range", _check_values, dataset, needs=["arrays"])
    checks.run("normalisation", _check_normalisation, dataset.info if dataset else None, needs=["builds"])
    checks.run("runner_accepts", _check_runner_accepts, dataset, component.name,
               needs=["info", "arrays", "shapes", "labels_in_range"])
    if deterministic:
        checks.run("deterministic", _check_deterministic, component, values, dataset, needs=["arrays"])
    return checks.results


def _build_dataset(component: Component, values: dict[str, Any]) -> Dataset | StreamingDataset:
    dataset = component.load_factory()(**values)
    if not isinstance(dataset, (Dataset, StreamingDataset)):
        raise Broken(f"the factory returned {type(dataset).__name__}; a dataset factory must return "
                     f"zoo_core.data.Dataset(x_train, y_train, x_test, y_test, info) or "
                     f"zoo_core.data.StreamingDataset(train_files, y_train, test_files, y_test, decode, info)")
    if not isinstance(dataset.info, DatasetInfo):
        raise Broken(f"dataset.info is {type(dataset.info).__name__}, not a zoo_core.data.DatasetInfo")
    return dataset


def _check_info(dataset: Dataset) -> None:
    info = dataset.info
    problems = []
    shape = tuple(info.input_shape)
    if not shape or not all(isinstance(side, int) and side > 0 for side in shape):
        problems.append(f"input_shape {info.input_shape!r} must be a tuple of positive ints, e.g. (8, 8)")
    if not isinstance(info.num_classes, int) or info.num_classes < 2:
        problems.append(f"num_classes must be an int of at least 2, got {info.num_classes!r}")
    names = list(info.class_names)
    if len(names) != info.num_classes:
        problems.append(f"class_names has {len(names)} names for num_classes = {info.num_classes}: "
                        f"give one name per class")
    if not all(isinstance(name, str) and name for name in names):
        problems.append("class_names must be non-empty strings (e.g. [str(i) for i in range(10)])")
    elif len(set(names)) != len(names):
        problems.append("class_names must be unique")
    try:
        np.dtype(info.input_dtype)
    except TypeError:
        problems.append(f"input_dtype {info.input_dtype!r} is not a numpy dtype name, e.g. 'float32'")
    low, high = info.value_range
    if not low < high:
        problems.append(f"value_range {tuple(info.value_range)} must be (low, high) with low < high")
    if info.image and len(shape) == 3 and shape[-1] != info.channels:
        problems.append(f"input_shape {shape} ends in {shape[-1]} channels but channels = {info.channels}")
    if info.image and len(shape) == 2 and info.channels != 1:
        problems.append(f"a 2-D image input {shape} is grayscale, but channels = {info.channels}: set channels=1")
    if problems:
        raise Broken("the DatasetInfo is inconsistent: " + "; ".join(problems))


def _check_arrays(dataset: Dataset) -> None:
    for split in ("train", "test"):
        for prefix in ("x", "y"):
            array = getattr(dataset, f"{prefix}_{split}")
            if not isinstance(array, np.ndarray):
                raise Broken(f"{prefix}_{split} is a {type(array).__module__}.{type(array).__name__}; zoo's runner "
                             f"takes numpy arrays: convert with np.asarray(...) (or tfds.as_numpy for tf.data)")
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if len(x) == 0:
            raise Broken(f"the {split} split is empty")
        if len(x) != len(y):
            raise Broken(f"x_{split} has {len(x)} examples but y_{split} has {len(y)} labels: one label per example")


def _check_shapes(dataset: Dataset) -> None:
    shape = tuple(dataset.info.input_shape)
    for split in ("train", "test"):
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if x.shape[1:] != shape:
            raise Broken(f"x_{split} has examples of shape {x.shape[1:]}, but info.input_shape is {shape}: "
                         f"make them agree (x_{split}.shape must be (n, *input_shape))")
        if y.ndim != 1:
            raise Broken(f"y_{split} has shape {y.shape}; labels must be integer class indices of shape (n,), "
                         f"not one-hot (use y.argmax(axis=1))")


def _check_dtypes(dataset: Dataset) -> None:
    expected = np.dtype(dataset.info.input_dtype)
    for split in ("train", "test"):
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if x.dtype != expected:
            raise Broken(f"x_{split} has dtype {x.dtype}, but info.input_dtype is '{expected.name}': "
                         f"convert with x.astype(np.{expected.name}) or fix input_dtype")
        if y.dtype.kind not in "iu":
            raise Broken(f"y_{split} has dtype {y.dtype}; labels must be integers: y.astype(np.int64)")


def _check_values(dataset: Dataset) -> None:
    low, high = (float(v) for v in dataset.info.value_range)
    tolerance = 1e-6 * max(1.0, high - low)
    for split in ("train", "test"):
        x = getattr(dataset, f"x_{split}")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise Broken(f"x_{split} holds NaN or infinite values")
        smallest, largest = float(x.min()), float(x.max())
        if smallest < low - tolerance or largest > high + tolerance:
            raise Broken(f"x_{split} holds values from {smallest:g} to {largest:g}, outside info.value_range "
                         f"[{low:g}, {high:g}]: scale the inputs (e.g. x / 255) or declare the real range")


def _check_normalisation(info: DatasetInfo) -> None:
    if not info.image:
        return
    mapped = sorted(float(raw) * info.scale + info.offset for raw in info.raw_value_range)
    low, high = (float(v) for v in info.value_range)
    tolerance = 1e-4 * max(1.0, high - low)
    if mapped[0] < low - tolerance or mapped[1] > high + tolerance:
        raise Broken(f"raw inputs in {list(info.raw_value_range)} become raw * scale + offset = "
                     f"[{mapped[0]:g}, {mapped[1]:g}], outside value_range [{low:g}, {high:g}]; zoo predict "
                     f"scales images this way: fix raw_value_range, scale or offset")


def _check_runner_accepts(dataset: Dataset, name: str) -> None:
    from zoo_core.data import check_dataset as runner_check

    try:
        runner_check(dataset, f"dataset '{name}'")
    except ZooError as error:
        raise Broken(f"zoo's runner refuses it: {error}") from None


def _check_deterministic(component: Component, values: dict[str, Any], first: Dataset) -> None:
    second = component.load_factory()(**values)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        if not np.array_equal(getattr(first, key), getattr(second, key)):
            raise Broken(f"two calls with the same parameters gave different {key}: seed every random "
                         f"split or shuffle (runs record a data fingerprint, and resume relies on it)")
