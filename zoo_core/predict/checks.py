"""Checks that a loaded model and the metadata stored with it agree, and that its answers are numbers.

The metadata (class names, input contract) comes from a file beside or
inside the model, so it may be damaged or hostile: :func:`check_model`
refuses what :func:`~zoo_core.predict.load_input` and
:func:`~zoo_core.predict.top_classes` could not use, before any input is
read. Importing this module imports neither numpy nor TensorFlow.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from zoo_core._util.text import listing
from zoo_core.errors import DataError

if TYPE_CHECKING:
    import numpy as np

#: Contract keys holding one number each, and those holding a (low, high) pair.
NUMBER_KEYS = ("scale", "offset")
RANGE_KEYS = ("value_range", "raw_value_range")
#: The dtypes an input contract may name.
INPUT_DTYPES = ("float16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64")
HINT = "the metadata stored with the model is damaged or belongs to another model; export the model again"


def check_model(predictor: Any) -> None:
    """Refuse a model whose metadata does not fit it: DataError naming the model and the key.

    ``predictor`` is a :class:`~zoo_core.predict.Predictor` (its ``path``,
    ``metadata``, ``input_shape`` and ``num_classes()`` are used).

    Checks that ``class_names`` is a list of names, one per class the model
    answers with; and that the input contract, when there is one, describes
    the model's own input shape with finite numbers (``scale``, ``offset``,
    ranges, ``feature_mean`` / ``feature_std``, one per feature, std > 0).
    """
    metadata = predictor.metadata
    where = f"model '{predictor.path}'"
    classes = predictor.num_classes()
    names = metadata.get("class_names")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise DataError(f"{where}: its metadata's class_names is not a list of names", hint=HINT)
        if names and len(names) != classes:
            raise DataError(f"{where} answers with {classes} classes, but its metadata names {len(names)} "
                            f"({listing(names)})", hint=HINT)
    contract = metadata.get("input")
    if contract is None:
        contract = metadata.get("dataset")
    if contract:
        if not isinstance(contract, dict):
            raise DataError(f"{where}: its metadata's input contract is not a table of keys", hint=HINT)
        _check_contract(contract, tuple(predictor.input_shape), where)


def _check_contract(contract: dict[str, Any], model_shape: tuple[Any, ...], where: str) -> None:
    shape = contract.get("input_shape")
    if not isinstance(shape, list) or not all(_is_int(size) and size > 0 for size in shape):
        raise DataError(f"{where}: its metadata's input_shape ({shape!r}) is not a list of sizes", hint=HINT)
    fixed = [(own, size) for own, size in zip(model_shape, shape) if _is_int(own) and own > 0]  # not None or -1
    if len(shape) != len(model_shape) or any(own != size for own, size in fixed):
        raise DataError(f"{where} takes inputs of shape {model_shape}, but its metadata says {tuple(shape)}",
                        hint=HINT)
    for key in NUMBER_KEYS:
        if key in contract and not _is_number(contract[key]):
            raise DataError(f"{where}: its metadata's {key} ({contract[key]!r}) is not a finite number", hint=HINT)
    for key in RANGE_KEYS:
        value = contract.get(key)
        if value is None or (key == "raw_value_range" and value == []):
            continue
        if not (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value)) and value[0] < value[1]):
            raise DataError(f"{where}: its metadata's {key} ({value!r}) is not a range [low, high]", hint=HINT)
    if "input_dtype" in contract and contract["input_dtype"] not in INPUT_DTYPES:
        raise DataError(f"{where}: its metadata's input_dtype ({contract['input_dtype']!r}) is not one of "
                        f"{', '.join(INPUT_DTYPES)}", hint=HINT)
    if "channels" in contract and not (_is_int(contract["channels"]) and contract["channels"] > 0):
        raise DataError(f"{where}: its metadata's channels ({contract['channels']!r}) is not a count", hint=HINT)
    _check_features(contract, shape, where)


def _check_features(contract: dict[str, Any], shape: list[int], where: str) -> None:
    """feature_mean / feature_std: both or neither, one finite number per feature, every std above 0."""
    mean, std, names = contract.get("feature_mean"), contract.get("feature_std"), contract.get("feature_names")
    features = shape[-1]
    if names is not None and not (isinstance(names, list) and all(isinstance(name, str) for name in names)):
        raise DataError(f"{where}: its metadata's feature_names is not a list of names", hint=HINT)
    if mean is None and std is None:
        return
    for key, values in (("feature_mean", mean), ("feature_std", std)):
        if not isinstance(values, list) or len(values) != features or not all(map(_is_number, values)):
            raise DataError(f"{where}: its metadata's {key} is not a list of {features} finite numbers (one per "
                            "feature)", hint=HINT)
    if any(value <= 0 for value in std):
        raise DataError(f"{where}: its metadata's feature_std holds a value <= 0 (feature "
                        f"{next(i for i, value in enumerate(std) if value <= 0) + 1}); the inputs cannot be "
                        "normalised", hint=HINT)


def check_answers(probabilities: "np.ndarray", predictor: Any, source: str) -> None:
    """Refuse answers that are not numbers: DataError naming the model and the input (``source``).

    Every input is finite by then (:func:`~zoo_core.predict.load_input`
    checks), so NaN or infinity in the answer means damaged weights.
    """
    import numpy as np

    answers = np.asarray(probabilities)
    if answers.ndim != 2 or answers.shape[1] != predictor.num_classes():
        raise DataError(f"model '{predictor.path}' answers with shape {answers.shape}, not one row of "
                        f"{predictor.num_classes()} class probabilities per input",
                        hint="zoo predicts with classifiers whose output is (n, classes)")
    bad = ~np.isfinite(answers)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise DataError(f"model '{predictor.path}' answered NaN or infinite probabilities for {source}"
                        + (f" (example {row})" if len(answers) > 1 else "")
                        + "; the input is finite, so the model's weights are damaged",
                        hint="export the model again, or train it again")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
