"""What an exporter receives (ExportContext) and returns (ExportResult)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo_core.data import Dataset


@dataclass
class ExportContext:
    """Everything an exporter needs.

    Args:
        model: the trained ``keras.Model`` (outputs class probabilities).
        dataset: the run's dataset; exporters calibrate on ``x_train`` and
            verify on ``x_test`` / ``y_test`` (of a streaming dataset, views
            that decode the examples indexed: take slices, not the whole).
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
        """The result as a plain dict (as stored in a run's manifest)."""
        return asdict(self)
