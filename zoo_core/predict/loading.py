"""Which predictor a path needs: a ``.tflite``, ``.onnx`` or ``.keras`` file, or a SavedModel folder.

Importing this module imports neither numpy nor a runtime; the predictor
imports its own when built.
"""

from __future__ import annotations

from pathlib import Path

from zoo_core.errors import DataError
from zoo_core.predict.checks import check_model
from zoo_core.predict.predictors import KerasPredictor, ONNXPredictor, Predictor, SavedModelPredictor, TFLitePredictor

#: The model files zoo runs, by suffix (a SavedModel is a folder).
MODEL_FILES = {".tflite": TFLitePredictor, ".onnx": ONNXPredictor, ".keras": KerasPredictor}

#: What to pass instead of something that is not a model.
MODEL_HINT = ("pass a .tflite file, an .onnx file, a SavedModel version folder (e.g. exports/mnist-mlp/1), "
              "a run's model.keras, or a run id")


def load_predictor(path: Path) -> Predictor:
    """Load an exported model: a ``.tflite`` file, an ``.onnx`` file, a SavedModel
    version folder, a SavedModel model folder holding integer version folders
    (the highest is used), or a run's ``model.keras`` (metadata from the run's
    ``manifest.json``).

    Raises DataError, with a clear message, for a missing, corrupt or incomplete
    model, and for metadata that does not fit the model (:func:`check_model`);
    ConfigError (with the pip command) for an ``.onnx`` file without onnxruntime.
    """
    predictor = _load(Path(path))
    check_model(predictor)
    return predictor


def _load(path: Path) -> Predictor:
    if not path.exists():
        raise DataError(f"model '{path}' does not exist",
                        hint="pass a .tflite file, an .onnx file or a SavedModel folder, e.g. exports/mnist-mlp/1")
    if path.is_file():
        predictor = MODEL_FILES.get(path.suffix.lower())
        if predictor is None:
            raise DataError(f"model '{path}' is not a .tflite, .onnx or .keras file, or a SavedModel folder",
                            hint=MODEL_HINT)
        return predictor(path)
    if (path / "saved_model.pb").exists():
        return SavedModelPredictor(path)
    versions = [child for child in path.iterdir() if child.is_dir() and child.name.isdigit()]
    if versions:
        return SavedModelPredictor(max(versions, key=lambda child: int(child.name)))
    return SavedModelPredictor(path)  # reports what is missing
