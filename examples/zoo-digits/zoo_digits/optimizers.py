"""Optimizer ``lion``: Keras' Lion (EvoLved Sign Momentum, Chen et al. 2023)."""

from __future__ import annotations

from typing import Any


def lion(learning_rate: float = 0.0003, beta_1: float = 0.9, beta_2: float = 0.99,
         weight_decay: float = 0.0) -> Any:
    """Lion: sign-based momentum updates; use a learning rate 3-10x smaller than Adam's.

    Args:
        learning_rate: step size (each weight moves by exactly this much per step, before decay).
        beta_1: interpolation between momentum and gradient for the update's sign.
        beta_2: decay rate of the momentum.
        weight_decay: decoupled weight decay (0: none).
    """
    import keras

    from zoo_core.errors import ConfigError

    if learning_rate <= 0:
        raise ConfigError(f"optimizer lion: learning_rate must be positive, got {learning_rate}")
    if not (0.0 <= beta_1 <= 1.0 and 0.0 <= beta_2 <= 1.0):
        raise ConfigError(f"optimizer lion: beta_1 and beta_2 must be in [0, 1], got {beta_1}, {beta_2}")
    if weight_decay < 0:
        raise ConfigError(f"optimizer lion: weight_decay must be 0 (off) or positive, got {weight_decay}")
    return keras.optimizers.Lion(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                                 weight_decay=weight_decay or None)
