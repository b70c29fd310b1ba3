"""The public facade for exporter authors: what an exporter receives and returns, and its helpers.

docs/plugins.md (register_exporters) lists these names; ``staged`` is the
write -> verify -> move-into-place contract in one context manager. Importing
this package imports neither numpy nor TensorFlow.
"""

from zoo_core.export.metadata import artifact_metadata, sha256_of, size_of
from zoo_core.export.staging import NAME_TAKEN_HINT, Stage, next_free_path, staged
from zoo_core.export.types import ExportContext, ExportResult
from zoo_core.export.verify import (THRESHOLD_CHECKS, compare_probabilities, compare_with_keras, describe_figures,
                                    failed_thresholds, keras_probabilities, verification_error, verification_slice)
from zoo_core.files import make_folders, move_into_place, remove_empty_folders, remove_quietly, temporary_beside
from zoo_core.predict.timing import median_latency_us

__all__ = [
    "NAME_TAKEN_HINT",
    "THRESHOLD_CHECKS",
    "ExportContext",
    "ExportResult",
    "Stage",
    "artifact_metadata",
    "compare_probabilities",
    "compare_with_keras",
    "describe_figures",
    "failed_thresholds",
    "keras_probabilities",
    "make_folders",
    "median_latency_us",
    "move_into_place",
    "next_free_path",
    "remove_empty_folders",
    "remove_quietly",
    "sha256_of",
    "size_of",
    "staged",
    "temporary_beside",
    "verification_error",
    "verification_slice",
]
