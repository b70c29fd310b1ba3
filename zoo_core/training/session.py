"""The run being trained: what :func:`~zoo_core.training.prepare.prepare` readied, and the session its steps share.

As mmengine's loops receive the runner, zoo's steps of a run (the input,
the callbacks, fit, the completion) receive a :class:`RunSession` instead
of a dozen loose arguments. No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence, TextIO

from zoo_core.registry import RunConfig
from zoo_core.runs import Manifest, Run
from zoo_core.runs.timings import PhaseClock
from zoo_core.training.signals import StopRequests
from zoo_core.training.strategy import Strategy


@dataclass
class Prepared:
    """A run ready to fit: data, model (compiled, optimizer built), and where training resumes."""

    dataset: Any
    split: Any
    loss: Any
    model: Any
    threads: int
    first_epoch: int = 0
    rows: list[dict] = field(default_factory=list)
    snapshots: list = field(default_factory=list)
    checkpoint: dict | None = None
    data_warnings: list[str] = field(default_factory=list)  #: what is wrong with the data's split, for manifest.json
    clock: PhaseClock = field(default_factory=PhaseClock)  #: the run's phases so far (manifest.json's timings)
    initial_weights: dict | None = None  #: what init_from loaded (manifest.json's init_from); None on a resume
    frozen: list[str] = field(default_factory=list)  #: the layers the freeze setting froze at the start
    precision: str = "float32"  #: the precision the model trains in (zoo_core.training.precision)


@dataclass
class RunSession:
    """One run while it trains: its config, where it is written, what was prepared, how it shows progress.

    Args:
        config: the fully resolved run.
        strategy: how it is spread over devices and machines.
        stops: the stop requests (Ctrl-C, SIGTERM) of the command.
        prepared: the data, the compiled model, and where training resumes.
        run: its run directory (on a multi-worker run's other workers, their backup folder).
        manifest: its manifest.json, kept up to date.
        progress: the progress setting asked for (None: the run's ``progress`` setting).
        stream: where progress is shown (None: stderr).
        extra_callbacks: Keras callbacks of the Python API (zoo sweep's pruning), in their slot of the order.
    """

    config: RunConfig
    strategy: Strategy
    stops: StopRequests
    prepared: Prepared
    run: Run
    manifest: Manifest
    progress: str | None = None
    stream: TextIO | None = None
    extra_callbacks: Sequence[Any] = ()

    @property
    def epochs(self) -> int:
        """The run's ``epochs`` setting."""
        return int(self.config.settings["epochs"])
