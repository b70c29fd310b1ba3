"""Moved to :mod:`zoo_core.training.distribute`; this module keeps the documented names working."""

from zoo_core.training.distribute import (EXIT_RETRY, KERAS_20585_FIXED_IN, WORKAROUND_ENV, Cluster,
                                          multi_worker_strategy_class, needs_keras_20585_workaround)

__all__ = ["EXIT_RETRY", "KERAS_20585_FIXED_IN", "WORKAROUND_ENV", "Cluster", "multi_worker_strategy_class",
           "needs_keras_20585_workaround"]
