"""Exported models ready to answer: a ``.tflite`` file, a SavedModel folder, a ``.keras`` or an ``.onnx`` file.

See :mod:`zoo_core.predict` for the overview. Importing this module imports
neither numpy nor TensorFlow; each predictor imports its runtime when built.
"""

from __future__ import annotations

import math

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo_core._util.text import error_line
from zoo_core.errors import DataError
from zoo_core.predict.metadata import SAVEDMODEL_METADATA, read_json_object, tflite_metadata_or_sidecar
from zoo_core.predict.onnx_files import onnx_metadata_or_sidecar, onnx_session
from zoo_core.predict.timing import median_latency_us

if TYPE_CHECKING:
    import numpy as np

#: Largest batch run through a model at once.
BATCH = 1024
#: Most bytes of float32 input in one batch: a large input gets a smaller batch, so memory stays bounded (1,024
#: 96x96 RGB images are 113 MB of input and some GB of a convolutional network's activations).
BATCH_BYTES = 16 * 1024 * 1024


def batch_size(input_shape: tuple[int, ...]) -> int:
    """Examples run through a model at once: ``BATCH``, or fewer, for inputs over ``BATCH_BYTES`` a batch."""
    return max(1, min(BATCH, BATCH_BYTES // (4 * math.prod(input_shape))))


class Predictor:
    """An exported model ready to answer: ``metadata`` plus :meth:`predict`.

    Attributes:
        path: the file or SavedModel version folder it was loaded from.
        format: ``"tflite"``, ``"savedmodel"``, ``"keras"`` or ``"onnx"``.
        metadata: what the exporter stored with the model (``{}`` if nothing).
        input_shape: shape of one input example, read from the model itself.
    """

    format = ""

    def __init__(self, path: Path, metadata: dict[str, Any], input_shape: tuple[int, ...]) -> None:
        self.path = path
        self.metadata = metadata
        self.input_shape = input_shape

    def predict(self, x: "np.ndarray") -> "np.ndarray":
        """Class probabilities, shape ``(n, classes)``, for model-scaled inputs ``x``.

        ``x`` has shape ``(n, *input_shape)``, or ``input_shape`` for one example.
        """
        import numpy as np

        x = np.asarray(x)
        if x.shape == self.input_shape:
            x = x[np.newaxis]
        if x.shape[1:] != self.input_shape:
            raise DataError(f"input of shape {x.shape} does not fit the model '{self.path}', "
                            f"which expects (n, {', '.join(map(str, self.input_shape))})")
        if len(x) == 0:
            return np.zeros((0, self.num_classes()), dtype=np.float32)
        size = batch_size(self.input_shape)
        parts = [self._predict_batch(x[start:start + size]) for start in range(0, len(x), size)]
        return np.concatenate(parts).astype(np.float32)

    def num_classes(self) -> int:
        """Number of classes the model answers with."""
        raise NotImplementedError

    def latency_us(self, example: "np.ndarray", repeats: int = 200) -> float:
        """Median microseconds to answer one example (batch of 1), over ``repeats`` runs."""
        raise NotImplementedError

    def _predict_batch(self, x: "np.ndarray") -> "np.ndarray":
        raise NotImplementedError


class TFLitePredictor(Predictor):
    """A ``.tflite`` file run by ``ai_edge_litert``'s Interpreter.

    Inputs and outputs of integer (int8/uint8) models are quantised and
    dequantised with the tensors' own scale and zero point, so :meth:`predict`
    always takes and returns floats.
    """

    format = "tflite"

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(path))  # verifies the flatbuffer
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise DataError(f"'{path}' is not a valid TFLite model: {error_line(error)}",
                            hint="the file is truncated or corrupt; export the model again") from None
        metadata = tflite_metadata_or_sidecar(path)
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise DataError(f"'{path}' has {len(inputs)} inputs and {len(outputs)} outputs; "
                            "zoo predicts with single-input, single-output classifiers")
        self.input, self.output = inputs[0], outputs[0]
        signature = [int(size) for size in self.input["shape_signature"]]
        self.dynamic_batch = signature[0] == -1
        self.fixed_batch = 1 if self.dynamic_batch else signature[0]
        self._batch = -1
        super().__init__(path, metadata, tuple(signature[1:]))

    def num_classes(self) -> int:
        return int(self.output["shape"][-1])

    def latency_us(self, example: "np.ndarray", repeats: int = 200) -> float:
        self._resize(1)
        data = self._quantize(example.reshape((1, *self.input_shape)))
        index, output = self.input["index"], self.output["index"]

        def once() -> None:
            self.interpreter.set_tensor(index, data)
            self.interpreter.invoke()
            self.interpreter.get_tensor(output)

        return median_latency_us(once, repeats)

    def _predict_batch(self, x: "np.ndarray") -> "np.ndarray":
        import numpy as np

        if not self.dynamic_batch:
            # A model with a fixed batch answers in slices of that size (the last one padded).
            size = self.fixed_batch
            parts = [self._run(_pad(x[start:start + size], size))[: len(x[start:start + size])]
                     for start in range(0, len(x), size)]
            return np.concatenate(parts)
        self._resize(len(x))
        return self._run(x)

    def _run(self, x: "np.ndarray") -> "np.ndarray":
        self.interpreter.set_tensor(self.input["index"], self._quantize(x))
        self.interpreter.invoke()
        return self._dequantize(self.interpreter.get_tensor(self.output["index"]))

    def _resize(self, batch: int) -> None:
        if not self.dynamic_batch:
            return
        if batch != self._batch:
            self.interpreter.resize_tensor_input(self.input["index"], [batch, *self.input_shape])
            self.interpreter.allocate_tensors()
            self._batch = batch

    def _quantize(self, x: "np.ndarray") -> "np.ndarray":
        import numpy as np

        dtype = np.dtype(self.input["dtype"])
        if dtype.kind == "f":
            return np.asarray(x, dtype=dtype)
        scale, zero_point = self.input["quantization"]
        limits = np.iinfo(dtype)
        quantized = np.round(np.asarray(x, dtype=np.float32) / scale + zero_point)
        return np.clip(quantized, limits.min, limits.max).astype(dtype)

    def _dequantize(self, y: "np.ndarray") -> "np.ndarray":
        import numpy as np

        if np.dtype(self.output["dtype"]).kind == "f":
            return y.astype(np.float32)
        scale, zero_point = self.output["quantization"]
        return (y.astype(np.float32) - zero_point) * np.float32(scale)


class SavedModelPredictor(Predictor):
    """A SavedModel version folder run through its ``serving_default`` signature."""

    format = "savedmodel"

    def __init__(self, folder: Path) -> None:
        _check_savedmodel_folder(folder)
        metadata_file = folder / SAVEDMODEL_METADATA
        metadata = read_json_object(metadata_file) if metadata_file.is_file() else {}
        self.loaded = _load_savedmodel(folder)  # keep it: the signature reads its variables
        self.signature = _serving_signature(self.loaded, folder)
        inputs = self.signature.structured_input_signature[1]
        if len(inputs) != 1:
            raise DataError(f"SavedModel '{folder}': serving_default takes {len(inputs)} inputs; "
                            "zoo predicts with single-input classifiers")
        (self.input_name, spec), = inputs.items()
        outputs = self.signature.structured_outputs
        self.output_name = "probabilities" if "probabilities" in outputs else next(iter(outputs))
        self.input_dtype = spec.dtype.as_numpy_dtype
        shape = spec.shape.as_list()
        self.fixed_batch = shape[0]
        answer = outputs[self.output_name].shape
        if answer.rank != 2 or answer[-1] is None:
            raise DataError(f"SavedModel '{folder}': serving_default answers with shape {answer}, not (n, classes)",
                            hint="zoo predicts with classifiers whose output is one row of probabilities per input")
        self._classes = answer[-1]
        super().__init__(folder, metadata, tuple(shape[1:]))

    def num_classes(self) -> int:
        return int(self._classes)

    def latency_us(self, example: "np.ndarray", repeats: int = 200) -> float:
        import tensorflow as tf

        tensor = tf.constant(example.reshape((1, *self.input_shape)).astype(self.input_dtype))
        return median_latency_us(lambda: self.signature(**{self.input_name: tensor})[self.output_name].numpy(),
                                 repeats)

    def _predict_batch(self, x: "np.ndarray") -> "np.ndarray":
        import numpy as np
        import tensorflow as tf

        size = self.fixed_batch or len(x)
        parts = []
        for start in range(0, len(x), size):
            chunk = x[start:start + size]
            batch = tf.constant(_pad(chunk, size).astype(self.input_dtype))
            parts.append(self.signature(**{self.input_name: batch})[self.output_name].numpy()[: len(chunk)])
        return np.concatenate(parts)


class KerasPredictor(Predictor):
    """A ``.keras`` model; metadata from its JSON sidecar, or from the run's ``manifest.json`` beside it."""

    format = "keras"

    def __init__(self, path: Path) -> None:
        import keras

        try:
            self.model = keras.saving.load_model(path, safe_mode=True)
        except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a damaged file
            raise DataError(f"Keras model '{path}' cannot be loaded: {error_line(error)}") from None
        manifest = path.parent / "manifest.json"
        sidecar = path.with_suffix(".json")
        metadata: dict[str, Any] = {}
        if sidecar.is_file():  # an exported .keras file carries its metadata beside it, like a .tflite
            metadata = read_json_object(sidecar)
        elif manifest.is_file():
            record = read_json_object(manifest)
            dataset = record.get("dataset") or {}
            if not isinstance(dataset, dict):
                raise DataError(f"'{manifest}': its 'dataset' entry is not a table of keys (the model's input "
                                "contract and class names)", hint="the run's manifest.json is damaged")
            metadata = {"run_id": record.get("run_id", path.parent.name), "input": dataset,
                        "class_names": dataset.get("class_names", [])}
        _check_keras_signature(self.model, path)
        super().__init__(path, metadata, tuple(self.model.input_shape[1:]))

    def num_classes(self) -> int:
        return int(self.model.output_shape[-1])

    def latency_us(self, example: "np.ndarray", repeats: int = 200) -> float:
        one = example.reshape((1, *self.input_shape))
        return median_latency_us(lambda: self.model(one, training=False), repeats)

    def _predict_batch(self, x: "np.ndarray") -> "np.ndarray":
        import keras

        return keras.ops.convert_to_numpy(self.model(x, training=False))


class ONNXPredictor(Predictor):
    """A ``.onnx`` file run by onnxruntime on the CPU (the ``onnx`` extra: ``pip install 'zoo[onnx]'``)."""

    format = "onnx"

    def __init__(self, path: Path) -> None:
        self.session = onnx_session(path)
        metadata = onnx_metadata_or_sidecar(self.session, path)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise DataError(f"'{path}' has {len(inputs)} inputs and {len(outputs)} outputs; "
                            "zoo predicts with single-input, single-output classifiers")
        self.input, self.output = inputs[0], outputs[0]
        shape, answer = list(self.input.shape), list(self.output.shape)
        if len(shape) < 2 or not all(isinstance(size, int) for size in shape[1:]):
            raise DataError(f"ONNX model '{path}' takes inputs of shape {shape}: zoo needs the size of every "
                            "dimension but the first (the batch)")
        if len(answer) != 2 or not isinstance(answer[-1], int):
            raise DataError(f"ONNX model '{path}' answers with shape {answer}, not (n, classes)",
                            hint="zoo predicts with classifiers whose output is one row of probabilities per input")
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.input_dtype = _onnx_dtype(self.input.type, path)
        super().__init__(path, metadata, tuple(shape[1:]))

    def num_classes(self) -> int:
        return int(self.output.shape[-1])

    def latency_us(self, example: "np.ndarray", repeats: int = 200) -> float:
        feed = {self.input.name: _pad(example.reshape((1, *self.input_shape)), self.fixed_batch or 1)
                .astype(self.input_dtype)}
        names = [self.output.name]
        return median_latency_us(lambda: self.session.run(names, feed), repeats)

    def _predict_batch(self, x: "np.ndarray") -> "np.ndarray":
        import numpy as np

        size = self.fixed_batch or len(x)
        parts = []
        for start in range(0, len(x), size):
            chunk = x[start:start + size]
            feed = {self.input.name: _pad(chunk, size).astype(self.input_dtype)}
            parts.append(self.session.run([self.output.name], feed)[0][: len(chunk)])
        return np.concatenate(parts)


def _onnx_dtype(type_name: str, path: Path) -> Any:
    """The numpy dtype of an onnxruntime tensor type such as ``tensor(float)``."""
    import numpy as np

    inner = type_name.removeprefix("tensor(").removesuffix(")")
    try:
        return np.dtype({"float": "float32", "double": "float64"}.get(inner, inner))
    except TypeError:
        raise DataError(f"ONNX model '{path}' takes inputs of type {type_name}, not numbers",
                        hint="zoo predicts with models that take numeric arrays") from None


def _check_keras_signature(model: Any, path: Path) -> None:
    """Refuse a Keras model that is not a single-input classifier answering (n, classes)."""
    inputs, outputs = model.input_shape, model.output_shape
    if not isinstance(inputs, tuple) or not isinstance(outputs, tuple):
        raise DataError(f"Keras model '{path}' has several inputs or outputs; "
                        "zoo predicts with single-input, single-output classifiers")
    if len(outputs) != 2 or not isinstance(outputs[-1], int):
        raise DataError(f"Keras model '{path}' answers with shape {outputs}, not (n, classes)",
                        hint="zoo predicts with classifiers whose output is one row of probabilities per input")


def _check_savedmodel_folder(folder: Path) -> None:
    """Refuse a SavedModel folder with missing parts before TensorFlow sees it."""
    if not (folder / "saved_model.pb").is_file():
        raise DataError(f"'{folder}' is not a SavedModel: it has no saved_model.pb",
                        hint="pass a SavedModel version folder, e.g. exports/mnist-mlp/1")
    variables = folder / "variables"
    if not (variables / "variables.index").is_file() or not list(variables.glob("variables.data-*")):
        raise DataError(f"SavedModel '{folder}' is incomplete: its variables/ folder "
                        "(variables.index and variables.data-*) is missing",
                        hint="copy the whole version folder, or export the model again")


def _load_savedmodel(folder: Path) -> Any:
    import tensorflow as tf

    try:
        return tf.saved_model.load(str(folder))
    except Exception as error:  # noqa: BLE001 - TensorFlow raises many kinds for a damaged model
        raise DataError(f"SavedModel '{folder}' cannot be loaded: {error_line(error)}",
                        hint="the folder is incomplete or corrupt; export the model again") from None


def _serving_signature(loaded: Any, folder: Path) -> Any:
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise DataError(f"SavedModel '{folder}' has no serving_default signature "
                        f"(it has: {', '.join(loaded.signatures) or 'none'})")
    return signature


def _pad(x: "np.ndarray", size: int) -> "np.ndarray":
    """``x`` padded with zero examples to ``size`` rows (a fixed-batch model needs full batches)."""
    import numpy as np

    if len(x) == size:
        return x
    padding = np.zeros((size - len(x), *x.shape[1:]), dtype=x.dtype)
    return np.concatenate([x, padding])


def top_classes(probabilities: "np.ndarray", class_names: list[str] | None = None, k: int = 3) -> list[dict[str, Any]]:
    """The ``k`` most probable classes of one example, best first.

    ``probabilities`` is one row of :meth:`Predictor.predict` (shape
    ``(classes,)``, or ``(1, classes)``). Returns ``[{"index", "name",
    "probability"}, ...]``; a class without a name is named by its index.
    """
    import numpy as np

    row = np.asarray(probabilities, dtype=np.float64)
    if row.ndim == 2 and row.shape[0] == 1:
        row = row[0]
    if row.ndim != 1:
        raise ValueError(f"top_classes takes one example's probabilities, got shape {row.shape}")
    names = list(class_names or [])
    order = np.argsort(-row, kind="stable")[: max(0, k)]
    return [{"index": int(index),
             "name": names[index] if index < len(names) else str(index),
             "probability": float(row[index])}
            for index in order]
