"""Built-in losses: Keras' cross-entropies over class probabilities."""

from __future__ import annotations

from typing import Annotated, Any

from zoo_core import Component, Range, hookimpl

#: Label smoothing: the share of each label's mass spread over all classes, in [0, 1].
Smoothing = Annotated[float, Range(0, 1)]


def sparse_categorical_crossentropy(label_smoothing: Annotated[float, Range(0, 0)] = 0.0) -> Any:
    """Cross-entropy between integer class labels and predicted probabilities.

    Args:
        label_smoothing: not supported by Keras for sparse labels; must be 0.
            Use categorical-crossentropy to smooth labels.
    """
    import keras

    from zoo_core.errors import ConfigError

    if label_smoothing:
        raise ConfigError("loss sparse-categorical-crossentropy: label_smoothing must be 0",
                          hint="use --set loss=categorical-crossentropy for label smoothing")
    return keras.losses.SparseCategoricalCrossentropy(from_logits=False)


def categorical_crossentropy(label_smoothing: Smoothing = 0.0) -> Any:
    """Cross-entropy between one-hot labels and predicted probabilities.

    zoo one-hot encodes the dataset's integer labels when this loss is used.

    Args:
        label_smoothing: in [0, 1]; spreads this much of each label's mass over all classes.
    """
    import keras

    from zoo_core.errors import ConfigError

    if not 0.0 <= label_smoothing <= 1.0:
        raise ConfigError(f"loss categorical-crossentropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    loss = keras.losses.CategoricalCrossentropy(from_logits=False, label_smoothing=label_smoothing)
    loss.zoo_one_hot_labels = True  # tells the engine to one-hot encode labels
    return loss


@hookimpl
def register_losses() -> list[Component]:
    return [
        Component("sparse-categorical-crossentropy", sparse_categorical_crossentropy),
        Component("categorical-crossentropy", categorical_crossentropy),
    ]
