"""Writing a Keras model as a SavedModel with one ``serving_default`` signature.

Shared by the built-in ``savedmodel`` exporter and the ``tflite`` exporter,
which converts from it; the ``onnx`` exporter converts the same serving
function (:func:`serving_function`). TensorFlow is imported only when a
model is written.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any, Iterator

from zoo_core.errors import ExportError
from zoo_core.files import remove_quietly, temporary_beside

#: Inside :func:`reuse_savedmodels`: where copies are kept, and the copy of each (model, signature) written.
_REUSE: dict[str, Any] = {"folder": None, "written": {}}

#: The serving signature's output name.
OUTPUT_NAME = "probabilities"


def input_name(info: Any) -> str:
    """Name of the serving signature's input: ``image`` for image data, else ``inputs``."""
    return "image" if info.image else "inputs"


def serving_function(model: Any, info: Any, dynamic_batch: bool = True) -> Any:
    """The model's inference call as a ``tf.function``: input ``image`` (or ``inputs``), output ``probabilities``.

    Its input signature is ``(None, *info.input_shape)`` (batch 1 if not
    ``dynamic_batch``) of ``info.input_dtype``; the model is called with
    ``training=False``, so training-only layers (random shifts, dropout)
    are not in the traced graph.
    """
    import tensorflow as tf

    spec = tf.TensorSpec((None if dynamic_batch else 1, *info.input_shape), tf.as_dtype(info.input_dtype),
                         name=input_name(info))

    def serve(inputs: Any) -> dict[str, Any]:
        return {OUTPUT_NAME: model(inputs, training=False)}

    return tf.function(serve, input_signature=[spec])


def write_savedmodel(model: Any, folder: Path, info: Any, dynamic_batch: bool = True) -> None:
    """Write ``model`` as a SavedModel with one ``serving_default`` signature.

    Input: ``image`` (or ``inputs``), shape ``(None, *info.input_shape)`` (batch
    1 if not ``dynamic_batch``), dtype ``info.input_dtype``; output:
    ``probabilities``. Used by the tflite exporter too, which converts from it.
    """
    import keras

    serve = serving_function(model, info, dynamic_batch)
    (spec,) = serve.input_signature
    key = (id(model), tuple(spec.shape), spec.dtype.name, spec.name)
    if _REUSE["folder"] is not None and key in _REUSE["written"]:
        shutil.copytree(_REUSE["written"][key], folder, dirs_exist_ok=True)
        return
    archive = keras.export.ExportArchive()
    archive.track(model)
    try:
        archive.add_endpoint("serve", serve)
        archive.write_out(str(folder), verbose=False)
    except Exception as error:  # noqa: BLE001 - tracing errors come in many types
        raise ExportError(f"cannot write the model as a SavedModel: {type(error).__name__}: {error}",
                          hint=f"the model must take inputs of shape (batch, {', '.join(map(str, info.input_shape))}) "
                               f"and dtype {info.input_dtype}, as the dataset declares") from None
    if _REUSE["folder"] is not None:
        kept = Path(_REUSE["folder"]) / str(len(_REUSE["written"]))
        shutil.copytree(folder, kept)
        _REUSE["written"][key] = kept


@contextlib.contextmanager
def reuse_savedmodels(beside: Path) -> Iterator[None]:
    """Inside the block, a SavedModel written once is copied, not traced again, for the same model and signature.

    A run's exporters all start from one: the ``savedmodel`` exporter and
    each ``tflite`` variant (which converts from it). The copies are kept in
    a hidden zoo temporary folder beside ``beside`` (a killed process's is
    removed by the next resume or export), removed when the block ends. The
    model must not change inside the block.
    """
    if _REUSE["folder"] is not None:  # already inside one
        yield
        return
    folder = temporary_beside(Path(beside) / "savedmodel-copies")
    _REUSE.update(folder=folder, written={})
    try:
        yield
    finally:
        _REUSE.update(folder=None, written={})
        remove_quietly(folder)
