"""Built-in architecture: a small residual network (stages of basic blocks with identity shortcuts)."""

from __future__ import annotations

from typing import Annotated, Any

from zoo_core import Component, Range, hookimpl
from zoo_plugins.architectures._convolution import Dropout, FilterList, Filters, Kernel, Shift

Blocks = Annotated[int, Range(1, 16)]


def resnet(input_shape: tuple[int, ...], num_classes: int, filters: FilterList = (16, 32, 64), blocks: Blocks = 2,
           stem: Filters = 16, stem_pool: bool = True, kernel_size: Kernel = 3, dropout: Dropout = 0.0,
           random_shift: Shift = 0.0) -> Any:
    """ResNet (v1 style, basic blocks): a stem, stages of residual blocks, global average pooling, softmax.

    The stem is a 3x3 convolution, then (with ``stem_pool``) 2x2 max pooling.
    There is one stage per entry of ``filters`` with ``blocks`` basic blocks:
    two ``kernel_size`` convolutions with batch normalisation (folded into
    the convolutions on export), their sum with the block's input, then
    ReLU. The first block of every stage after the first has stride 2 while
    both sides of the feature map are at least 4 pixels long; where the
    shape changes, the shortcut is a 1x1 convolution. Takes images of shape
    (height, width) or (height, width, channels).

    Args:
        filters: convolution filters of each stage, in order (one stage per entry).
        blocks: residual blocks per stage.
        stem: filters of the stem convolution.
        stem_pool: 2x2 max pooling after the stem (28x28 -> 14x14): four times less work in the stages.
        kernel_size: side of the square convolution kernels in the blocks.
        dropout: dropout rate before the output layer, in [0, 1).
        random_shift: training only: shift each image at random by up to this fraction of its height and
            width (0: off); a cheap augmentation that generalises better. Inference and exports are unaffected.
    """
    import keras

    from zoo_plugins.architectures._convolution import (can_downsample, check_counts, check_dropout,
                                                        check_weights, conv_bn, image_input, image_shape, pooled_head)

    shape = image_shape("resnet", input_shape)
    filters = check_counts("resnet", "filters", list(filters))
    check_dropout("resnet", "dropout", dropout)
    channels = shape[2] if len(shape) == 3 else 1
    check_weights("resnet", _weights(channels, stem, filters, blocks, kernel_size, num_classes),
                  hint="use fewer filters or blocks, e.g. --set 'architecture.filters=[16, 32, 64]'")
    inputs, x = image_input(shape, random_shift)
    size = (shape[0], shape[1])
    x = conv_bn(x, stem, 3, "stem")
    if stem_pool and can_downsample(*size):
        x = keras.layers.MaxPooling2D(2, name="stem_pool")(x)
        size = (size[0] // 2, size[1] // 2)
    for stage, count in enumerate(filters, start=1):
        for block in range(1, blocks + 1):
            stride = 2 if stage > 1 and block == 1 and can_downsample(*size) else 1
            x = _basic_block(x, count, kernel_size, stride, f"stage{stage}_block{block}")
            size = (-(-size[0] // stride), -(-size[1] // stride))
    return keras.Model(inputs, pooled_head(x, num_classes, dropout), name="resnet")


def _basic_block(x: Any, filters: int, kernel_size: int, stride: int, name: str) -> Any:
    """Two convolutions plus a shortcut (a 1x1 convolution where the shape changes), then ReLU."""
    import keras

    from zoo_plugins.architectures._convolution import conv_bn

    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, f"{name}_shortcut", strides=stride, activation=None)
    x = conv_bn(x, filters, kernel_size, f"{name}_1", strides=stride)
    x = conv_bn(x, filters, kernel_size, f"{name}_2", activation=None)
    x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _weights(channels: int, stem: int, filters: list[int], blocks: int, kernel_size: int, classes: int) -> int:
    """The number of weights the network will have (without batch normalisation's few)."""
    total, channels = 9 * channels * stem, stem
    for count in filters:
        for _ in range(blocks):
            total += kernel_size * kernel_size * count * (channels + count)
            total += channels * count if channels != count else 0
            channels = count
    return total + channels * classes + classes


@hookimpl
def register_architectures() -> list[Component]:
    return [Component("resnet", resnet)]
