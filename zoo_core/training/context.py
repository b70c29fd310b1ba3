"""Moved to :mod:`zoo_core.training.callbacks` (docs/plugins.md named this path): a shim that warns."""

import warnings

from zoo_core.training.callbacks import CallbackContext, RunSummary, ZooCallback

warnings.warn("zoo_core.training.context is deprecated: import from zoo_core.training.callbacks instead",
              FutureWarning, stacklevel=2)

__all__ = ["CallbackContext", "RunSummary", "ZooCallback"]
