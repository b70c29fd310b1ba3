"""TF Serving's REST API: the bodies of predict requests read into arrays, and the answers it gives.

A predict request is ``{"instances": [...]}`` (the row format: one entry per
example, each a nested list or ``{"INPUT_NAME": nested list}``) or
``{"inputs": ...}`` (the columnar format: one array whose first axis is the
examples, or ``{"INPUT_NAME": that array}``); the answer is
``{"predictions": [...]}`` or ``{"outputs": [...]}`` respectively, one row of
class probabilities per example. Values are the model's inputs as they are
(already scaled; the metadata's ``zoo.input`` says how), as TF Serving takes
them. See https://www.tensorflow.org/tfx/serving/api_rest.

Importing this module imports neither numpy nor TensorFlow.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from zoo_core.errors import RequestError
from zoo_core.serve.models import ServedModel

if TYPE_CHECKING:
    import numpy as np

#: The one signature a zoo model has.
SIGNATURE = "serving_default"
#: The version every served model reports (zoo serves one version of each name).
VERSION = "1"


def read_json(body: bytes) -> Any:
    """The JSON document in ``body``; RequestError 400 naming the line and column of a syntax error."""
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise RequestError(400, "the body is not UTF-8 text", hint="send JSON (Content-Type: application/json)") from None
    except json.JSONDecodeError as error:
        raise RequestError(400, f"the body is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
                           hint='send e.g. {"instances": [[...], ...]}') from None


def predict_examples(body: Any, model: ServedModel) -> tuple["np.ndarray", str]:
    """The examples of a predict request as float32 ``(n, *input_shape)``, and the answer's key.

    The key is ``predictions`` for the row format, ``outputs`` for the
    columnar one. Raises RequestError 400 naming what is wrong: not an
    object, both or neither of ``instances``/``inputs``, another signature,
    no examples, non-numbers, ragged lists, a wrong shape, NaN or infinity.
    """
    if not isinstance(body, dict):
        raise RequestError(400, f"the body is a JSON {_json_type(body)}, not an object",
                           hint='send {"instances": [example, ...]} or {"inputs": [example, ...]}')
    signature = body.get("signature_name", SIGNATURE)
    if signature not in (SIGNATURE, ""):
        raise RequestError(400, f"model '{model.name}' has no signature '{signature}'",
                           hint=f"its one signature is '{SIGNATURE}' (leave signature_name out)")
    if ("instances" in body) == ("inputs" in body):
        which = "both" if "instances" in body else "neither"
        raise RequestError(400, f"the body has {which} of 'instances' and 'inputs'",
                           hint="give one: 'instances' (a list of examples) or 'inputs' (the columnar format)")
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise RequestError(400, f"'instances' is a JSON {_json_type(instances)}, not a list of examples")
        rows = [_unnamed(instance, f"instances[{index}]") for index, instance in enumerate(instances)]
        return _examples(rows, "instances", model), "predictions"
    return _examples(_unnamed(body["inputs"], "inputs"), "inputs", model), "outputs"


def _unnamed(value: Any, where: str) -> Any:
    """``value``, or the one entry of ``{"INPUT_NAME": value}`` (a zoo model has one input)."""
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise RequestError(400, f"'{where}' names {len(value)} inputs ({', '.join(map(str, value)) or 'none'}); "
                                "the model has one", hint="give the example itself, or {\"INPUT_NAME\": example}")
    return next(iter(value.values()))


def _examples(value: Any, where: str, model: ServedModel) -> "np.ndarray":
    """``value`` as float32 examples of the model's input shape; RequestError 400 for anything else."""
    import numpy as np

    shape = tuple(model.predictor.input_shape)
    expected = f"(n, {', '.join(map(str, shape))})"
    try:
        array = np.array(value)
    except (ValueError, TypeError):  # ragged lists
        raise RequestError(400, f"'{where}' is not a regular array: its lists have different lengths",
                           hint=f"the model takes examples of shape {shape}, i.e. {expected}") from None
    if array.size == 0:
        raise RequestError(400, f"'{where}' holds no examples", hint=f"send at least one example of shape {shape}")
    if array.dtype.kind not in "iuf":
        found = {"U": "strings", "S": "strings", "b": "true/false values", "O": "null or mixed values"}
        raise RequestError(400, f"'{where}' holds {found.get(array.dtype.kind, array.dtype.name)}, not numbers",
                           hint="send numbers (the model's inputs, scaled as the metadata's zoo.input says)")
    if array.shape[1:] != shape:
        raise RequestError(400, f"'{where}' has shape {tuple(array.shape)}; model '{model.name}' takes {expected}",
                           hint=f"each example is {shape}; GET /v1/models/{model.name}/metadata shows the input")
    with np.errstate(over="ignore"):
        examples = array.astype(np.float32)
    bad = ~np.isfinite(examples)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise RequestError(400, f"'{where}' holds NaN or infinite values (or values too large for float32): "
                                f"{int(bad.sum()):,} in all, the first at index {list(first)}",
                           hint="the model needs finite numbers")
    return examples


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def status(model: ServedModel) -> dict[str, Any]:
    """``GET /v1/models/NAME``'s answer: the one version, AVAILABLE."""
    return {"model_version_status": [{"version": VERSION, "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}}]}


def metadata(model: ServedModel) -> dict[str, Any]:
    """``GET /v1/models/NAME/metadata``'s answer: TF Serving's signature_def, plus zoo's input contract.

    ``zoo`` holds the input contract (``input``: input_shape, channels,
    scale, offset, value_range...), the class names, the format served and
    the run's records.
    """
    predictor = model.predictor
    signature = predictor.metadata.get("signature") or {}
    input_name = str(signature.get("input") or "input")
    output_name = str(signature.get("output") or "probabilities")
    tensors = {
        "inputs": {input_name: _tensor_info(input_name, (-1, *predictor.input_shape))},
        "outputs": {output_name: _tensor_info(output_name, (-1, predictor.num_classes()))},
        "method_name": "tensorflow/serving/predict",
    }
    return {
        "model_spec": {"name": model.name, "signature_name": "", "version": VERSION},
        "metadata": {"signature_def": {"signature_def": {SIGNATURE: tensors}}},
        "zoo": {"format": model.format, "input": model.contract, "class_names": model.class_names, **model.card},
    }


def _tensor_info(name: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"dtype": "DT_FLOAT", "name": name,
            "tensor_shape": {"dim": [{"size": str(size), "name": ""} for size in shape], "unknown_rank": False}}
