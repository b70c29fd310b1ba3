"""Exporter ``keras-file``: the trained model as one ``.keras`` file, verified before it is kept."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

#: Share of test examples whose top class must equal the in-memory model's.
MIN_ARGMAX_AGREEMENT = 0.999

#: Single-example calls timed for the latency figure (a Keras call takes milliseconds, not microseconds).
LATENCY_REPEATS = 20


def keras_file(context: Any, verify_samples: int = 0, max_abs_diff: float = 1e-5) -> Any:
    """Keras .keras file (plus a JSON sidecar), reloaded in safe mode and checked before it is kept.

    Writes ``<dest>/<model name>.keras`` and ``<dest>/<model name>.json``.
    The model is saved beside its final place under a hidden name, loaded
    back with ``safe_mode=True`` (as ``zoo predict`` loads it) and its class
    probabilities on the test set compared with the trained model's. Only
    then are the file and its sidecar (labels, input contract, versions,
    verification figures) moved into place. An existing file is never
    overwritten: the next free name is used (``<name>-2.keras``).

    Args:
        verify_samples: test examples run through the reloaded model (0: all).
        max_abs_diff: largest allowed difference of any class probability from the trained model.
    """
    from zoo_core.errors import ExportError
    from zoo_core.export import (ExportResult, artifact_metadata, failed_thresholds, sha256_of, staged,
                                 verification_error)

    if verify_samples < 0:
        raise ExportError(f"keras-file: verify_samples must be 0 (all) or positive, got {verify_samples}")
    if max_abs_diff < 0:
        raise ExportError(f"keras-file: max_abs_diff must be 0 or more, got {max_abs_diff}")
    thresholds = {"max_abs_diff": max_abs_diff, "min_argmax_agreement": MIN_ARGMAX_AGREEMENT}
    # The file is written under a hidden name beside its final place (keeping the .keras suffix Keras
    # insists on); staged moves it, then its sidecar, into place only if this block finishes.
    with staged(Path(context.destination), context.model_name, ".keras", exporter="keras-file",
                companions=(".json",)) as stage:
        start = time.perf_counter()
        context.model.save(stage.path)
        seconds = time.perf_counter() - start
        figures = verify(stage.path, context, verify_samples)
        figures["conversion_seconds"] = seconds
        failures = failed_thresholds(figures, thresholds)
        if failures:
            raise verification_error(f"keras-file {stage.final.name}", failures, figures)
        size, digest = stage.path.stat().st_size, sha256_of(stage.path)
        metadata = artifact_metadata(context, "keras", "float32")
        metadata.update(file=stage.final.name, size_bytes=size, sha256=digest,
                        verification={"figures": figures, "thresholds": thresholds})
        stage.companion(".json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return ExportResult(format="keras", variant="float32", path=str(stage.final), size_bytes=size, sha256=digest,
                        figures=figures, thresholds=thresholds)


def verify(path: Path, context: Any, verify_samples: int) -> dict[str, Any]:
    """Reload ``path`` (safe mode) and compare its probabilities with the trained model's on the test set."""
    from zoo_core.errors import DataError, ExportError
    from zoo_core.export import compare_with_keras
    from zoo_core.predict import KerasPredictor

    try:
        predictor = KerasPredictor(path)
    except DataError as error:
        raise ExportError(f"keras-file: the saved model does not load back in safe mode: {error.message}",
                          hint="custom layers must be registered with @keras.saving.register_keras_serializable; "
                               "Lambda layers cannot be loaded safely") from None
    return compare_with_keras(predictor, context, verify_samples, latency_repeats=LATENCY_REPEATS)
