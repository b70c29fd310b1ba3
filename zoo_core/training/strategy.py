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
from typing import Any, Callable, ContextManager, NamedTuple, Protocol


class StartedRun(NamedTuple):
    """A run directory just created and locked, with its manifest."""

    run: Any  #: zoo_core.runs.Run
    manifest: Any  #: zoo_core.runs.Manifest
    lock: Any  #: zoo_core.runs.RunLock, held


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

    def place_run(self, create: Callable[[Path], StartedRun], root: Path) -> StartedRun:
        """``create(root)`` on the chief; elsewhere ``create`` of this worker's private backup folder."""

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

    def place_run(self, create: Callable[[Path], StartedRun], root: Path) -> StartedRun:
        """The run directory goes under ``root``."""
        return create(root)

    def translate_error(self, error: BaseException) -> BaseException | None:
        """Errors stay as they are."""
        return None

    def after_fit(self, model: Any, run_dir: Path) -> Any:
        """The trained model itself."""
        return model

    def manifest_record(self) -> dict[str, Any] | None:
        """Nothing to record."""
        return None
