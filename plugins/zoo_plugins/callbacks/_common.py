"""What the Keras classes behind the built-in callbacks share: numbers to save with a checkpoint or log.

Imports Keras: imported by those classes only, never by the plugin module.
"""

from __future__ import annotations

import math
from typing import Any

import keras


def finite_or_none(value: Any) -> float | None:
    """A finite float for JSON, or None (Keras starts 'best' at +-inf)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def current_learning_rate(model: Any) -> float:
    """The optimizer's learning rate now, as a float (for ``zoo_state()`` and history.csv's learning_rate column)."""
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
