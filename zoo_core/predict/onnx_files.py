"""ONNX files: opening one with onnxruntime (or saying which extra that needs), and the zoo metadata inside.

The ``onnx`` exporter stores zoo's metadata as JSON in the model's
``metadata_props`` under :data:`ONNX_METADATA_KEY`; onnxruntime reads it
back (``custom_metadata_map``), so a serving machine needs onnxruntime and
numpy, not the ``onnx`` package or TensorFlow. Importing this module imports
neither numpy nor onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo_core._util.text import error_line
from zoo_core.errors import ConfigError, DataError
from zoo_core.predict.metadata import read_json_object

#: The metadata property zoo writes into an ``.onnx`` file (the name of the TFLite entry too).
ONNX_METADATA_KEY = "zoo_metadata"

#: What installs onnxruntime, the runtime zoo runs ``.onnx`` files with.
ONNX_EXTRA = "zoo[onnx]"


def onnx_session(path: Path) -> Any:
    """An onnxruntime ``InferenceSession`` of ``path`` on the CPU, its log lines below errors hidden.

    Raises ConfigError (exit code 2) with the pip command if onnxruntime is
    not installed, DataError if the file is not a valid ONNX model.
    """
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(f"ONNX model '{path}' needs onnxruntime, which is not installed: "
                          f"pip install '{ONNX_EXTRA}'",
                          hint=f"install it (pip install '{ONNX_EXTRA}'), or use the run's .tflite or SavedModel "
                               "export") from None
    if not Path(path).is_file():
        raise DataError(f"model file '{path}' does not exist")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own kinds for a damaged file
        raise DataError(f"'{path}' is not a valid ONNX model: {error_line(error)}",
                        hint="the file is truncated or corrupt; export the model again") from None


def embedded_onnx_metadata(session: Any, path: Path) -> dict[str, Any] | None:
    """The zoo metadata in the ``metadata_props`` of the model ``session`` runs, or None if it has none."""
    raw = session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY)
    if raw is None:
        return None
    try:
        metadata = json.loads(raw)
    except json.JSONDecodeError as error:
        raise DataError(f"'{path}': the '{ONNX_METADATA_KEY}' metadata property is not valid JSON ({error})") from None
    if not isinstance(metadata, dict):
        raise DataError(f"'{path}': the '{ONNX_METADATA_KEY}' metadata property is not a JSON object")
    return metadata


def read_onnx_metadata(path: Path) -> dict[str, Any]:
    """The zoo metadata stored inside an ``.onnx`` file (its ``zoo_metadata`` metadata property).

    Labels, input contract, tensors, versions and the run it came from.
    Raises DataError if the file is not an ONNX model or carries no zoo
    metadata, ConfigError if onnxruntime is not installed.
    """
    metadata = embedded_onnx_metadata(onnx_session(Path(path)), Path(path))
    if metadata is None:
        raise DataError(f"'{path}' carries no '{ONNX_METADATA_KEY}' metadata property",
                        hint="it was not written by zoo's onnx exporter; a JSON sidecar may be beside it")
    return metadata


def onnx_metadata_or_sidecar(session: Any, path: Path) -> dict[str, Any]:
    """Metadata embedded in the file; else its JSON sidecar; else ``{}``."""
    metadata = embedded_onnx_metadata(session, path)
    if metadata is not None:
        return metadata
    sidecar = path.with_suffix(".json")
    return read_json_object(sidecar) if sidecar.is_file() else {}
