"""Architecture ``small-cnn``: a small convolutional network that adapts to the input shape."""

from __future__ import annotations

from typing import Any

#: A block is followed by 2x2 max pooling only while both sides are at least this long,
#: so small images (8x8) keep a 2x2 map and large ones (28x28) shrink to 7x7.
MIN_SIDE_TO_POOL = 4


def small_cnn(input_shape: tuple[int, ...], num_classes: int, filters: list[int] = (16, 32),
              kernel_size: int = 3, dense: int = 64, dropout: float = 0.25) -> Any:
    """Small CNN for images of any size: conv blocks, max pooling, dense, softmax.

    Grayscale inputs of shape (height, width) get a channel axis; inputs of
    shape (height, width, channels) are used as they are. Each block is a
    3x3 (kernel_size) 'same' convolution with ReLU, followed by 2x2 max
    pooling while both sides are at least 4 pixels long (8x8 -> 4x4 -> 2x2,
    28x28 -> 14x14 -> 7x7).

    Args:
        filters: convolution filters of each block, in order.
        kernel_size: side of the square convolution kernels.
        dense: units of the hidden dense layer (0: none).
        dropout: dropout rate before the output layer, in [0, 1).
    """
    import keras

    from zoo_core.errors import ConfigError

    shape = tuple(int(side) for side in input_shape)
    filters = list(filters)
    if len(shape) not in (2, 3):
        raise ConfigError(f"architecture small-cnn needs image inputs of shape (height, width) or "
                          f"(height, width, channels), got {shape}",
                          hint="use an architecture for vectors, e.g. mlp")
    if not filters or any(count < 1 for count in filters):
        raise ConfigError(f"architecture small-cnn: filters must be a non-empty list of positive counts, got {filters}",
                          hint="e.g. --set 'architecture.filters=[16, 32]'")
    if kernel_size < 1 or dense < 0:
        raise ConfigError("architecture small-cnn: kernel_size must be at least 1 and dense 0 or more")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"architecture small-cnn: dropout must be in [0, 1), got {dropout}")

    inputs = keras.Input(shape=shape, name="image")
    x = keras.layers.Reshape((*shape, 1), name="add_channel")(inputs) if len(shape) == 2 else inputs
    height, width = shape[0], shape[1]
    for index, count in enumerate(filters, start=1):
        x = keras.layers.Conv2D(count, kernel_size, padding="same", activation="relu", name=f"conv_{index}")(x)
        if min(height, width) >= MIN_SIDE_TO_POOL:
            x = keras.layers.MaxPooling2D(2, name=f"pool_{index}")(x)
            height, width = height // 2, width // 2
    x = keras.layers.Flatten(name="flatten")(x)
    if dense:
        x = keras.layers.Dense(dense, activation="relu", name="dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="small_cnn")
