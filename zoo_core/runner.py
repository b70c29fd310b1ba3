"""Moved to :mod:`zoo_core.training` (docs/distributed.md once imported ``runner`` from here); importing this warns."""
import warnings

from zoo_core.training import RunInterrupted, RunOutcome, evaluate, export, resume, train  # noqa: F401

warnings.warn("zoo_core.runner is deprecated: import from zoo_core.training instead", FutureWarning, stacklevel=2)
