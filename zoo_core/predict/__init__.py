"""Run an exported model on new inputs: the Python API behind ``zoo predict``.

    predictor = load_predictor(Path("exports/mnist-mlp-int8.tflite"))
    x = load_input(Path("digit.png"), predictor.metadata["input"])
    print(top_classes(predictor.predict(x)[0], predictor.metadata["class_names"]))

A predictor is a ``.tflite`` file (run with ``ai_edge_litert``; TensorFlow is
not imported), an ``.onnx`` file (run with onnxruntime, the ``onnx`` extra;
TensorFlow is not imported either), a SavedModel (run with
``tf.saved_model.load``) or a run's ``model.keras``. Its
``metadata`` is what the exporter stored with it: ``class_names`` and the input
contract under ``input`` (the keys of ``DatasetInfo.to_dict()``: input_shape,
input_dtype, scale, offset, value_range, raw_value_range, channels, image,
and for feature vectors feature_names, feature_mean, feature_std).
``load_input`` reads images, ``.npy`` arrays and (for feature-vector models)
``.csv`` rows, and applies that contract: a model with per-feature
normalisation takes raw features.

Importing this package imports neither numpy nor TensorFlow. It never imports
``zoo_core.export`` (export builds on predict, not the reverse).
"""

from zoo_core.predict.checks import check_answers, check_model
from zoo_core.predict.inputs import MAX_ASPECT_CHANGE, load_input
from zoo_core.predict.metadata import SAVEDMODEL_METADATA, TFLITE_METADATA_NAME, read_tflite_metadata
from zoo_core.predict.loading import load_predictor
from zoo_core.predict.onnx_files import ONNX_METADATA_KEY, read_onnx_metadata
from zoo_core.predict.predictors import (BATCH, KerasPredictor, ONNXPredictor, Predictor, SavedModelPredictor,
                                         TFLitePredictor, top_classes)
from zoo_core.predict.timing import median_latency_us

__all__ = [
    "BATCH",
    "KerasPredictor",
    "MAX_ASPECT_CHANGE",
    "ONNXPredictor",
    "ONNX_METADATA_KEY",
    "Predictor",
    "SAVEDMODEL_METADATA",
    "SavedModelPredictor",
    "TFLITE_METADATA_NAME",
    "TFLitePredictor",
    "check_answers",
    "check_model",
    "load_input",
    "load_predictor",
    "median_latency_us",
    "read_onnx_metadata",
    "read_tflite_metadata",
    "top_classes",
]
