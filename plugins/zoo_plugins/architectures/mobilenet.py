"""Built-in architecture: a MobileNet of depthwise-separable blocks with a width multiplier, built for phones."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from zoo_core import Component, Range, hookimpl
from zoo_plugins.architectures._convolution import Activation, Dropout, FilterList, Filters, Shift

Alpha = Annotated[float, Range(0, 4, low_open=True)]
Blocks = Annotated[int, Range(1, 8)]
#: Channel counts are rounded to a multiple of this (as Keras' MobileNets do): phone kernels run fastest so.
CHANNEL_MULTIPLE = 8


def mobilenet(input_shape: tuple[int, ...], num_classes: int, alpha: Alpha = 1.0, stem: Filters = 16,
              filters: FilterList = (32, 64, 128), blocks: Blocks = 2, kernel_size: Literal[3, 5] = 5,
              stem_stride: Literal[1, 2] = 1, dropout: Dropout = 0.1, activation: Activation = "relu6",
              random_shift: Shift = 0.0) -> Any:
    """MobileNet (v1 style): a stem convolution, then stages of depthwise-separable blocks, pooled head.

    A depthwise-separable block is a ``kernel_size`` depthwise convolution
    and a 1x1 pointwise convolution, each followed by batch normalisation
    (folded into the convolution on export) and the activation. There is
    one stage per entry of ``filters`` with ``blocks`` blocks; the first
    block of each stage has stride 2 while both sides of the feature map are
    at least 4 pixels long (28x28 -> 14x14 -> 7x7 -> 4x4). Every channel
    count is multiplied by ``alpha`` and rounded to a multiple of 8 (at
    least 8). The head is global average pooling, dropout and softmax.
    Takes images of shape (height, width) or (height, width, channels).

    Args:
        alpha: width multiplier of every layer's channels, e.g. 0.5 for half the channels (a quarter of the weights).
        stem: filters of the stem convolution, before alpha.
        filters: pointwise filters of each stage, before alpha (one stage per entry).
        blocks: depthwise-separable blocks per stage.
        kernel_size: side of the depthwise kernels: 3 or 5.
        stem_stride: stride of the stem convolution: 2 halves large inputs at once (e.g. 224x224 photos).
        dropout: dropout rate before the output layer, in [0, 1).
        activation: activation after each convolution: relu6 (MobileNet's) or relu.
        random_shift: training only: shift each image at random by up to this fraction of its height and
            width (0: off); a cheap augmentation that generalises better. Inference and exports are unaffected.
    """
    import keras

    from zoo_plugins.architectures._convolution import (check_counts, check_dropout, check_weights, image_input,
                                                        image_shape, pooled_head)

    shape = image_shape("mobilenet", input_shape)
    filters = check_counts("mobilenet", "filters", list(filters))
    check_dropout("mobilenet", "dropout", dropout)
    if not 0 < alpha <= 4:
        from zoo_core.errors import ConfigError

        raise ConfigError(f"architecture mobilenet: alpha must be in (0, 4], got {alpha}",
                          hint="e.g. --set architecture.alpha=0.5")
    widths = [scaled(count, alpha) for count in filters]
    check_weights("mobilenet", _weights(shape, scaled(stem, alpha), widths, blocks, kernel_size, num_classes),
                  hint="use a smaller alpha or fewer filters")
    inputs, x = image_input(shape, random_shift)
    x, size = _stem(x, scaled(stem, alpha), stem_stride, activation, shape)
    for stage, width in enumerate(widths, start=1):
        for block in range(1, blocks + 1):
            x, size = _separable(x, width, kernel_size, activation, f"stage{stage}_block{block}", size,
                                 downsample=block == 1)
    return keras.Model(inputs, pooled_head(x, num_classes, dropout), name="mobilenet")


def scaled(count: int, alpha: float) -> int:
    """``count * alpha`` rounded to the nearest multiple of 8, at least 8, and not below 90% of it (Keras' rule)."""
    target = count * alpha
    rounded = max(CHANNEL_MULTIPLE, int(target + CHANNEL_MULTIPLE / 2) // CHANNEL_MULTIPLE * CHANNEL_MULTIPLE)
    return rounded + CHANNEL_MULTIPLE if rounded < 0.9 * target else rounded


def _stem(x: Any, filters: int, stride: int, activation: str, shape: tuple[int, ...]) -> tuple[Any, tuple[int, int]]:
    """The stem convolution; the tensor and the feature map's size after it."""
    from zoo_plugins.architectures._convolution import can_downsample, conv_bn

    size = (shape[0], shape[1])
    stride = stride if can_downsample(*size) else 1
    x = conv_bn(x, filters, 3, "stem", strides=stride, activation=activation)
    return x, _after_stride(size, stride)


def _separable(x: Any, filters: int, kernel_size: int, activation: str, name: str, size: tuple[int, int],
               downsample: bool) -> tuple[Any, tuple[int, int]]:
    """One depthwise-separable block; the tensor and the feature map's size after it."""
    import keras

    from zoo_plugins.architectures._convolution import BN_MOMENTUM, can_downsample, conv_bn

    stride = 2 if downsample and can_downsample(*size) else 1
    x = keras.layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same", use_bias=False,
                                     name=f"{name}_depthwise")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_depthwise_bn")(x)
    x = keras.layers.Activation(activation, name=f"{name}_depthwise_{activation}")(x)
    x = conv_bn(x, filters, 1, f"{name}_pointwise", activation=activation)
    return x, _after_stride(size, stride)


def _after_stride(size: tuple[int, int], stride: int) -> tuple[int, int]:
    """A feature map's size after a 'same' convolution of this stride."""
    return (-(-size[0] // stride), -(-size[1] // stride))


def _weights(shape: tuple[int, ...], stem: int, widths: list[int], blocks: int, kernel_size: int,
             classes: int) -> int:
    """The number of weights the network will have (without batch normalisation's few)."""
    channels = shape[2] if len(shape) == 3 else 1
    total = 9 * channels * stem
    channels = stem
    for width in widths:
        for _ in range(blocks):
            total += kernel_size * kernel_size * channels + channels * width
            channels = width
    return total + channels * classes + classes


@hookimpl
def register_architectures() -> list[Component]:
    return [Component("mobilenet", mobilenet)]
