"""FineTune, behind the ``fine-tune`` callback (imported by its factory only: it imports Keras).

At the start of its epoch it unfreezes layers the ``freeze`` setting froze
(or the layers it names) and scales the optimizer's learning rate. The
optimizer already holds state for every weight (zoo builds it before
freezing) and zoo's train function is traced again when the trainable
weights change (zoo_core.training.freezing), so nothing is compiled anew.
Whether it has unfrozen, and the rate since, are saved with every checkpoint
(``zoo_state()``): a resumed run unfreezes again at its start and goes on
exactly where the killed one committed its last epoch.
"""

from __future__ import annotations

import sys
from typing import Any

import keras

from zoo_core.training.freezing import layers_to_freeze, select_layers
from zoo_plugins.callbacks._common import current_learning_rate


class FineTune(keras.callbacks.Callback):
    """Unfreezes layers and scales the learning rate at the start of epoch ``epoch`` (from 1)."""

    def __init__(self, context: Any, epoch: int, layers: list[str], factor: float, batch_norm: str) -> None:
        super().__init__()
        self.context, self.epoch, self.layers, self.factor, self.batch_norm = context, epoch, layers, factor, batch_norm
        self.unfrozen: list[str] | None = None  #: the layers it unfroze, once it has
        self.learning_rate: float | None = None  #: the rate it set

    def on_train_begin(self, logs: dict | None = None) -> None:
        state = self.context.state
        chosen = self._chosen()  # a name that matches no layer: an error before the first epoch
        if state.get("unfrozen") is not None:  # a resume after the epoch it unfroze at
            self._unfreeze(chosen)
            self.learning_rate = float(state["learning_rate"])
            self.model.optimizer.learning_rate = self.learning_rate

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch + 1 == self.epoch and self.unfrozen is None:
            before = current_learning_rate(self.model)
            self._unfreeze(self._chosen())
            self.learning_rate = before * self.factor
            self.model.optimizer.learning_rate = self.learning_rate
            if self.context.is_chief:
                print(f"zoo: fine-tune: epoch {epoch + 1}: unfroze {len(self.unfrozen or [])} layer(s), "
                      f"learning rate {before:g} -> {self.learning_rate:g}", file=sys.stderr, flush=True)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = current_learning_rate(self.model)

    def _chosen(self) -> list[Any]:
        """The layers to unfreeze: those named, else those the freeze setting froze; BatchNorm kept unless asked."""
        if self.layers:
            chosen = select_layers(self.model, self.layers, f"callback {self.context.name}: layers")
        else:
            chosen = layers_to_freeze(self.model, self.context.settings.get("freeze", "none"))
        if self.batch_norm == "frozen":
            chosen = [layer for layer in chosen if not isinstance(layer, keras.layers.BatchNormalization)]
        return chosen

    def _unfreeze(self, chosen: list[Any]) -> None:
        for layer in chosen:
            layer.trainable = True
        self.unfrozen = [layer.name for layer in chosen if layer.weights]

    def zoo_state(self) -> dict[str, Any]:
        """The layers it unfroze (None before its epoch) and the rate it set."""
        if self.model is None:  # the checkpoint before training: what the last one had
            return dict(self.context.state)
        return {"unfrozen": self.unfrozen, "learning_rate": self.learning_rate}
