"""Built-in exporter: TFLite for phones, with optional quantisation, verified after writing."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Literal

from zoo_core import Component, hookimpl

__all__ = ["tflite", "embed_metadata", "THRESHOLDS"]

#: Verification limits per variant (see ``zoo_core.export.failed_thresholds`` for the keys).
THRESHOLDS: dict[str, dict[str, float]] = {
    "float32": {"max_abs_diff": 1e-5, "min_argmax_agreement": 0.999},
    "float16": {"max_abs_diff": 1e-2, "min_argmax_agreement": 0.99},
    "dynamic": {"min_argmax_agreement": 0.99, "max_accuracy_drop": 0.01},
    "int8": {"min_argmax_agreement": 0.99, "max_accuracy_drop": 0.01},
}

#: Below this many calibration images an int8 model may be poorly calibrated.
FEW_CALIBRATION_SAMPLES = 100


def tflite(context: Any, quantize: Literal["none", "float16", "dynamic", "int8"] = "none",
           io_type: Literal["float32", "int8", "uint8"] = "float32", calibration_samples: int = 500,
           dynamic_batch: bool = True, verify_samples: int = 0) -> Any:
    """TFLite flatbuffer for mobile (float32, float16, dynamic-range or full int8).

    Writes ``<dest>/<model name>-<variant>.tflite`` (variant: float32,
    float16, dynamic, int8; ``int8-int8`` / ``int8-uint8`` for integer
    input/output) and a JSON sidecar of the same name. An existing file is
    never overwritten: the next free name is used (``...-int8-2.tflite``).
    The file carries its metadata (labels, input contract, quantisation
    parameters, versions, run) in a ``zoo_metadata`` flatbuffer entry; read it
    with ``zoo_core.predict.read_tflite_metadata``. The model is converted through a
    SavedModel with builtin ops only, run with ai_edge_litert's Interpreter
    on the test set and checked against the Keras model before it is moved
    into place; a failed check leaves nothing at the destination.

    Args:
        quantize: none (float32), float16, dynamic (int8 weights) or int8 (full integer).
        io_type: input/output type of an int8 model: float32, int8 or uint8.
        calibration_samples: training images used to calibrate int8 (warning below 100).
        dynamic_batch: allow any batch size (resize_tensor_input); else batch 1.
        verify_samples: test examples run through the TFLite interpreter (0: all).
    """
    from zoo_core.export import ExportResult, failed_thresholds, sha256_of, staged, verification_error

    check_options(context, quantize, io_type, calibration_samples, verify_samples)
    variant = variant_name(quantize, io_type)
    thresholds = dict(THRESHOLDS[variant.split("-")[0]])
    with staged(Path(context.destination), f"{context.model_name}-{variant}", ".tflite", exporter="tflite",
                companions=(".json",)) as stage:
        start = time.perf_counter()
        content = convert(context, quantize, io_type, calibration_samples, dynamic_batch)
        conversion_seconds = time.perf_counter() - start
        metadata = tflite_metadata(context, content, variant, quantize, io_type, calibration_samples, dynamic_batch)
        stage.path.write_bytes(embed_metadata(content, metadata))
        figures = verify_tflite(stage.path, context, verify_samples)
        figures["conversion_seconds"] = conversion_seconds
        failures = failed_thresholds(figures, thresholds)
        if failures:
            raise verification_error(f"tflite {variant} {stage.final.name}", failures, figures)
        size, digest = stage.path.stat().st_size, sha256_of(stage.path)
        sidecar = {**metadata, "file": stage.final.name, "size_bytes": size, "sha256": digest,
                   "verification": {"figures": figures, "thresholds": thresholds}}
        stage.companion(".json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    # staged moved the .tflite first, then its sidecar: the model carries its metadata, so a stop
    # between the two moves leaves a usable model without its sidecar, never a sidecar without a model.
    return ExportResult(format="tflite", variant=variant, path=str(stage.final), size_bytes=size, sha256=digest,
                        figures=figures, thresholds=thresholds)


def variant_name(quantize: str, io_type: str) -> str:
    """The variant in file names and results: float32, float16, dynamic, int8, int8-int8 or int8-uint8."""
    if quantize == "none":
        return "float32"
    if quantize == "int8" and io_type != "float32":
        return f"int8-{io_type}"
    return quantize


def check_options(context: Any, quantize: str, io_type: str, calibration_samples: int, verify_samples: int) -> None:
    """Refuse incompatible parameters before any conversion work; warn about thin calibration."""
    from zoo_core.errors import ExportError

    if quantize not in ("none", "float16", "dynamic", "int8"):
        raise ExportError(f"tflite: quantize must be none, float16, dynamic or int8, got {quantize!r}")
    if io_type not in ("float32", "int8", "uint8"):
        raise ExportError(f"tflite: io_type must be float32, int8 or uint8, got {io_type!r}")
    if io_type != "float32" and quantize != "int8":
        raise ExportError(f"tflite: io_type={io_type} needs quantize=int8 (full integer); "
                          f"a {quantize} model computes in floating point and takes float32 inputs",
                          hint=f"use --set quantize=int8 with io_type={io_type}, or io_type=float32")
    if verify_samples < 0:
        raise ExportError(f"tflite: verify_samples must be 0 (all) or positive, got {verify_samples}")
    if quantize != "int8":
        return
    if not str(context.dataset.info.input_dtype).startswith("float"):
        raise ExportError(f"tflite: quantize=int8 needs float inputs; this dataset's inputs are "
                          f"{context.dataset.info.input_dtype}", hint="use quantize=dynamic or none")
    available = len(context.dataset.x_train)
    if calibration_samples < 1:
        raise ExportError(f"tflite: calibration_samples must be at least 1, got {calibration_samples}",
                          hint="a few hundred training images calibrate int8 well, e.g. 500")
    used = min(calibration_samples, available)
    if used < FEW_CALIBRATION_SAMPLES:
        print(f"warning: tflite int8 calibrates on only {used} training images "
              f"(fewer than {FEW_CALIBRATION_SAMPLES}); accuracy may suffer", file=sys.stderr)


def convert(context: Any, quantize: str, io_type: str, calibration_samples: int, dynamic_batch: bool) -> bytes:
    """Convert the Keras model to TFLite bytes: ``model.export`` to a SavedModel, then ``from_saved_model``.

    Builtin ops only (never the Flex delegate); raises ExportError with the
    converter's message if an op has no builtin TFLite kernel.
    """
    import tensorflow as tf

    from zoo_core.errors import ExportError
    from zoo_core.export import remove_quietly, temporary_beside
    from zoo_core.export.savedmodel_io import write_savedmodel

    # The intermediate SavedModel goes beside the destination (a hidden zoo temporary that the next resume or
    # export of the run removes if this process is killed), never into the system's shared temporary folder.
    scratch = temporary_beside(Path(context.destination) / f"{context.model_name}-tflite-scratch")
    try:
        scratch.mkdir(parents=True)
        folder = scratch / "savedmodel"
        write_savedmodel(context.model, folder, context.dataset.info, dynamic_batch=dynamic_batch)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(folder), signature_keys=["serving_default"])
        configure(converter, context, quantize, io_type, calibration_samples)
        try:
            content = converter.convert()
        except Exception as error:  # noqa: BLE001 - the converter raises many kinds
            raise ExportError(f"tflite ({quantize}): conversion failed: {last_lines(error)}",
                              hint="the model may use an op without a builtin TFLite kernel "
                                   "(zoo never uses the Flex delegate); try quantize=none") from None
    finally:
        remove_quietly(scratch)
    check_builtin_ops(content)
    return bytes(content)


def configure(converter: Any, context: Any, quantize: str, io_type: str, calibration_samples: int) -> None:
    """Set the converter's ops and optimisations for one quantisation variant."""
    import tensorflow as tf

    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "none":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.representative_dataset = representative_dataset(context.dataset.x_train, calibration_samples)
        if io_type != "float32":
            converter.inference_input_type = tf.as_dtype(io_type)
            converter.inference_output_type = tf.as_dtype(io_type)


def representative_dataset(x_train: Any, samples: int) -> Any:
    """A calibration generator: ``samples`` training images in a fixed random order, one per batch."""
    import numpy as np

    chosen = np.random.default_rng(0).permutation(len(x_train))[:samples]

    def generate() -> Any:
        for index in chosen:
            yield [np.asarray(x_train[index:index + 1], dtype=np.float32)]

    return generate


def check_builtin_ops(content: bytes) -> None:
    """Raise ExportError if the model uses custom or Flex ops (it would not run on a stock runtime)."""
    from ai_edge_litert import schema_py_generated as schema

    from zoo_core.errors import ExportError

    model = schema.Model.GetRootAs(content, 0)
    custom = [(model.OperatorCodes(i).CustomCode() or b"").decode() for i in range(model.OperatorCodesLength())]
    custom = [name for name in custom if name]
    if custom:
        raise ExportError(f"tflite: the converted model needs non-builtin ops: {', '.join(sorted(set(custom)))}",
                          hint="zoo exports builtin ops only; change the architecture")


def tflite_metadata(context: Any, content: bytes, variant: str, quantize: str, io_type: str,
                    calibration_samples: int, dynamic_batch: bool) -> dict[str, Any]:
    """Metadata for the flatbuffer: the common artifact metadata plus tensors and conversion options."""
    from ai_edge_litert.interpreter import Interpreter

    from zoo_core.export import artifact_metadata
    from zoo_core.export.savedmodel_io import OUTPUT_NAME, input_name

    interpreter = Interpreter(model_content=content)
    metadata = artifact_metadata(context, "tflite", variant)
    metadata["signature"] = {"key": "serving_default", "input": input_name(context.dataset.info),
                             "output": OUTPUT_NAME}
    metadata["tensors"] = {"input": tensor_facts(interpreter.get_input_details()[0]),
                           "output": tensor_facts(interpreter.get_output_details()[0])}
    metadata["conversion"] = {"quantize": quantize, "io_type": io_type, "dynamic_batch": dynamic_batch,
                              "calibration_samples": min(calibration_samples, len(context.dataset.x_train))
                              if quantize == "int8" else 0,
                              "ops": "builtin"}
    return metadata


def tensor_facts(details: dict[str, Any]) -> dict[str, Any]:
    """Name, shape (batch -1 if dynamic), dtype and quantisation (scale, zero point) of one tensor."""
    import numpy as np

    scale, zero_point = details["quantization"]
    return {
        "name": details["name"],
        "shape": [int(size) for size in details["shape_signature"]],
        "dtype": np.dtype(details["dtype"]).name,
        "quantization": {"scale": float(scale), "zero_point": int(zero_point)},
    }


def embed_metadata(content: bytes, metadata: dict[str, Any]) -> bytes:
    """Return ``content`` with ``metadata`` as JSON in a ``zoo_metadata`` flatbuffer metadata entry.

    The TFLite schema lets a model carry named metadata buffers (as
    tflite-support does); runtimes ignore entries they do not know.
    """
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    from zoo_core.predict import TFLITE_METADATA_NAME

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(content, 0))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    model.buffers = list(model.buffers or []) + [buffer]
    entry = schema.MetadataT()
    entry.name = TFLITE_METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [item for item in (model.metadata or []) if item.name != TFLITE_METADATA_NAME.encode()] + [entry]
    builder = flatbuffers.Builder(len(content) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def verify_tflite(path: Path, context: Any, verify_samples: int) -> dict[str, Any]:
    """Run ``path`` with ai_edge_litert's Interpreter on the test set and compare with the Keras model."""
    from zoo_core.export import compare_with_keras
    from zoo_core.predict import TFLitePredictor

    return compare_with_keras(TFLitePredictor(path), context, verify_samples)


def last_lines(error: BaseException, count: int = 3) -> str:
    """The last non-empty lines of an error message (converter errors are long)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or type(error).__name__


@hookimpl
def register_exporters() -> list[Component]:
    return [Component("tflite", tflite)]
