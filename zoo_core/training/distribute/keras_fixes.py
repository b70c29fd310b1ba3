"""Workarounds for Keras 3 under tf.distribute, each guarded by a version check and a test.

- keras-team/keras#20585: ``fit`` under a multi-worker
  ``MultiWorkerMirroredStrategy`` fails at the first step ("Attempt to convert
  a value (PerReplica...) to a Tensor"), then on ``reduce`` of a scalar with
  ``axis=0``. :func:`multi_worker_strategy_class` returns a subclass whose
  ``reduce`` maps over nested values and drops the axis of rank-0 values.
  tests/test_distributed.py fails once a Keras release no longer needs it.
- ``steps_per_execution`` > 1 fails under any tf.distribute strategy in Keras
  3.15 (keras-team/keras#19246), so distributed strategies cap it at 1
  (``Strategy.max_steps_per_execution``).
"""

from __future__ import annotations

import os
import re
from typing import Any


#: First Keras version with keras-team/keras#20585 fixed; None while the issue is open (Keras 3.15.1).
KERAS_20585_FIXED_IN: tuple[int, int] | None = None
#: Set to 0 or 1 to force the keras-team/keras#20585 workaround off or on (to check whether it is still needed).
WORKAROUND_ENV = "ZOO_KERAS_20585_WORKAROUND"


def _keras_version() -> tuple[int, ...]:
    import keras

    return tuple(int(part) for part in re.findall(r"\d+", keras.__version__)[:3])


def needs_keras_20585_workaround(version: tuple[int, ...] | None = None) -> bool:
    """Whether this Keras needs the keras-team/keras#20585 workaround (Keras 3 until a fixed release is known)."""
    forced = os.environ.get(WORKAROUND_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    version = _keras_version() if version is None else version
    if version[:1] != (3,):
        return False
    return KERAS_20585_FIXED_IN is None or version[:2] < KERAS_20585_FIXED_IN


def multi_worker_strategy_class() -> type:
    """``tf.distribute.MultiWorkerMirroredStrategy``, or a subclass working around keras-team/keras#20585."""
    import tensorflow as tf

    base = tf.distribute.MultiWorkerMirroredStrategy
    if not needs_keras_20585_workaround():
        return base

    class KerasMultiWorkerMirroredStrategy(base):  # type: ignore[misc, valid-type]
        """MultiWorkerMirroredStrategy whose ``reduce`` takes what Keras 3's trainer passes it.

        keras-team/keras#20585 (open as of Keras 3.15.1): under a multi-worker
        strategy the TensorFlow trainer calls ``strategy.reduce`` with a nested
        structure of PerReplica values (``_maybe_symbolic_build``: "Attempt to
        convert a value (PerReplica...) to a Tensor") and with ``axis=0`` for
        scalar metrics (``reduce_per_replica``). This ``reduce`` maps over the
        structure and drops the axis of rank-0 values; values the base class
        accepts are reduced exactly as before. Remove it (see
        KERAS_20585_FIXED_IN) once a fixed Keras passes tests/test_distributed.py without it.
        """

        def reduce(self, reduce_op: Any, value: Any, axis: Any) -> Any:
            def one(item: Any) -> Any:
                first = item.values[0] if hasattr(item, "values") else item
                rank = getattr(getattr(first, "shape", None), "rank", None)
                return base.reduce(self, reduce_op, item, None if rank == 0 else axis)

            return tf.nest.map_structure(one, value)

    return KerasMultiWorkerMirroredStrategy
