"""EarlyStopping, behind the ``early-stopping`` callback (imported by its factory only: it imports Keras).

It keeps what it must remember in ``zoo_state()`` (saved with every
checkpoint) and takes it back from ``context.state`` after ``on_train_begin``
(which Keras uses to reset it), so a resumed run goes on exactly where the
killed one committed its last epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo_core.files import atomic_path
from zoo_plugins.callbacks._common import finite_or_none


class EarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping, resumable, saying why it stopped, its best weights kept beside the run.

    With ``restore_best_weights`` the best epoch's weights are put back at the
    epoch training stops (or the last epoch), before that epoch's checkpoint
    is committed, so the checkpoint, model.keras and the metrics all hold the
    best weights. The best weights live in ``<run>/callbacks/<name>/`` so that
    a resume still has them.
    """

    def __init__(self, context: Any, **options: Any) -> None:
        super().__init__(verbose=0, **options)
        self.context = context
        self.folder = Path(context.run_dir) / "callbacks" / context.name.replace("#", "-")
        self.zoo_stop_reason: str | None = None
        self._best_file: str | None = None
        self._committed_file: str | None = None
        self.restored_epoch: int | None = None
        self.wait, self.stopped_epoch, self.best, self.best_epoch = 0, 0, None, 0  # Keras sets them at train begin
        self._state = dict(context.state)  # what the last checkpoint has, until training begins

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        state = self.context.state
        if state:
            self.wait, self.best_epoch = int(state.get("wait", 0)), int(state.get("best_epoch", 0))
            best = state.get("best")
            self.best = float(best) if best is not None else None
            self._best_file = self._committed_file = state.get("best_weights")
            if self.restore_best_weights and self._best_file and (self.folder / self._best_file).is_file():
                with np.load(self.folder / self._best_file) as data:
                    self.best_weights = [data[f"arr_{i}"] for i in range(len(data.files))]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        before = self.best_epoch, self.best
        super().on_epoch_end(epoch, logs)
        if self.restore_best_weights and self.best_weights is not None and (self.best_epoch, self.best) != before:
            self._save_best(epoch)
        last = epoch + 1 >= self.context.epochs
        if self.model.stop_training and self.stopped_epoch == epoch:
            self.zoo_stop_reason = (f"{self.monitor} did not improve by more than {abs(self.min_delta):g} for "
                                    f"{self.wait} epochs (best {self.best:.6g} at epoch {self.best_epoch + 1})")
        if (self.model.stop_training or last) and self.restore_best_weights and self.best_weights is not None:
            if self.best_epoch != epoch:
                self.model.set_weights(self.best_weights)
                self.restored_epoch = self.best_epoch + 1
                if self.zoo_stop_reason:
                    self.zoo_stop_reason += f"; restored the weights of epoch {self.best_epoch + 1}"

    def on_train_end(self, logs: dict | None = None) -> None:
        """The best weights were put back at the last epoch's end already (before its checkpoint)."""

    def _save_best(self, epoch: int) -> None:
        name = f"best-epoch-{epoch + 1:04d}.npz"
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.folder / name) as temporary:
            with open(temporary, "xb") as handle:
                np.savez(handle, *self.best_weights)
        self._best_file = name

    def zoo_state(self) -> dict[str, Any]:
        """wait, best, best epoch and the best weights' file: what a resume needs to go on."""
        if self.model is None:  # the checkpoint before training: what the last one had
            return self._state
        keep = {self._best_file, self._committed_file}  # the last committed checkpoint may still name the older
        for old in self.folder.glob("best-epoch-*.npz") if self.folder.is_dir() else []:
            if old.name not in keep:
                old.unlink(missing_ok=True)
        self._committed_file = self._best_file
        return {"wait": int(self.wait), "best": finite_or_none(self.best), "best_epoch": int(self.best_epoch),
                "stopped_epoch": int(self.stopped_epoch), "best_weights": self._best_file}
