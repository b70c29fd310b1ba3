"""Built-in exporter: ONNX for onnxruntime and other runtimes (an optional extra: ``pip install 'zoo[onnx]'``).

Conversion is tf2onnx's ``from_function`` on the SavedModel's serving
function (``zoo_core.export.savedmodel_io.serving_function``: the model
called with ``training=False``, input ``image`` or ``inputs``, output
``probabilities``, a dynamic batch). tf2onnx's ``from_keras`` fails on Keras
3 models; Keras' own ``model.export(path, format="onnx")`` calls the model
in its default mode, which leaves training-only layers (the recipes' random
shifts) in the graph as TensorFlow ops that ONNX does not have. The file is
then made reproducible (see :func:`normalise`) and carries zoo's metadata
in its ``metadata_props``. Without tf2onnx and
onnxruntime installed, ``zoo list`` shows the component as needing the
extra and a run that asks for it fails before any work with the install
command (the component's ``requires``).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Annotated, Any, Iterator

from zoo_core import Component, Range, hookimpl

__all__ = ["onnx", "normalise", "THRESHOLDS"]

#: Verification limits (see ``zoo_core.export.failed_thresholds`` for the keys): float32 as TFLite float32.
THRESHOLDS: dict[str, float] = {"max_abs_diff": 1e-5, "min_argmax_agreement": 0.999}

#: The ONNX opsets tf2onnx 1.17 writes (15 is its default, read by runtimes from onnxruntime 1.10 on).
Opset = Annotated[int, Range(13, 18)]

#: Operator domains every ONNX runtime implements; an op elsewhere, or unknown to ONNX, is a left-over TensorFlow op.
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})

#: The name of the dynamic batch dimension of the input and the output.
BATCH_DIMENSION = "batch"


def onnx(context: Any, opset: Opset = 15, verify_samples: int = 0) -> Any:
    """ONNX model (float32, any batch size) for onnxruntime and other ONNX runtimes.

    Writes ``<dest>/<model name>.onnx`` and a JSON sidecar of the same
    name; an existing file is never overwritten (the next free name is used,
    ``...-2.onnx``). The input is ``image`` (or ``inputs`` for feature
    vectors), shape ``(batch, *input_shape)``, the output ``probabilities``.
    The file carries zoo's metadata (labels, input contract, versions, run)
    as JSON in its ``metadata_props`` under ``zoo_metadata``: read it with
    ``zoo_core.predict.read_onnx_metadata``. Two exports of one model give
    the same bytes. The file is run with onnxruntime on the test set and
    checked against the Keras model before it is moved into place; a failed
    check leaves nothing at the destination.

    Args:
        opset: ONNX opset to write (13 to 18; older runtimes need lower ones).
        verify_samples: test examples run through onnxruntime (0: all).
    """
    from zoo_core.errors import ExportError
    from zoo_core.export import ExportResult, failed_thresholds, sha256_of, staged, verification_error

    if not 13 <= opset <= 18:
        raise ExportError(f"onnx: opset must be 13 to 18, got {opset}")
    if verify_samples < 0:
        raise ExportError(f"onnx: verify_samples must be 0 (all) or positive, got {verify_samples}")
    thresholds = dict(THRESHOLDS)
    with staged(Path(context.destination), context.model_name, ".onnx", exporter="onnx",
                companions=(".json",)) as stage:
        start = time.perf_counter()
        model = convert(context, opset)
        conversion_seconds = time.perf_counter() - start
        metadata = onnx_metadata(context, model, opset)
        write_model(model, metadata, stage.path)
        figures = verify_onnx(stage.path, context, verify_samples)
        figures["conversion_seconds"] = conversion_seconds
        failures = failed_thresholds(figures, thresholds)
        if failures:
            error = verification_error(f"onnx {stage.final.name}", failures, figures)
            error.hint = ("onnxruntime answers differently from the Keras model: a conversion problem; "
                          "try another opset (--set opset=17), or export savedmodel or tflite instead")
            raise error
        size, digest = stage.path.stat().st_size, sha256_of(stage.path)
        sidecar = {**metadata, "file": stage.final.name, "size_bytes": size, "sha256": digest,
                   "verification": {"figures": figures, "thresholds": thresholds}}
        stage.companion(".json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    # as for tflite: the model moves first, then its sidecar; the model carries its own metadata.
    return ExportResult(format="onnx", variant="float32", path=str(stage.final), size_bytes=size, sha256=digest,
                        figures=figures, thresholds=thresholds)


def convert(context: Any, opset: int) -> Any:
    """The Keras model as a normalised ONNX ``ModelProto``: tf2onnx on zoo's serving function.

    The function is the SavedModel's (``serving_function``: the model called
    with ``training=False``, the input named, a dynamic batch). Raises
    ExportError with the converter's message if it fails, or if an op has no
    standard ONNX equivalent (tf2onnx leaves such TensorFlow ops in the graph).
    """
    import tf2onnx
    from onnx import defs

    from zoo_core.errors import ExportError
    from zoo_core.export.savedmodel_io import serving_function

    serve = serving_function(context.model, context.dataset.info)
    try:
        with _quiet_tf2onnx():
            model, _ = tf2onnx.convert.from_function(serve, input_signature=serve.input_signature, opset=opset)
    except Exception as error:  # noqa: BLE001 - the converter raises many kinds
        raise ExportError(f"onnx: conversion failed: {type(error).__name__}: {_last_line(error)}",
                          hint="the model may use a layer tf2onnx cannot convert; "
                               "export it as savedmodel or tflite instead") from None
    foreign = sorted({f"{node.op_type}" + (f" ({node.domain})" if node.domain else "") for node in model.graph.node
                      if node.domain not in STANDARD_DOMAINS or not defs.has(node.op_type, node.domain)})
    if foreign:
        raise ExportError(f"onnx: the converted model needs ops that ONNX does not have: {', '.join(foreign)}",
                          hint="ONNX runtimes would refuse it; export it as savedmodel or tflite instead")
    return normalise(model)


def normalise(model: Any) -> Any:
    """The model with reproducible names and order: two conversions of one model give the same bytes.

    tf2onnx numbers the names it makes with a counter that runs on across
    conversions in one process (``Reshape_shape__19``, then ``__38``), and
    which of two equal constants it keeps, and in which order it lists the
    initializers, follow Python's hash order, which changes from process to
    process. Here every counted name becomes its last part renumbered in
    order of first use (``Relu6_min__2``), the initializers are listed in
    order of first use, the doc string (TensorFlow's numbered function name)
    is cleared, the output is named ``probabilities`` (the serving
    signature's name) and the dynamic batch dimensions ``batch``.
    """
    from zoo_core.export.savedmodel_io import OUTPUT_NAME

    graph = model.graph
    renames: dict[str, str] = {}
    for name in _names(graph):
        match = re.fullmatch(r"(.*?)__\d+(:\d+)?", name)
        if match and name not in renames:
            renames[name] = f"{match.group(1).rsplit('/', 1)[-1]}__{len(renames) + 1}{match.group(2) or ''}"
    if len(graph.output) == 1:
        renames[graph.output[0].name] = OUTPUT_NAME
    _rename(graph, renames)
    first_use: dict[str, int] = {}
    for position, name in enumerate(_names(graph)):
        first_use.setdefault(name, position)
    ordered = []
    for tensor in sorted(graph.initializer, key=lambda tensor: first_use[tensor.name]):
        kept = type(tensor)()
        kept.CopyFrom(tensor)  # the repeated field is emptied below
        ordered.append(kept)
    del graph.initializer[:]
    graph.initializer.extend(ordered)
    graph.doc_string = ""
    for value in list(graph.input) + list(graph.output):
        dimensions = value.type.tensor_type.shape.dim
        if dimensions and not dimensions[0].HasField("dim_value"):
            dimensions[0].dim_param = BATCH_DIMENSION
    return model


def _names(graph: Any) -> list[str]:
    """Every tensor and node name of ``graph``, its sub-graphs included: the inputs, then node by node (the
    nodes' order is the converter's, reproducible), then the initializers, value infos and outputs."""
    names = [value.name for value in graph.input]
    for node in graph.node:
        names += [node.name, *node.input, *node.output]
        for attribute in node.attribute:
            for sub in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                names += _names(sub)
    return names + [value.name for value in (*graph.initializer, *graph.value_info, *graph.output)]


def _rename(graph: Any, renames: dict[str, str]) -> None:
    """Apply ``renames`` to every name in ``graph`` and its sub-graphs."""
    for value in (*graph.input, *graph.initializer, *graph.value_info, *graph.output):
        value.name = renames.get(value.name, value.name)
    for node in graph.node:
        node.name = renames.get(node.name, node.name)
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
        for attribute in node.attribute:
            for sub in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                _rename(sub, renames)


def onnx_metadata(context: Any, model: Any, opset: int) -> dict[str, Any]:
    """Metadata for the file: the common artifact metadata plus the tensors and the conversion."""
    from zoo_core.export import artifact_metadata
    from zoo_core.runs.manifest import package_version

    metadata = artifact_metadata(context, "onnx", "float32")
    graph = model.graph
    metadata["signature"] = {"input": graph.input[0].name, "output": graph.output[0].name}
    metadata["tensors"] = {"input": _tensor_facts(graph.input[0]), "output": _tensor_facts(graph.output[0])}
    metadata["conversion"] = {"opset": opset, "dynamic_batch": True, "converter": "tf2onnx from_function"}
    metadata["versions"].update({name: package_version(name) for name in ("tf2onnx", "onnx")})
    return metadata


def _tensor_facts(value: Any) -> dict[str, Any]:
    """Name, shape (a dynamic dimension as -1) and element type of one graph input or output."""
    from onnx import helper

    tensor = value.type.tensor_type
    shape = [int(dim.dim_value) if dim.HasField("dim_value") else -1 for dim in tensor.shape.dim]
    return {"name": value.name, "shape": shape, "dtype": helper.tensor_dtype_to_np_dtype(tensor.elem_type).name}


def write_model(model: Any, metadata: dict[str, Any], path: Path) -> None:
    """Write ``model`` to ``path`` with ``metadata`` as JSON in its ``zoo_metadata`` metadata property."""
    from zoo_core.predict import ONNX_METADATA_KEY

    kept = [(entry.key, entry.value) for entry in model.metadata_props if entry.key != ONNX_METADATA_KEY]
    del model.metadata_props[:]
    for key, value in kept + [(ONNX_METADATA_KEY, json.dumps(metadata, sort_keys=True))]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path.write_bytes(model.SerializeToString(deterministic=True))


def verify_onnx(path: Path, context: Any, verify_samples: int) -> dict[str, Any]:
    """Run ``path`` with onnxruntime on the test set and compare it with the Keras model."""
    from zoo_core.export import compare_with_keras
    from zoo_core.predict import ONNXPredictor

    return compare_with_keras(ONNXPredictor(path), context, verify_samples)


@contextlib.contextmanager
def _quiet_tf2onnx() -> Iterator[None]:
    """Inside the block, tf2onnx logs errors only (it logs each conversion step at INFO and WARNING)."""
    import logging

    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


@hookimpl
def register_exporters() -> list[Component]:
    """The onnx exporter, needing the onnx extra (tf2onnx converts, onnxruntime verifies)."""
    return [Component("onnx", onnx, requires=("tf2onnx", "onnx", "onnxruntime"), install="zoo[onnx]")]
