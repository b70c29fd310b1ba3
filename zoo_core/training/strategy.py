"""How a run is spread over devices and machines, as the runner sees it: the :class:`Strategy` protocol.

The runner builds one strategy per run (``distribute.plan``) and hands it to
whatever needs distribution; nothing reads a global "current strategy".
:class:`LocalStrategy` is one process on TensorFlow's own device placement;
zoo_core.training.distribute implements mirrored and multi-worker training.
No TensorFlow at import.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ContextManager, Protocol


@dataclass
class WorkerDone:
    """What a multi-worker run's non-chief worker has after training: the chief writes the run."""

    summary: str  #: one line for the CLI: the run, the final weights' digest


class Strategy(Protocol):
    """What the runner asks of a distribution strategy."""

    #: False only on a multi-worker run's non-chief workers: they write nothing shared and show no progress.
    is_chief: bool
    #: Largest steps_per_execution that works (1 under tf.distribute: keras-team/keras#19246), None for no cap.
    max_steps_per_execution: int | None

    @property
    def tf_strategy(self) -> Any:
        """The tf.distribute strategy once the runtime started, or None (one device)."""

    def before_runtime_start(self) -> None:
        """Create the tf.distribute strategy (join the cluster): after the thread pools are set, before any op."""

    def scope(self) -> ContextManager[None]:
        """Build and compile the model inside this."""

    def run_folder(self, root: Path) -> Path:
        """Where this process creates its run directory: ``root`` on the chief, a private backup folder elsewhere."""

    def run_started(self, run: Any) -> None:
        """The run directory exists (``run``: zoo_core.runs.Run): the chief tells the other workers its id."""

    def translate_error(self, error: BaseException) -> BaseException | None:
        """A clearer error for one raised by training (a lost worker), or None to keep it."""

    def after_fit(self, model: Any, run_dir: Path) -> Any:
        """The model the chief evaluates and saves (one-device), or :class:`WorkerDone` on other workers."""

    def manifest_record(self) -> dict[str, Any] | None:
        """What manifest.json says about the distribution (None: nothing to say)."""


class LocalStrategy:
    """One process, TensorFlow's own device placement: every hook does nothing."""

    is_chief = True
    max_steps_per_execution: int | None = None
    tf_strategy = None

    def before_runtime_start(self) -> None:
        """Nothing to create."""

    def scope(self) -> ContextManager[None]:
        """No scope: build where TensorFlow places things."""
        return contextlib.nullcontext()

    def run_folder(self, root: Path) -> Path:
        """The run directory goes under ``root``."""
        return root

    def run_started(self, run: Any) -> None:
        """Nobody to tell."""

    def translate_error(self, error: BaseException) -> BaseException | None:
        """Errors stay as they are."""
        return None

    def after_fit(self, model: Any, run_dir: Path) -> Any:
        """The trained model itself."""
        return model

    def manifest_record(self) -> dict[str, Any] | None:
        """Nothing to record."""
        return None
