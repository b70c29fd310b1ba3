"""TensorFlow's thread pools, sized from the model before the runtime starts.

TensorFlow's thread pools can only be sized before its runtime starts, and
creating a Keras model's variables starts it. So a run builds its
architecture once as a :class:`StatelessBuild`: inside
``keras.StatelessScope(initialize_variables=False)`` Keras records the
layers and shapes and defers every variable. Its multiply-adds (counted by
zoo_core.training.macs) size the thread pools (:func:`configure_threads`);
then :meth:`StatelessBuild.keep` creates the variables, with the values a
normal build would have given them, and that model is the run's.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import warnings
from typing import Any, Callable

from zoo_core.errors import ZooError
from zoo_core.training.macs import model_macs
from zoo_core.training.native_logs import quiet_native_stderr

#: Below this many multiply-adds per training step, single-threaded TensorFlow
#: is faster on CPU than its thread pools (measured on 2 cores: the MNIST MLP
#: at batch 32 is ~3.5 M).
SMALL_STEP_MACS = 20_000_000


class StatelessBuild:
    """``build()``'s model, built before TensorFlow's runtime starts: layers and shapes, variables deferred.

    ``model`` is None when the factory cannot build that way (the caller then
    builds normally, and a real mistake is reported there); a ZooError the
    factory raises (a parameter it refuses) goes on at once.
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        import keras
        from keras.src.backend.common import global_state

        self._names = copy.deepcopy(global_state.get_global_attribute("object_name_uids"))
        self.model: Any = None
        try:
            with keras.StatelessScope(initialize_variables=False):
                self.model = build()
        except ZooError:
            self.discard()
            raise
        except Exception:  # noqa: BLE001 - the normal build that follows reports real errors
            self.discard()

    def macs_per_example(self) -> int | None:
        """Multiply-adds of one example through the layers with a kernel; None if not built."""
        if self.model is None:
            return None
        try:
            return model_macs(self.model, kernels_only=True)[0]
        except Exception:  # noqa: BLE001 - an estimate only
            return None

    def keep(self) -> Any:
        """Create the deferred variables (TensorFlow's runtime has started) and return the model."""
        from keras.src.backend.common.variables import initialize_all_variables

        initialize_all_variables()
        return self.model

    def discard(self) -> None:
        """Forget the model: its deferred variables are dropped and Keras' name counters put back."""
        from keras.src.backend.common import global_state

        global_state.set_global_attribute("uninitialized_variables", [])
        global_state.set_global_attribute("object_name_uids", self._names)
        self.model = None


def macs_per_example(build: Callable[[], Any]) -> int | None:
    """Multiply-adds of one example through ``build()``'s model, without starting TensorFlow's runtime.

    The model is thrown away (its names are free again). Any failure gives
    None. The factory's own output and warnings are hidden.
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built = StatelessBuild(build)
    except Exception:  # noqa: BLE001 - an estimate only
        return None
    count = built.macs_per_example()
    built.discard()
    return count


def configure_threads(input_features: int, batch_size: int, threads: int = 0,
                      before_start: Callable[[], None] | None = None, macs_per_example: int | None = None) -> int:
    """Import TensorFlow and set its thread pools before any op runs; return the intra-op count.

    ``threads`` > 0 is used as given. With 0, a step that is small gets one
    thread; larger ones keep TensorFlow's default (all cores). A step's size
    is ``batch_size`` × ``macs_per_example`` (the model's multiply-adds per
    example: a convolution's count far more than their input size suggests),
    or, when that is None, a guess from the input size (a 256-unit dense
    layer). ``before_start`` runs after that and before the runtime starts:
    where a tf.distribute strategy must be created
    (``Strategy.before_runtime_start``).
    """
    with quiet_native_stderr():
        import tensorflow as tf

        if threads <= 0:
            estimated_macs = batch_size * (macs_per_example if macs_per_example is not None else input_features * 256)
            threads = 1 if estimated_macs < SMALL_STEP_MACS or (os.cpu_count() or 1) <= 1 else 0
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # the runtime is already initialised (e.g. a second run in one process)
        if before_start is not None:
            before_start()
        tf.config.list_logical_devices()  # start the runtime now, while its start-up chatter is hidden
    return tf.config.threading.get_intra_op_parallelism_threads()
