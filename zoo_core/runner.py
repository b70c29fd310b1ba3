"""Moved to :mod:`zoo_core.training`; this module keeps ``zoo_core.runner.train`` and friends working."""

from zoo_core.training import RunInterrupted, RunOutcome, evaluate, export, resume, train

__all__ = ["RunInterrupted", "RunOutcome", "evaluate", "export", "resume", "train"]
