"""The metadata zoo stores with an exported model: inside a ``.tflite`` flatbuffer, or as a JSON file.

Importing this module imports neither numpy nor TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo_core.errors import DataError

#: Name of the metadata entry that zoo writes into a ``.tflite`` flatbuffer.
TFLITE_METADATA_NAME = "zoo_metadata"

#: Where the SavedModel exporter writes its metadata, relative to the version folder.
SAVEDMODEL_METADATA = Path("assets.extra") / "zoo_metadata.json"


def read_tflite_metadata(path: Path) -> dict[str, Any]:
    """The zoo metadata stored inside a ``.tflite`` file (its ``zoo_metadata`` entry).

    Needs only the file: labels, input contract, quantisation parameters of
    the input and output tensors, versions and the run it came from. Raises
    DataError if the file is not a TFLite model or carries no zoo metadata.
    """
    metadata = embedded_metadata(Path(path))
    if metadata is None:
        raise DataError(f"'{path}' carries no '{TFLITE_METADATA_NAME}' metadata entry",
                        hint="it was not written by zoo's tflite exporter; a JSON sidecar may be beside it")
    return metadata


def embedded_metadata(path: Path) -> dict[str, Any] | None:
    """The zoo metadata inside a ``.tflite`` file, or None if it has none."""
    content = _read_bytes(path)
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise DataError(f"'{path}' is not a TFLite model (no TFL3 file identifier)",
                        hint="pass a .tflite file written by the tflite exporter")
    raw = _metadata_entry(content, path)
    if raw is None:
        return None
    try:
        metadata = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"'{path}': the '{TFLITE_METADATA_NAME}' entry is not valid JSON ({error})") from None
    if not isinstance(metadata, dict):
        raise DataError(f"'{path}': the '{TFLITE_METADATA_NAME}' entry is not a JSON object")
    return metadata


def _metadata_entry(content: bytes, path: Path) -> bytes | None:
    """The bytes of the zoo metadata buffer of a TFLite flatbuffer, or None if it has none."""
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAs(content, 0)
        for index in range(model.MetadataLength()):
            entry = model.Metadata(index)
            if (entry.Name() or b"").decode("utf-8", "replace") != TFLITE_METADATA_NAME:
                continue
            buffer = model.Buffers(entry.Buffer())
            if buffer.Offset() > 1:  # large models keep buffers after the flatbuffer
                return content[buffer.Offset(): buffer.Offset() + buffer.Size()]
            return buffer.DataAsNumpy().tobytes()
    except Exception as error:  # noqa: BLE001 - any parse failure means a damaged file
        raise DataError(f"'{path}' is truncated or corrupt: cannot read its flatbuffer ({type(error).__name__})",
                        hint="export the model again") from None
    return None


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"model file '{path}' does not exist")
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read '{path}': {error.strerror or error}") from None


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in a metadata file (a sidecar, a manifest); DataError if unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"metadata file '{path}' is unreadable or not JSON ({error})") from None
    if not isinstance(data, dict):
        raise DataError(f"metadata file '{path}' does not hold a JSON object")
    return data


def tflite_metadata_or_sidecar(path: Path) -> dict[str, Any]:
    """Metadata embedded in the file; else its JSON sidecar; else ``{}``."""
    metadata = embedded_metadata(path)
    if metadata is not None:
        return metadata
    sidecar = path.with_suffix(".json")
    return read_json_object(sidecar) if sidecar.is_file() else {}
