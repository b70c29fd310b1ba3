"""The callback contract: what a callback component receives, and what zoo reads from it.

:class:`CallbackContext` is handed to its factory, :class:`RunSummary` to
its ``on_run_end`` at the run's end; :class:`ZooCallback` lists what zoo
reads from the Keras callback the factory returns. No TensorFlow here: a
plugin may import these for type hints at the top of its module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class CallbackContext:
    """The run a callback takes part in, handed to its factory as ``factory(context, **params)``.

    Args:
        run_dir: the run directory (on a multi-worker run's other workers, their backup folder).
        run_id: the run's id, its folder name.
        recipe: the named run it came from, or None for ``zoo train``.
        config: the resolved run as in ``config.toml`` (every component as plugin:name with its parameters).
        settings: the run settings (epochs, batch_size, seed, ...).
        dataset: the dataset's ``DatasetInfo`` (input shape, classes, class names).
        name: this callback's component name (``early-stopping``; ``early-stopping#2`` for a second one),
            the key of its saved state, and how ``--set callbacks.NAME.PARAMETER`` reaches it.
        is_chief: False on a multi-worker run's other workers: only the chief writes to trackers.
        initial_epoch: epochs already done (0 for a new run; a resume continues after them).
        steps_per_epoch: training steps per epoch.
        history: the committed epochs' rows (epoch, loss, accuracy, val_loss, ...), as in history.csv.
        state: what this callback's ``zoo_state()`` returned at the last committed checkpoint ({} for a new run).
        runs_root: the folder that holds the runs (a default place for a local tracking store).
    """

    run_dir: Path
    run_id: str
    recipe: str | None
    config: dict[str, Any]
    settings: dict[str, Any]
    dataset: Any
    name: str = ""
    is_chief: bool = True
    initial_epoch: int = 0
    steps_per_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    runs_root: Path | None = None

    @property
    def epochs(self) -> int:
        """The run's ``epochs`` setting."""
        return int(self.settings["epochs"])


@dataclass
class RunSummary:
    """How a run ended, handed to each callback's optional ``on_run_end(summary)``.

    For a completed run it is called after metrics.json, model.keras, the
    plots, the exports, the manifest and report.md are written, so a tracker
    can log them as artifacts.

    Args:
        status: ``completed``, ``failed`` or ``interrupted``.
        run_dir: the run directory.
        metrics: the test metrics (metrics.json) of a completed run; else {}.
        plots: the plot files written.
        report: report.md, or None if it was not written.
        exports: each exporter's record (format, path, status, figures), as in manifest.json.
        files: the run's other files worth keeping: config.toml, manifest.json, history.csv, metrics.json.
        epochs_done: epochs trained.
        stopped_early: why training stopped before ``epochs`` (epoch, callback, reason), or None.
        error: what went wrong, for a failed or interrupted run.
    """

    status: str
    run_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    report: Path | None = None
    exports: list[dict[str, Any]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    epochs_done: int = 0
    stopped_early: dict[str, Any] | None = None
    error: str | None = None


class ZooCallback(Protocol):
    """What zoo reads from a callback component, besides the hooks of ``keras.callbacks.Callback`` it is.

    Every member is optional: zoo looks each one up on the callback and does
    without it when it is absent. docs/plugins.md shows them in use.
    """

    #: True: its ``on_epoch_end`` runs after the epoch's checkpoint is committed, so an epoch a kill makes
    #: repeat is never seen twice (trackers). False or absent: before it (zoo_core.training.callbacks.order).
    zoo_after_checkpoint: bool
    #: Why it stopped training, once it set ``model.stop_training = True``: manifest.json (``stopped_early``),
    #: report.md and the console say it.
    zoo_stop_reason: str | None

    def zoo_state(self) -> dict[str, Any]:
        """What it must remember, JSON-serialisable: saved with each checkpoint, handed back as ``context.state``
        when the run is resumed."""

    def on_run_end(self, summary: RunSummary) -> None:
        """Called once when the run has completed (after every file is written), failed or been interrupted; what
        it raises is recorded as a problem of the run, never a lost run."""
