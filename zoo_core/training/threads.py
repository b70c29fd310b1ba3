"""How big a training step is, before TensorFlow's runtime starts: the input to the thread-pool choice.

TensorFlow's thread pools can only be sized before its runtime starts, and
building a Keras model normally starts it (its variables are created). So
:func:`macs_per_example` builds the architecture once inside
``keras.StatelessScope(initialize_variables=False)``, where Keras only
records shapes and creates no variable, counts multiply-adds from the
layers' kernels and output shapes, and throws that model away (Keras' name
counters are put back, so the real model gets the names it would have had).
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import warnings
from typing import Any, Callable


def macs_per_example(build: Callable[[], Any]) -> int | None:
    """Multiply-adds of one forward pass of one example through ``build()``'s model; None if unknown.

    Without starting TensorFlow's runtime. Any failure (a model that cannot
    be built this way) gives None: the caller then falls back on its cruder
    estimate, and the real build reports real mistakes.
    """
    import keras
    from keras.src.backend.common import global_state

    names = copy.deepcopy(global_state.get_global_attribute("object_name_uids"))
    try:  # quietly: the real build that follows says whatever the factory has to say
        with keras.StatelessScope(initialize_variables=False), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return count_macs(build())
    except Exception:  # noqa: BLE001 - an estimate only: the real build reports real errors
        return None
    finally:
        global_state.set_global_attribute("uninitialized_variables", [])
        global_state.set_global_attribute("object_name_uids", names)


def count_macs(model: Any) -> int:
    """Multiply-adds per example: each kernel (a weight of 2+ dimensions) times its layer's output positions.

    A Dense layer on a vector: its kernel's size. A convolution: kernel size
    times the output's spatial positions (height × width). A depthwise or
    separable convolution the same, per kernel. Layers used more than once,
    or whose output shape is unknown, count their kernels once.
    """
    total = 0
    layers = model._flatten_layers(include_self=False) if hasattr(model, "_flatten_layers") else model.layers
    for layer in layers:
        kernels = [w for w in getattr(layer, "_trainable_variables", None) or layer.weights if len(w.shape) >= 2]
        if not kernels:
            continue
        positions = _output_positions(layer)
        total += sum(math.prod(w.shape) for w in kernels) * positions
    return int(total)


def _output_positions(layer: Any) -> int:
    """Spatial positions of a layer's output (1 for a vector, height × width for an image); 1 if unknown."""
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError, RuntimeError):
        return 1
    inner = [d for d in shape[1:-1] if d is not None]
    return math.prod(inner) if inner else 1
