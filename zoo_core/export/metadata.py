"""The metadata stored with every artifact, and its size and digest."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from zoo_core.export.types import ExportContext


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


def artifact_metadata(context: ExportContext, format: str, variant: str) -> dict[str, Any]:
    """Metadata written with an artifact: the context's metadata (run id...), labels, input contract, versions.

    ``input`` is the dataset's input contract (:meth:`DatasetInfo.to_dict`:
    shape, dtype, value range, ``scale`` / ``offset``, and for feature
    vectors ``feature_names`` / ``feature_mean`` / ``feature_std``), which
    ``zoo predict`` uses to turn an image or raw features into a model input.
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
