"""Built-in exporter: SavedModel in TensorFlow Serving's layout, verified after writing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from zoo_core import Component, hookimpl

__all__ = ["savedmodel", "choose_version"]

#: Share of test examples whose top class must equal the Keras model's.
MIN_ARGMAX_AGREEMENT = 0.999

#: The hint when another export wrote the chosen version while this one was being written.
VERSION_TAKEN_HINT = "another export may have written this version meanwhile; export again"


def savedmodel(context: Any, version: int = 0, verify_samples: int = 0, max_abs_diff: float = 1e-5) -> Any:
    """SavedModel for servers: <dest>/<model name>/<version>/, TF Serving layout.

    The ``serving_default`` signature takes ``image`` (or ``inputs`` for
    non-image data) of shape ``(None, *input_shape)`` and returns
    ``probabilities``. Metadata (labels, input contract, versions, run,
    verification figures) is in ``<version>/assets.extra/zoo_metadata.json``.
    The folder is written beside its final place, loaded back with
    ``tf.saved_model.load`` and checked against the Keras model on the test
    set; only then is it renamed to its version number.

    Args:
        version: version folder to write; 0 picks the next free number. An
            existing version is never overwritten.
        verify_samples: test examples run through the reloaded model (0: all).
        max_abs_diff: largest allowed difference of any class probability from the Keras model.
    """
    from zoo_core.errors import ExportError
    from zoo_core.export import (ExportResult, artifact_metadata, failed_thresholds, sha256_of, size_of, staged,
                                 verification_error)
    from zoo_core.export.savedmodel_io import OUTPUT_NAME, input_name, write_savedmodel

    if max_abs_diff < 0:
        raise ExportError(f"savedmodel: max_abs_diff must be 0 or more, got {max_abs_diff}")
    if verify_samples < 0:
        raise ExportError(f"savedmodel: verify_samples must be 0 (all) or positive, got {verify_samples}")
    model_folder = Path(context.destination) / context.model_name
    version = choose_version(model_folder, version)
    thresholds = {"max_abs_diff": max_abs_diff, "min_argmax_agreement": MIN_ARGMAX_AGREEMENT}
    with staged(model_folder, str(version), exporter="savedmodel", next_free=False,
                taken_hint=VERSION_TAKEN_HINT) as stage:
        start = time.perf_counter()
        write_savedmodel(context.model, stage.path, context.dataset.info)
        conversion_seconds = time.perf_counter() - start
        figures = verify_savedmodel(stage.path, context, verify_samples)
        figures["conversion_seconds"] = conversion_seconds
        failures = failed_thresholds(figures, thresholds)
        if failures:
            raise verification_error(f"savedmodel {stage.final}", failures, figures)
        metadata = artifact_metadata(context, "savedmodel", "float32")
        metadata["signature"] = {"key": "serving_default", "input": input_name(context.dataset.info),
                                 "output": OUTPUT_NAME}
        metadata["verification"] = {"figures": figures, "thresholds": thresholds}
        write_metadata(stage.path, metadata)
        size, digest = size_of(stage.path), sha256_of(stage.path)
    return ExportResult(format="savedmodel", variant="float32", path=str(stage.final), size_bytes=size,
                        sha256=digest, figures=figures, thresholds=thresholds)


def choose_version(model_folder: Path, version: int) -> int:
    """The version number to write: ``version``, or the next free one if 0.

    Raises ExportError if ``version`` is negative or already exists.
    """
    from zoo_core.errors import ExportError

    if version < 0:
        raise ExportError(f"savedmodel: version must be 0 (next free) or a positive integer, got {version}")
    existing = existing_versions(model_folder)
    if version == 0:
        return max(existing, default=0) + 1
    if version in existing:
        raise ExportError(f"savedmodel: version {version} already exists at {model_folder / str(version)}",
                          hint=f"use version=0 for the next free version ({max(existing) + 1}), "
                               "or remove the existing folder yourself")
    return version


def existing_versions(model_folder: Path) -> list[int]:
    """Integer version folders (TF Serving layout) already in ``model_folder``."""
    if not model_folder.is_dir():
        return []
    return [int(child.name) for child in model_folder.iterdir() if child.name.isdigit()]


def verify_savedmodel(folder: Path, context: Any, verify_samples: int) -> dict[str, Any]:
    """Load ``folder`` with ``tf.saved_model.load`` and compare it with the Keras model on the test set."""
    from zoo_core.export import compare_with_keras
    from zoo_core.predict import SavedModelPredictor

    return compare_with_keras(SavedModelPredictor(folder), context, verify_samples)


def write_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata`` to ``<folder>/assets.extra/zoo_metadata.json``."""
    from zoo_core.predict import SAVEDMODEL_METADATA

    target = folder / SAVEDMODEL_METADATA
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@hookimpl
def register_exporters() -> list[Component]:
    return [Component("savedmodel", savedmodel)]
