"""Built-in architecture: a LeNet-style convolutional network (conv blocks, pooling, dropout, dense head)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from zoo_core import Component, Range, hookimpl
from zoo_plugins.architectures._convolution import Activation, Dropout, FilterList, Kernel, Shift

ConvsPerBlock = Annotated[int, Range(1, 4)]
Dense = Annotated[int, Range(0, 8192)]


def cnn(input_shape: tuple[int, ...], num_classes: int, filters: FilterList = (32, 64, 128), kernel_size: Kernel = 3,
        convs_per_block: ConvsPerBlock = 1, pooling: Literal["max", "average"] = "max", batch_norm: bool = True,
        block_dropout: Dropout = 0.0, dense: Dense = 128, dropout: Dropout = 0.3,
        activation: Activation = "relu", random_shift: Shift = 0.0) -> Any:
    """LeNet-style CNN: conv blocks with pooling, then Flatten, a dense layer, dropout and softmax.

    Each block is ``convs_per_block`` 'same' convolutions (each followed by
    batch normalisation, folded into the convolution on export, and the
    activation), then 2x2 pooling while both sides of the feature map are at
    least 4 pixels long (28x28 -> 14x14 -> 7x7 -> 3x3; 8x8 -> 4x4 -> 2x2), then
    ``block_dropout``. Takes images of shape (height, width), given a channel
    axis inside the model, or (height, width, channels), e.g. RGB.

    Args:
        filters: convolution filters of each block, in order (one block per entry).
        kernel_size: side of the square convolution kernels.
        convs_per_block: convolutions in each block, before its pooling.
        pooling: max or average pooling after each block.
        batch_norm: batch normalisation after each convolution.
        block_dropout: dropout rate after each block, in [0, 1).
        dense: units of the dense layer before the output (0: none).
        dropout: dropout rate before the output layer, in [0, 1).
        activation: activation after each convolution and the dense layer: relu or relu6.
        random_shift: training only: shift each image at random by up to this fraction of its height and
            width (0: off); a cheap augmentation that generalises better. Inference and exports are unaffected.
    """
    import keras

    from zoo_plugins.architectures._convolution import (can_downsample, check_counts, check_dropout,
                                                        check_weights, conv_bn, image_input, image_shape)

    shape = image_shape("cnn", input_shape)
    filters = check_counts("cnn", "filters", list(filters))
    for name, value in (("block_dropout", block_dropout), ("dropout", dropout)):
        check_dropout("cnn", name, value)
    check_weights("cnn", _weights(shape, filters, kernel_size, convs_per_block, dense, num_classes),
                  hint="use fewer filters or a smaller dense layer, e.g. --set 'architecture.filters=[32, 64]'")
    inputs, x = image_input(shape, random_shift)
    height, width = shape[0], shape[1]
    pool = keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
    for block, count in enumerate(filters, start=1):
        for index in range(1, convs_per_block + 1):
            x = conv_bn(x, count, kernel_size, f"block{block}_{index}", activation=activation,
                        batch_norm=batch_norm)
        if can_downsample(height, width):
            x = pool(2, name=f"block{block}_pool")(x)
            height, width = height // 2, width // 2
        if block_dropout:
            x = keras.layers.Dropout(block_dropout, name=f"block{block}_dropout")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if dense:
        x = keras.layers.Dense(dense, activation=activation, name="dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="cnn")


def _weights(shape: tuple[int, ...], filters: list[int], kernel_size: int, convs: int, dense: int,
             classes: int) -> int:
    """The number of weights the network will have (without batch normalisation's few)."""
    from zoo_plugins.architectures._convolution import can_downsample

    channels, height, width = (shape[2] if len(shape) == 3 else 1), shape[0], shape[1]
    total = 0
    for count in filters:
        for _ in range(convs):
            total += kernel_size * kernel_size * channels * count + count
            channels = count
        if can_downsample(height, width):
            height, width = height // 2, width // 2
    features = height * width * channels
    if dense:
        total += features * dense + dense
        features = dense
    return total + features * classes + classes


@hookimpl
def register_architectures() -> list[Component]:
    return [Component("cnn", cnn)]
