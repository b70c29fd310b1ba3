"""Built-in architecture: the dense network of the classic Keras MNIST tutorial."""

from __future__ import annotations

import math
from typing import Annotated, Any

from zoo_core import Choice, Component, Range, hookimpl

#: The widest hidden layer and the most hidden layers zoo builds: more does not fit a sane machine's memory.
MAX_UNITS = 8192
MAX_LAYERS = 32
#: The most weights (about 1 GB as float32, four times that with Adam's state and the gradients).
MAX_WEIGHTS = 250_000_000
#: Keras 3 activations that work element-wise on a Dense layer's output and take no other argument.
KERAS_ACTIVATIONS = (
    "celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu",
    "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus",
    "swish", "tanh", "tanh_shrink",
)

Units = Annotated[int, Range(1, MAX_UNITS)]
Hidden = Annotated[list[Units], Range(high=MAX_LAYERS)]
Dropout = Annotated[float, Range(0, 1, high_open=True)]
Activation = Annotated[str, Choice(KERAS_ACTIVATIONS, "a Keras activation name")]


def mlp(input_shape: tuple[int, ...], num_classes: int, hidden: Hidden = (128, 64),
        dropout: Dropout = 0.2, activation: Activation = "relu") -> Any:
    """Dense network: Flatten, then Dense + Dropout per hidden layer, softmax output.

    With the defaults this is the tutorial's 128-64-10 network with dropout 0.2.
    It adapts to any input shape (it flattens) and any number of classes.

    Args:
        hidden: units of each hidden Dense layer, in order.
        dropout: dropout rate after each hidden layer, in [0, 1).
        activation: Keras activation of the hidden layers, e.g. relu, gelu, tanh.
    """
    import keras

    from zoo_core.errors import ConfigError

    hidden = list(hidden)
    if any(units < 1 for units in hidden):
        raise ConfigError(f"architecture mlp: every hidden size must be at least 1, got {hidden}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"architecture mlp: dropout must be in [0, 1), got {dropout}",
                          hint="e.g. --set architecture.dropout=0.2")
    _check_size(math.prod(input_shape), hidden, num_classes)
    try:
        keras.activations.get(activation)
    except ValueError:
        raise ConfigError(f"architecture mlp: unknown activation {activation!r}",
                          hint="use a Keras activation name such as relu, gelu, tanh, sigmoid") from None
    layers: list[Any] = [keras.Input(shape=tuple(input_shape), name="image"), keras.layers.Flatten()]
    for index, units in enumerate(hidden, start=1):
        layers.append(keras.layers.Dense(units, activation=activation, name=f"dense_{index}"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout_{index}"))
    layers.append(keras.layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32"))
    return keras.Sequential(layers, name="mlp")


def _check_size(inputs: int, hidden: list[int], num_classes: int) -> None:
    """Refuse a network with more than MAX_WEIGHTS weights, before Keras tries to allocate them."""
    from zoo_core.errors import ConfigError

    sizes = [inputs, *hidden, num_classes]
    weights = sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(sizes, sizes[1:]))
    if weights > MAX_WEIGHTS:
        raise ConfigError(f"architecture mlp: hidden {hidden} on {inputs} inputs makes {weights:,} weights, "
                          f"more than the {MAX_WEIGHTS:,} that fit in memory with the optimizer's state",
                          hint="use fewer or narrower layers, e.g. --set 'architecture.hidden=[512, 256]'")


@hookimpl
def register_architectures() -> list[Component]:
    return [Component("mlp", mlp)]
