"""Built-in callbacks: early stopping, reduce-on-plateau, a cosine schedule with warm-up, fine-tuning, TensorBoard.

This package is itself the plugin of entry point ``callbacks`` (pyproject.toml's
``[project.entry-points.zoo]``): its factories and hook are below. The folder holds:

- ``__init__.py`` (this module): entry point ``callbacks``: early-stopping, reduce-lr-on-plateau,
  cosine-warmup, fine-tune, tensorboard.
- ``mlflow.py``: entry point ``mlflow``, tracking runs in MLflow (the mlflow extra).

and the helpers (no entry point), one Keras class per file as Keras has them:

- ``_early_stopping.py``, ``_reduce_lr_on_plateau.py``, ``_cosine_warmup.py``, ``_fine_tune.py``: the classes behind
  this module's factories; ``_common.py``: the two numbers they share (a finite float or None, the
  current learning rate).
- ``_mlflow_tracker.py``: the class behind ``mlflow.py``'s factory; ``_mlflow_store.py``: its check of the
  tracking store before any work.

Light on purpose (``zoo list`` imports it, and importing ``mlflow.py`` imports it first): the Keras
classes are imported inside the factories. Every callback is resumable: what it must remember is saved
with each checkpoint (``zoo_state()``) and handed back in ``context.state``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from zoo_core import Component, Range, hookimpl

#: >= 0: patience, min_delta, cooldown, epochs of warm-up.
NonNegative = Annotated[float, Range(0)]
Count = Annotated[int, Range(0)]


def _check_monitor(context: Any, monitor: str, mode: str, who: str) -> None:
    """Before any work, a ConfigError unless ``monitor`` is a metric the run logs (zoo_core.runs.history's
    ``EPOCH_METRICS``, the one list), a ``val_*`` one has validation data, and ``mode`` is not its opposite.

    A contrary mode is refused rather than warned about: it turns the callback against the run (min on an
    accuracy counts every gain as no improvement, so early stopping ends a run that learns and restores its
    worst epoch, and the learning rate is lowered while the model improves), and ``auto`` is always right.
    """
    from zoo_core._util.text import suggest
    from zoo_core.errors import ConfigError
    from zoo_core.runs.history import EPOCH_METRICS

    key = f"callbacks.{context.name}"
    watchable = [name for name, better in EPOCH_METRICS.items() if better]
    if monitor not in watchable:
        why = ("is logged but does not measure the model" if monitor in EPOCH_METRICS
               else "is not a metric the run logs")
        raise ConfigError(f"{who}: monitor '{monitor}' {why}",
                          hint=f"--set {key}.monitor=val_loss; {suggest(monitor, watchable, 'the metrics to watch')}")
    if monitor.startswith("val_") and not context.settings.get("validation_split"):
        raise ConfigError(f"{who}: monitor '{monitor}' needs validation data, but validation_split is 0",
                          hint=f"--set validation_split=0.1, or --set {key}.monitor={monitor[4:]}")
    better = EPOCH_METRICS[monitor]
    if mode not in ("auto", better):
        worse = "lower" if better == "max" else "higher"
        raise ConfigError(f"{who}: mode '{mode}' counts a {worse} {monitor} as an improvement, but a {worse} "
                          f"{monitor} is worse", hint=f"--set {key}.mode=auto (here the same as {better})")


def early_stopping(context: Any, monitor: str = "val_loss", patience: Count = 3, min_delta: NonNegative = 0.0,
                   mode: Literal["auto", "min", "max"] = "auto", restore_best_weights: bool = True,
                   start_from_epoch: Count = 0) -> Any:
    """Stop training when a metric has stopped improving; the run is completed, its manifest and report say why.

    Args:
        monitor: the metric to watch: val_loss, val_accuracy, loss or accuracy (another is refused before any work).
        patience: epochs without improvement before training stops.
        min_delta: a change smaller than this is not an improvement.
        mode: auto (from the metric), or min for a loss and max for an accuracy (the opposite is refused).
        restore_best_weights: the run's model is the best epoch's, not the last one's.
        start_from_epoch: epochs to wait before watching (warm-up).
    """
    _check_monitor(context, monitor, mode, "callback early-stopping")
    from zoo_plugins.callbacks._early_stopping import EarlyStopping

    return EarlyStopping(context, monitor=monitor, patience=patience, min_delta=min_delta, mode=mode,
                         restore_best_weights=restore_best_weights, start_from_epoch=start_from_epoch)


def reduce_lr_on_plateau(context: Any, monitor: str = "val_loss", factor: Annotated[float, Range(0, 1, low_open=True,
                         high_open=True)] = 0.1, patience: Count = 2, min_delta: NonNegative = 1e-4,
                         mode: Literal["auto", "min", "max"] = "auto", cooldown: Count = 0,
                         min_lr: NonNegative = 0.0) -> Any:
    """Lower the learning rate when a metric has stopped improving (history.csv gets a learning_rate column).

    Args:
        monitor: the metric to watch: val_loss, val_accuracy, loss or accuracy (another is refused before any work).
        factor: the new rate is the old one times this, in (0, 1).
        patience: epochs without improvement before the rate is lowered.
        min_delta: a change smaller than this is not an improvement.
        mode: auto (from the metric), or min for a loss and max for an accuracy (the opposite is refused).
        cooldown: epochs to wait after lowering before watching again.
        min_lr: the rate never goes below this.
    """
    _check_monitor(context, monitor, mode, "callback reduce-lr-on-plateau")
    from zoo_plugins.callbacks._reduce_lr_on_plateau import ReduceLROnPlateau

    return ReduceLROnPlateau(context, monitor=monitor, factor=factor, patience=patience, min_delta=min_delta,
                             mode=mode, cooldown=cooldown, min_lr=min_lr)


def cosine_warmup(context: Any, warmup_epochs: Count = 1, min_lr: NonNegative = 0.0,
                  by: Literal["epoch", "step"] = "epoch", learning_rate: NonNegative = 0.0) -> Any:
    """Learning-rate schedule: linear warm-up, then cosine decay to min_lr over the remaining epochs.

    The rate of epoch n (from 1) is learning_rate * n / (warmup_epochs + 1)
    during warm-up (n <= warmup_epochs), then min_lr + (learning_rate - min_lr)
    * (1 + cos(pi * q)) / 2 with q = (n - warmup_epochs - 1) / (epochs -
    warmup_epochs): the peak right after warm-up, near min_lr at the end. By step, n counts
    steps and the warm-up is warmup_epochs * steps per epoch; the rate is set
    at each call into TensorFlow, so --set steps_per_execution=1 makes it
    change at every step. A function of the epoch (or step): a resume goes on
    where it stopped.

    Args:
        warmup_epochs: epochs of linear warm-up (0: none).
        min_lr: the rate at the end of the decay.
        by: epoch (one rate per epoch) or step (a rate per step).
        learning_rate: the peak rate (0: the optimizer's learning_rate).
    """
    from zoo_core.errors import ConfigError

    peak = learning_rate or context.config.get("optimizer", {}).get("learning_rate")
    if not isinstance(peak, (int, float)) or isinstance(peak, bool) or peak <= 0:
        raise ConfigError("callback cosine-warmup: the optimizer has no learning_rate to start from",
                          hint=f"--set callbacks.{context.name}.learning_rate=0.001")
    if min_lr >= peak:
        raise ConfigError(f"callback cosine-warmup: min_lr ({min_lr}) must be below the peak rate ({peak})",
                          hint=f"--set callbacks.{context.name}.min_lr=0")
    if warmup_epochs >= context.epochs:
        raise ConfigError(f"callback cosine-warmup: warmup_epochs ({warmup_epochs}) must be fewer than the run's "
                          f"epochs ({context.epochs})", hint=f"--set callbacks.{context.name}.warmup_epochs=1")
    from zoo_plugins.callbacks._cosine_warmup import CosineWarmup

    return CosineWarmup(context, float(peak), float(min_lr), warmup_epochs, by)


def fine_tune(context: Any, epoch: Annotated[int, Range(2)] = 2, layers: list[str] = (),
              factor: Annotated[float, Range(0, low_open=True)] = 0.1,
              batch_norm: Literal["frozen", "train"] = "frozen") -> Any:
    """Fine-tuning: at the start of an epoch, unfreeze the layers the freeze setting froze and scale the learning rate.

    The usual recipe (Keras' transfer-learning guide): train the new head on a
    frozen backbone first (``freeze = "backbone"``), then unfreeze and go on
    at a lower rate. A schedule callback that sets the rate every epoch
    (cosine-warmup) overrides the scaled rate.

    Args:
        epoch: the first epoch (from 1) that trains the unfrozen layers; at least 2, at most the run's epochs.
        layers: layer names or glob patterns to unfreeze (empty: every layer the freeze setting froze); one that
            matches no layer stops the run before its first epoch.
        factor: the learning rate is multiplied by this when the layers are unfrozen (0.1: ten times lower).
        batch_norm: frozen (BatchNormalization layers stay frozen, in inference mode, as Keras' guide advises)
            or train (they are unfrozen too and update their statistics).
    """
    from zoo_core.errors import ConfigError

    if epoch > context.epochs:
        raise ConfigError(f"callback {context.name}: epoch {epoch} is after the run's last epoch ({context.epochs})",
                          hint=f"--set callbacks.{context.name}.epoch={max(2, context.epochs // 2)}")
    if not layers and context.settings.get("freeze", "none") == "none":
        raise ConfigError(f"callback {context.name}: nothing to unfreeze: the run freezes no layer (freeze = \"none\")",
                          hint="--set freeze=backbone, or name the layers: "
                               f"--set 'callbacks.{context.name}.layers=[\"dense_*\"]'")
    from zoo_plugins.callbacks._fine_tune import FineTune

    return FineTune(context, epoch, list(layers), float(factor), batch_norm)


def tensorboard(context: Any, update_freq: Literal["epoch", "batch"] = "epoch", histogram_freq: Count = 0) -> Any:
    """Write TensorBoard logs to the run's tensorboard/ folder (the chief's only).

    Args:
        update_freq: write the losses and metrics every epoch, or every call into TensorFlow (batch).
        histogram_freq: every this many epochs, weight histograms (0: none).
    """
    import keras

    if not context.is_chief:
        return keras.callbacks.Callback()
    return keras.callbacks.TensorBoard(log_dir=str(context.run_dir / "tensorboard"), update_freq=update_freq,
                                       histogram_freq=histogram_freq)


@hookimpl
def register_callbacks() -> list[Component]:
    """zoo's own callbacks."""
    return [
        Component("early-stopping", early_stopping),
        Component("reduce-lr-on-plateau", reduce_lr_on_plateau),
        Component("cosine-warmup", cosine_warmup),
        Component("fine-tune", fine_tune),
        Component("tensorboard", tensorboard, requires=("tensorboard",), install="zoo[tensorboard]"),
    ]
