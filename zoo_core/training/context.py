"""Moved to :mod:`zoo_core.training.callbacks.context` (docs/plugins.md named this path): warns, then works."""

import warnings

from zoo_core.training.callbacks.context import CallbackContext, RunSummary, ZooCallback

warnings.warn("zoo_core.training.context moved to zoo_core.training.callbacks (CallbackContext, RunSummary)",
              FutureWarning, stacklevel=2)

__all__ = ["CallbackContext", "RunSummary", "ZooCallback"]
