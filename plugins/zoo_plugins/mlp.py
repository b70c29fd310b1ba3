"""Built-in architecture: the dense network of the classic Keras MNIST tutorial."""

from __future__ import annotations

from typing import Any

from zoo_core import Component, hookimpl


def mlp(input_shape: tuple[int, ...], num_classes: int, hidden: list[int] = (128, 64),
        dropout: float = 0.2, activation: str = "relu") -> Any:
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
    layers.append(keras.layers.Dense(num_classes, activation="softmax", name="probabilities"))
    return keras.Sequential(layers, name="mlp")


@hookimpl
def register_architectures() -> list[Component]:
    return [Component("mlp", mlp)]
