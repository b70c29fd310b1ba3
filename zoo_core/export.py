"""What an exporter receives and returns, and the safe-write helpers it uses."""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from zoo_core.data import Dataset
from zoo_core.errors import ExportError


@dataclass
class ExportContext:
    """Everything an exporter needs.

    Args:
        model: the trained ``keras.Model`` (outputs class probabilities).
        dataset: the run's dataset; exporters calibrate on ``x_train`` and
            verify on ``x_test`` / ``y_test``.
        destination: the folder the exporter writes into (it may create
            sub-folders); nothing may appear there until it is verified.
        model_name: a file-system-safe name for the model, e.g. ``"mnist-mlp"``.
        metadata: labels, input contract, versions and the run it came from,
            to be stored with the artifact.
    """

    model: Any
    dataset: Dataset
    destination: Path
    model_name: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportResult:
    """What one export wrote and how its verification went.

    ``figures`` holds the verification measurements (``accuracy``,
    ``keras_accuracy``, ``max_abs_diff``, ``argmax_agreement``,
    ``latency_us``, ``conversion_seconds``, ``samples``); ``thresholds`` the
    limits they were checked against.
    """

    format: str
    variant: str
    path: str
    size_bytes: int = 0
    sha256: str = ""
    status: str = "ok"  # ok | failed
    figures: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of every file under a directory (sorted by path)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    """Bytes in a file, or in every file under a directory."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def move_into_place(temporary: Path, final: Path) -> None:
    """Move a verified file or folder to its final name; never overwrite.

    ``temporary`` must be on the same file system (create it beside ``final``)
    so the move is atomic: readers see nothing or everything.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    if temporary.is_file():
        try:
            os.link(temporary, final)  # atomic and never overwrites, even if another process races us
        except FileExistsError:
            raise FileExistsError(f"{final} already exists") from None
        except OSError:  # a file system without hard links
            os.replace(temporary, final)
        else:
            temporary.unlink()
    else:
        os.rename(temporary, final)  # fails if another process put a non-empty folder there


def remove_quietly(path: Path) -> None:
    """Delete a temporary file or folder if it is there."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink(missing_ok=True)


# --- staging: write beside the final place, leave nothing behind on failure ---


def make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, deepest first.

    Pass the list to :func:`remove_empty_folders` on failure so that an export
    that did not succeed leaves not even an empty folder behind.
    """
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove each folder if it is empty (deepest first, as :func:`make_folders` lists them)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


def temporary_beside(final: Path) -> Path:
    """A hidden, unused name in ``final``'s folder for staging (same file system)."""
    return final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"


def next_free_path(folder: Path, stem: str, suffix: str, companions: tuple[str, ...] = ()) -> Path:
    """``folder/stem+suffix``, or ``stem-2``, ``stem-3``... if taken: never an existing name.

    A name counts as taken when the file or any of its ``companions`` (other
    suffixes written beside it, e.g. ``".json"``) exists.
    """
    number = 1
    while True:
        name = stem if number == 1 else f"{stem}-{number}"
        candidates = [folder / f"{name}{suffix}"] + [folder / f"{name}{extra}" for extra in companions]
        if not any(path.exists() for path in candidates):
            return candidates[0]
        number += 1


# --- metadata stored with every artifact ---


def artifact_metadata(context: ExportContext, format: str, variant: str) -> dict[str, Any]:
    """Metadata written with an artifact: the context's metadata (run id...), labels, input contract, versions.

    ``input`` is the dataset's input contract (:meth:`DatasetInfo.to_dict`:
    shape, dtype, value range, ``scale`` / ``offset``), which ``zoo predict``
    uses to turn an image into a model input.
    """
    import keras
    import tensorflow as tf

    from zoo_core import __version__

    info = context.dataset.info
    versions = {"zoo": __version__, "tensorflow": tf.__version__, "keras": keras.__version__}
    versions.update(context.metadata.get("versions", {}))
    return {
        **context.metadata,
        "format": format,
        "variant": variant,
        "model_name": context.model_name,
        "class_names": list(info.class_names),
        "num_classes": info.num_classes,
        "input": info.to_dict(),
        "versions": versions,
    }


# --- verification: compare an artifact's answers with the Keras model's ---


def verification_slice(dataset: Dataset, samples: int) -> tuple[Any, Any]:
    """The test examples an exporter verifies on: the first ``samples`` (0: all)."""
    if samples < 0:
        raise ExportError(f"verify_samples must be 0 (all) or positive, got {samples}")
    if samples == 0:
        return dataset.x_test, dataset.y_test
    return dataset.x_test[:samples], dataset.y_test[:samples]


def keras_probabilities(model: Any, x: Any, batch_size: int = 1000) -> Any:
    """The Keras model's class probabilities for ``x`` (inference mode, in batches), as numpy."""
    import keras
    import numpy as np

    parts = [keras.ops.convert_to_numpy(model(x[start:start + batch_size], training=False))
             for start in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float32)


def compare_probabilities(probabilities: Any, reference: Any, labels: Any) -> dict[str, Any]:
    """Verification figures of an artifact's probabilities against the Keras model's (``reference``).

    Returns ``accuracy``, ``keras_accuracy``, ``accuracy_drop`` (Keras minus
    artifact), ``max_abs_diff``, ``argmax_agreement`` and ``samples``.
    """
    import numpy as np

    probabilities = np.asarray(probabilities, dtype=np.float32)
    reference = np.asarray(reference, dtype=np.float32)
    if probabilities.shape != reference.shape:
        raise ExportError(f"the exported model answered with shape {probabilities.shape}, "
                          f"the Keras model with {reference.shape}")
    predicted, expected = probabilities.argmax(axis=1), reference.argmax(axis=1)
    accuracy = float(np.mean(predicted == labels))
    keras_accuracy = float(np.mean(expected == labels))
    return {
        "accuracy": accuracy,
        "keras_accuracy": keras_accuracy,
        "accuracy_drop": keras_accuracy - accuracy,
        "max_abs_diff": float(np.max(np.abs(probabilities - reference))) if probabilities.size else 0.0,
        "argmax_agreement": float(np.mean(predicted == expected)),
        "samples": int(len(labels)),
    }


#: How each threshold key is checked against the figure of the same meaning.
THRESHOLD_CHECKS: dict[str, tuple[str, str]] = {
    "max_abs_diff": ("max_abs_diff", "<="),
    "min_argmax_agreement": ("argmax_agreement", ">="),
    "max_accuracy_drop": ("accuracy_drop", "<="),
}


def compare_with_keras(predictor: Any, context: ExportContext, verify_samples: int,
                       latency_repeats: int = 200) -> dict[str, Any]:
    """Verification figures of a reloaded artifact: run ``predictor`` (a ``zoo_core.predict``
    predictor) on the test set, compare with the Keras model, and time one image."""
    x, y = verification_slice(context.dataset, verify_samples)
    figures = compare_probabilities(predictor.predict(x), keras_probabilities(context.model, x), y)
    figures["latency_us"] = predictor.latency_us(x[:1], repeats=latency_repeats)
    return figures


def failed_thresholds(figures: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """The thresholds that ``figures`` miss, in words (empty: verification passed).

    Threshold keys: ``max_abs_diff`` (largest probability difference),
    ``min_argmax_agreement`` (share of equal top classes), ``max_accuracy_drop``
    (Keras accuracy minus artifact accuracy, as a fraction).
    """
    failures = []
    for key, limit in thresholds.items():
        figure, operator = THRESHOLD_CHECKS[key]
        value = figures[figure]
        passed = value <= limit if operator == "<=" else value >= limit
        if not passed:
            failures.append(f"{figure} = {value:.6g}, needs {operator} {limit:.6g}")
    return failures


def median_latency_us(call: Callable[[], Any], repeats: int = 200, warmup: int = 5) -> float:
    """Median wall time of ``call()`` in microseconds over ``repeats`` calls (after ``warmup``)."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000.0


def describe_figures(figures: dict[str, Any]) -> str:
    """One line of verification figures for messages, e.g. ``accuracy 0.9812, max_abs_diff 3.1e-07, ...``."""
    shown = []
    for key in ("accuracy", "keras_accuracy", "max_abs_diff", "argmax_agreement", "samples"):
        if key in figures:
            value = figures[key]
            shown.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
    return ", ".join(shown)


def verification_error(what: str, failures: list[str], figures: dict[str, Any]) -> ExportError:
    """The ExportError for a verification that did not pass: what failed and all figures."""
    return ExportError(
        f"{what}: verification failed ({'; '.join(failures)}); nothing was written. "
        f"Figures: {describe_figures(figures)}",
        hint="the exported model answers differently from the Keras model; "
             "try another variant (e.g. quantize=none) or more calibration samples",
    )
