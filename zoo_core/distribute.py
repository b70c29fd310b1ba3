"""Moved to :mod:`zoo_core.training.distribute` (docs/distributed.md once named it here); importing this warns."""
import warnings

from zoo_core.training.distribute import (EXIT_RETRY, KERAS_20585_FIXED_IN, WORKAROUND_ENV, Cluster,  # noqa: F401
                                          multi_worker_strategy_class, needs_keras_20585_workaround)

warnings.warn("zoo_core.distribute is deprecated: import from zoo_core.training.distribute instead", FutureWarning,
              stacklevel=2)
