"""Pieces shared by the convolutional architectures (cnn, mobilenet, resnet): image inputs, sizes, the head.

Not a plugin itself (no entry point): the plugin modules beside it import it inside
their factories, after keras. Every layer here is one TFLite has a builtin
kernel for, that int8 quantises well and that reloads in Keras' safe mode.
"""

from __future__ import annotations

from typing import Annotated, Any

from zoo_core import Choice, Range

#: A feature map is down-sampled (pooled, or strided by 2) only while both its sides are at least this long,
#: so an 8x8 input keeps a 2x2 map and a 28x28 one goes 14x14, 7x7, then 4x4 (strided) or 3x3 (pooled).
MIN_SIDE_TO_DOWNSAMPLE = 4
#: The most weights a network may have (about 1 GB as float32, four times that with Adam's state and gradients).
MAX_WEIGHTS = 250_000_000
#: Batch normalisation's moving-average momentum: Keras' 0.99 needs ~500 steps before its statistics fit
#: the data (a 1-epoch trial on 2,000 images then tests at chance); 0.9 fits within ~50 steps.
BN_MOMENTUM = 0.9
#: Activations that TFLite fuses into convolutions and int8 quantises without loss of range.
ACTIVATIONS = ("relu", "relu6")

Filters = Annotated[int, Range(1, 1024)]
FilterList = Annotated[list[Filters], Range(1, 8)]
Kernel = Annotated[int, Range(1, 11)]
Dropout = Annotated[float, Range(0, 1, high_open=True)]
Shift = Annotated[float, Range(0, 0.5)]
Activation = Annotated[str, Choice(ACTIVATIONS, "relu or relu6 (both quantise well to int8)")]


def image_shape(architecture: str, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """``input_shape`` as ints if it is an image, (height, width) or (height, width, channels); else ConfigError.

    The ConfigError is how an architecture refuses a shape (a feature vector, say).
    """
    from zoo_core.errors import ConfigError

    shape = tuple(int(side) for side in input_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ConfigError(f"architecture {architecture} needs image inputs of shape (height, width) or "
                          f"(height, width, channels), got {shape}",
                          hint="use an architecture for feature vectors, e.g. --set architecture=mlp")
    return shape


def image_input(shape: tuple[int, ...], random_shift: float = 0.0) -> tuple[Any, Any]:
    """``(keras.Input named image, the tensor to build on)``: a (height, width) input gets a channel axis.

    With ``random_shift`` > 0, a RandomTranslation layer shifts every training image by up to that fraction
    of its height and width (filling with zeros); at inference it passes images through unchanged, so the
    exported models do not contain it.
    """
    import keras

    inputs = keras.Input(shape=shape, name="image")
    x = keras.layers.Reshape((*shape, 1), name="add_channel")(inputs) if len(shape) == 2 else inputs
    if random_shift:
        x = keras.layers.RandomTranslation(random_shift, random_shift, fill_mode="constant",
                                           name="random_shift")(x)
    return inputs, x


def can_downsample(height: int, width: int) -> bool:
    """Whether a feature map of this size is still halved (see :data:`MIN_SIDE_TO_DOWNSAMPLE`)."""
    return min(height, width) >= MIN_SIDE_TO_DOWNSAMPLE


def conv_bn(x: Any, filters: int, kernel_size: int, name: str, strides: int = 1, activation: str | None = "relu",
            batch_norm: bool = True) -> Any:
    """Conv2D ('same' padding), then BatchNormalization (folded into the conv on export), then the activation."""
    import keras

    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=not batch_norm,
                            name=f"{name}_conv")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    if activation:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def pooled_head(x: Any, num_classes: int, dropout: float) -> Any:
    """Global average pooling, dropout, then the softmax layer named ``probabilities`` (float32 under any policy)."""
    import keras

    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32")(x)


def check_weights(architecture: str, weights: int, hint: str) -> None:
    """Refuse a network of more than :data:`MAX_WEIGHTS` (estimated) weights, before Keras allocates them."""
    from zoo_core.errors import ConfigError

    if weights > MAX_WEIGHTS:
        raise ConfigError(f"architecture {architecture}: these parameters make about {weights:,} weights, more "
                          f"than the {MAX_WEIGHTS:,} that fit in memory with the optimizer's state", hint=hint)


def check_dropout(architecture: str, name: str, value: float) -> None:
    """Refuse a dropout rate outside [0, 1) (for a factory called directly, without zoo's checks)."""
    from zoo_core.errors import ConfigError

    if not 0.0 <= value < 1.0:
        raise ConfigError(f"architecture {architecture}: {name} must be in [0, 1), got {value}",
                          hint=f"e.g. --set architecture.{name}=0.2")


def check_counts(architecture: str, name: str, values: list[int], low: int = 1) -> list[int]:
    """``values`` as a list if it is non-empty and every count is at least ``low``; else ConfigError."""
    from zoo_core.errors import ConfigError

    values = [int(value) for value in values]
    if not values or any(value < low for value in values):
        raise ConfigError(f"architecture {architecture}: {name} must be a non-empty list of counts of at "
                          f"least {low}, got {values}", hint=f"e.g. --set 'architecture.{name}=[16, 32]'")
    return values
