"""Writing a Keras model as a SavedModel with one ``serving_default`` signature.

Shared by the built-in ``savedmodel`` exporter and the ``tflite`` exporter,
which converts from it. TensorFlow is imported only when a model is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.errors import ExportError

#: The serving signature's output name.
OUTPUT_NAME = "probabilities"


def input_name(info: Any) -> str:
    """Name of the serving signature's input: ``image`` for image data, else ``inputs``."""
    return "image" if info.image else "inputs"


def write_savedmodel(model: Any, folder: Path, info: Any, dynamic_batch: bool = True) -> None:
    """Write ``model`` as a SavedModel with one ``serving_default`` signature.

    Input: ``image`` (or ``inputs``), shape ``(None, *info.input_shape)`` (batch
    1 if not ``dynamic_batch``), dtype ``info.input_dtype``; output:
    ``probabilities``. Used by the tflite exporter too, which converts from it.
    """
    import keras
    import tensorflow as tf

    name = input_name(info)
    spec = tf.TensorSpec((None if dynamic_batch else 1, *info.input_shape), tf.as_dtype(info.input_dtype), name=name)

    def serve(inputs: Any) -> dict[str, Any]:
        return {OUTPUT_NAME: model(inputs, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    try:
        archive.add_endpoint("serve", tf.function(serve, input_signature=[spec]))
        archive.write_out(str(folder), verbose=False)
    except Exception as error:  # noqa: BLE001 - tracing errors come in many types
        raise ExportError(f"cannot write the model as a SavedModel: {type(error).__name__}: {error}",
                          hint=f"the model must take inputs of shape (batch, {', '.join(map(str, info.input_shape))}) "
                               f"and dtype {info.input_dtype}, as the dataset declares") from None
