"""ReduceLROnPlateau, behind the ``reduce-lr-on-plateau`` callback (imported by its factory only: it imports Keras).

It keeps what it must remember in ``zoo_state()`` (saved with every
checkpoint) and takes it back from ``context.state`` after ``on_train_begin``
(which Keras uses to reset it), so a resumed run goes on exactly where the
killed one committed its last epoch.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo_plugins.callbacks._common import current_learning_rate, finite_or_none


class ReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """Keras' ReduceLROnPlateau, resumable (its wait, cooldown, best and the rate are saved)."""

    def __init__(self, context: Any, **options: Any) -> None:
        super().__init__(verbose=0, **options)
        self.context = context

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        state = self.context.state
        if state:
            self.wait, self.cooldown_counter = int(state.get("wait", 0)), int(state.get("cooldown_counter", 0))
            if state.get("best") is not None:
                self.best = float(state["best"])
            if state.get("learning_rate") is not None:
                self.model.optimizer.learning_rate = float(state["learning_rate"])

    def zoo_state(self) -> dict[str, Any]:
        """wait, cooldown, best and the current learning rate."""
        if self.model is None:  # the checkpoint before training: what the last one had
            return dict(self.context.state)
        return {"wait": int(self.wait), "cooldown_counter": int(self.cooldown_counter),
                "best": finite_or_none(self.best),
                "learning_rate": current_learning_rate(self.model) if self.model is not None else None}
