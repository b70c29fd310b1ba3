"""What an exporter receives and returns, and the safe-write helpers it uses."""

from __future__ import annotations

import hashlib
import os
import shutil
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
    os.replace(temporary, final) if temporary.is_file() else os.rename(temporary, final)


def remove_quietly(path: Path) -> None:
    """Delete a temporary file or folder if it is there."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink(missing_ok=True)
