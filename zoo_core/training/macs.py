"""Multiply-adds of a Keras model, counted per layer from its configuration and shapes: zoo's one counter.

:func:`layer_macs` is a pure function of a layer's class name, its config
and its input and output shapes (batch dimension included, ignored);
:func:`model_macs` walks a built Keras model (nested models too) and sums it.
Conventions (those of the model tables of timm and Ultralytics): one
multiply-add per weight use; biases and activations are free; pooling counts
one per window element, batch normalisation and element-wise merges one per
element. ``zoo bench`` reports it; the thread choice of a run
(zoo_core.training.threads) sizes TensorFlow's pools with it.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

Shape = Sequence[Any]

#: Layers that move or drop values but compute nothing worth counting.
FREE = frozenset({
    "InputLayer", "Flatten", "Reshape", "Permute", "RepeatVector", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
    "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Activation", "ReLU", "LeakyReLU",
    "PReLU", "ELU", "Softmax", "Identity", "Concatenate", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "ActivityRegularization",
    "Masking",
})
#: Layers that cost one multiply-add per output element.
PER_ELEMENT = frozenset({"BatchNormalization", "LayerNormalization", "GroupNormalization", "Rescaling",
                         "Normalization"})
#: Element-wise merges of several inputs: (inputs - 1) operations per output element.
MERGES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})


def _dims(shape: Shape) -> list[int]:
    """The dimensions of one example (the batch dimension dropped); None counts as 1."""
    return [int(size) if size is not None else 1 for size in list(shape)[1:]]


def _channels_last(config: dict[str, Any]) -> bool:
    return config.get("data_format", "channels_last") != "channels_first"


def _spatial(shape: Shape, config: dict[str, Any]) -> int:
    """Positions of a feature map (everything but the channels)."""
    dims = _dims(shape)
    return math.prod(dims[:-1] if _channels_last(config) else dims[1:])


def _channels(shape: Shape, config: dict[str, Any]) -> int:
    dims = _dims(shape)
    return dims[-1] if _channels_last(config) else dims[0]


def _kernel(config: dict[str, Any], key: str = "kernel_size") -> int:
    size = config.get(key) or 1
    return math.prod(size) if isinstance(size, (list, tuple)) else int(size)


def layer_macs(kind: str, config: dict[str, Any], input_shapes: Sequence[Shape], output_shape: Shape) -> int | None:
    """Multiply-adds of one layer for one example; ``None`` for a layer kind this function does not know.

    ``kind`` is the layer's class name (``Dense``, ``Conv2D``,
    ``DepthwiseConv2D``, ``SeparableConv2D``, pooling, ``BatchNormalization``,
    ``Add``...), ``config`` its ``get_config()``; shapes include the batch.
    """
    output = math.prod(_dims(output_shape))
    first = input_shapes[0] if input_shapes else output_shape
    if kind in FREE:
        return 0
    if kind == "Dense":
        return output * _dims(first)[-1]
    if kind in ("Conv1D", "Conv2D", "Conv3D"):
        groups = int(config.get("groups") or 1)
        return output * _kernel(config) * _channels(first, config) // groups
    if kind in ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
        return math.prod(_dims(first)) * _kernel(config) * _channels(output_shape, config)
    if kind in ("DepthwiseConv1D", "DepthwiseConv2D"):
        return output * _kernel(config)
    if kind in ("SeparableConv1D", "SeparableConv2D"):
        depthwise = _channels(first, config) * int(config.get("depth_multiplier") or 1)
        positions = _spatial(output_shape, config)
        return positions * depthwise * (_kernel(config) + _channels(output_shape, config))
    if kind.startswith(("MaxPooling", "AveragePooling")):
        return output * _kernel(config, "pool_size")
    if kind.startswith(("GlobalAveragePooling", "GlobalMaxPooling")):
        return math.prod(_dims(first))
    if kind in PER_ELEMENT:
        return output
    if kind in MERGES:
        return output * max(len(input_shapes) - 1, 1)
    return None


def model_macs(model: Any, *, kernels_only: bool = False) -> tuple[int, list[str]]:
    """The multiply-adds of one example through a built Keras model, and the layers not counted.

    Nested models and layers with sub-layers are walked into. A layer of a
    kind :func:`layer_macs` does not know counts 0: if it has weights its
    name is returned, so the total is known to be a lower bound.
    ``kernels_only`` counts only the layers with a kernel (a weight of two or
    more dimensions: dense layers and convolutions), the arithmetic that
    TensorFlow's thread pools share out (zoo_core.training.threads); ``zoo
    bench`` counts every layer.
    """
    total, uncounted = 0, []
    for layer in _leaf_layers(model):
        if kernels_only and not any(len(weight.shape) >= 2 for weight in layer.weights):
            continue
        kind = type(layer).__name__
        try:
            inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
            macs = layer_macs(kind, layer.get_config(), [tensor.shape for tensor in inputs], layer.output.shape)
        except (AttributeError, ValueError, TypeError, IndexError):
            macs = None
        if macs is None:
            if layer.count_params():
                uncounted.append(f"{layer.name} ({kind})")
            continue
        total += macs
    return total, uncounted


def _leaf_layers(model: Any) -> list[Any]:
    """The layers that compute: a nested model (or any layer holding layers) is replaced by its own layers."""
    found = []
    for layer in getattr(model, "layers", []):
        if getattr(layer, "layers", None) and hasattr(layer, "inputs"):  # a model inside the model
            found += _leaf_layers(layer)
        else:
            found.append(layer)
    return found
