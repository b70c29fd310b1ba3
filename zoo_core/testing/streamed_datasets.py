"""Dataset checks for a ``StreamingDataset``: its files and labels, its decode, and zoo's pipeline over it."""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo_core.components import Component
from zoo_core.data import StreamingDataset, scale_examples
from zoo_core.testing.labels import check_labels
from zoo_core.testing.results import Broken

#: Examples of each split that the checks decode (the first ones).
DECODED = 4


def run_streaming_checks(checks: Any, dataset: StreamingDataset, component: Component, values: dict[str, Any],
                         deterministic: bool) -> None:
    """The checks of a streaming dataset, after ``builds`` and ``info`` (zoo_core.testing.datasets)."""
    checks.run("files", _check_files, dataset, needs=["builds"])
    checks.run("labels_in_range", check_labels, dataset, needs=["files"])
    decoded = checks.run("decodes", _decoded, dataset, needs=["files"])
    checks.run("values_in_range", _check_values, dataset, decoded, needs=["decodes"])
    checks.run("pipeline", _check_pipeline, dataset, decoded, needs=["decodes"])
    if dataset.read is not None:
        checks.run("reads", _check_read, dataset, needs=["files"])
    if deterministic:
        checks.run("deterministic", _check_deterministic, component, values, dataset, decoded, needs=["decodes"])


def _check_files(dataset: StreamingDataset) -> None:
    if dataset.cache not in ("none", "memory", "disk"):
        raise Broken(f"cache is {dataset.cache!r}; give 'none', 'memory' or 'disk'")
    if not callable(dataset.decode):
        raise Broken("decode is not a function: give decode(file) -> one example (a tensor)")
    for split in ("train", "test"):
        files, y = getattr(dataset, f"{split}_files"), getattr(dataset, f"y_{split}")
        if files.ndim != 1 or files.dtype.kind != "U":
            raise Broken(f"{split}_files must be a list of strings (paths or records), one per example")
        if len(files) == 0:
            raise Broken(f"the {split} split is empty")
        if y.ndim != 1 or len(y) != len(files):
            raise Broken(f"y_{split} has shape {y.shape} for {len(files)} files: one integer label per file")
        if y.dtype.kind not in "iu":
            raise Broken(f"y_{split} has dtype {y.dtype}; labels must be integers: y.astype(np.int64)")


def _decoded(dataset: StreamingDataset) -> dict[str, np.ndarray]:
    """The first examples of each split, decoded (raw values), each checked against ``info.input_shape``."""
    shape = tuple(dataset.info.input_shape)
    found = {}
    for split in ("train", "test"):
        raw = []
        for file in getattr(dataset, f"{split}_files")[:DECODED]:
            example = np.asarray(dataset.decode(str(file)))
            if example.shape != shape:
                raise Broken(f"decode('{file}') gives shape {example.shape}, but info.input_shape is {shape}")
            if example.dtype.kind not in "uif":
                raise Broken(f"decode('{file}') gives dtype {example.dtype}; give raw numbers (e.g. uint8 pixels)")
            raw.append(example)
        found[split] = np.stack(raw)
    return found


def _check_values(dataset: StreamingDataset, decoded: dict[str, np.ndarray]) -> None:
    low, high = (float(v) for v in dataset.info.value_range)
    tolerance = 1e-6 * max(1.0, high - low)
    for split, raw in decoded.items():
        x = scale_examples(raw, dataset.info)
        if not np.isfinite(x).all():
            raise Broken(f"decoded {split} examples hold NaN or infinite values")
        if float(x.min()) < low - tolerance or float(x.max()) > high + tolerance:
            raise Broken(f"decoded {split} examples, scaled (raw * scale + offset), hold values from {x.min():g} "
                         f"to {x.max():g}, outside info.value_range [{low:g}, {high:g}]: fix scale or value_range")


def _check_pipeline(dataset: StreamingDataset, decoded: dict[str, np.ndarray]) -> None:
    """zoo's tf.data pipeline over the first files gives the examples decode gave, scaled."""
    from zoo_core.training.streaming import evaluation_stream

    files = dataset.test_files[:DECODED]
    (batch,) = list(evaluation_stream(dataset, files, batch_size=DECODED))
    expected = scale_examples(decoded["test"], dataset.info)
    if np.asarray(batch).shape != expected.shape or not np.allclose(np.asarray(batch), expected, atol=1e-6):
        if dataset.decode_batch is not None:
            raise Broken("decode_batch(files) gives other examples than decode(file) called on each: they must "
                         "agree (zoo's pipeline calls decode_batch, plots and exports call decode)")
        raise Broken("zoo's input pipeline decodes other examples than decode(file) called alone: decode must "
                     "depend on its file only (no state between calls)")


def _check_read(dataset: StreamingDataset) -> None:
    """``read`` gives each entry's bytes, the same on every call (the run's data fingerprint hashes them)."""
    for file in [*dataset.train_files[:DECODED], *dataset.test_files[:DECODED]]:
        found = dataset.read(str(file))
        if not isinstance(found, bytes):
            raise Broken(f"read('{file}') gives a {type(found).__name__}; give the entry's stored bytes")
        if dataset.read(str(file)) != found:
            raise Broken(f"read('{file}') gave different bytes on a second call")


def _check_deterministic(component: Component, values: dict[str, Any], first: StreamingDataset,
                         decoded: dict[str, np.ndarray]) -> None:
    second = component.load_factory()(**values)
    for key in ("train_files", "y_train", "test_files", "y_test"):
        if not np.array_equal(getattr(first, key), getattr(second, key)):
            raise Broken(f"two calls with the same parameters gave different {key}: seed every random "
                         f"split or shuffle (runs record a data fingerprint, and resume relies on it)")
    again = np.asarray(second.decode(str(second.train_files[0])))
    if not np.array_equal(again, decoded["train"][0]):
        raise Broken(f"decoding '{second.train_files[0]}' twice gave different examples")
