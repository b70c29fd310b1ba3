"""Training a run in its directory: the input, the callbacks, ``model.fit``, then the completion.

:func:`fit_and_complete` receives the run's
:class:`~zoo_core.training.session.RunSession`. Without a tf.distribute
strategy, batches and validation run in the graph (zoo_core.training.loop);
with one, the batches come from zoo_core.training.input_pipeline. A
streaming dataset's batches come from zoo_core.training.streaming, which
also times how long training waited on them. The callbacks stand in the
order of zoo_core.training.callbacks.order.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zoo_core.data import is_streaming
from zoo_core.errors import RunError
from zoo_core.runs import Manifest
from zoo_core.training import execution, input_pipeline
from zoo_core.training.callbacks.components import told_the_end
from zoo_core.training.completion import RunOutcome, complete
from zoo_core.training.freezing import thaw_layers
from zoo_core.training.precision import compute_in_float32
from zoo_core.training.prepare import data_source, fingerprint
from zoo_core.training.session import RunSession
from zoo_core.training.signals import StopRequested
from zoo_core.training.strategy import Strategy, WorkerDone

if TYPE_CHECKING:
    from zoo_core.training.callbacks.order import RunCallbacks


@dataclass
class _Input:
    """The training input of one run: the batch stream, the steps per epoch, the validation data."""

    stream: Any
    steps: int
    validation: tuple[Any, Any] | None  #: for ``fit`` under a tf.distribute strategy
    steps_per_execution: int
    validation_callbacks: list[Any]  #: the in-graph validation (zoo_core.training.callbacks.validation)
    meter: Any = None  #: a streaming run's InputMeter (zoo_core.training.streaming)
    cache_dir: Any = None  #: where a streaming dataset's disk cache lives while the run trains
    seconds: list[float] = field(default_factory=list)  #: the time of the fit, once it has run


def fit_and_complete(session: RunSession) -> RunOutcome:
    """Fit the remaining epochs, then let the chief complete the run (evaluate, save, plot, export, report)."""
    from zoo_core.training.callbacks.order import run_callbacks
    from zoo_core.training.callbacks.progress import progress_mode

    config, prepared, manifest, strategy = session.config, session.prepared, session.manifest, session.strategy
    dataset, model = prepared.dataset, prepared.model
    manifest.update(dataset=dataset.info.to_dict(), data_fingerprint=fingerprint(dataset),
                    data_source=data_source(config),
                    samples={"train": len(dataset.y_train), "test": len(dataset.y_test)},
                    data_warnings=prepared.data_warnings)
    if prepared.initial_weights is not None:  # a resume keeps the record of the run's start
        manifest.update(init_from=prepared.initial_weights)
    if prepared.frozen:
        manifest.update(frozen=prepared.frozen)
    _record_distribution(manifest, strategy)
    mode = progress_mode((session.progress or config.settings["progress"]) if strategy.is_chief else "none",
                         session.stream)
    data = _input(session, live_progress=mode == "bar")
    model.steps_per_execution = data.steps_per_execution
    callbacks = run_callbacks(session, data.validation_callbacks, mode, data.steps)
    manifest.update(epochs_done=prepared.first_epoch,
                    engine={"threads": prepared.threads, "steps_per_execution": model.steps_per_execution,
                            "steps_per_epoch": data.steps, "precision": prepared.precision})
    prepared.clock.lap("setup")
    with told_the_end(callbacks.components, session.run.dir, manifest):  # on_run_end(summary), however it ends
        stopped = (prepared.checkpoint or {}).get("stopped_early")  # a resume of a run a callback stopped early
        if prepared.first_epoch < session.epochs and not stopped:
            try:
                _fit(session, data, callbacks)
            finally:
                _record_input(session, data)
        prepared.clock.lap("training")
        thaw_layers(model, config.settings["freeze"])  # model.keras as the architecture built it: no frozen layer
        trained = strategy.after_fit(model, session.run.dir)  # chief: a one-device copy; other workers: WorkerDone
        if isinstance(trained, WorkerDone):
            return RunOutcome(session.run, role="worker", summary=trained.summary)
        _record_distribution(manifest, strategy)
        if prepared.precision != "float32":  # evaluation, model.keras and the exports see a float32 model
            trained = compute_in_float32(trained)
        return complete(session, trained, callbacks.history.rows, callbacks.weights.snapshots)


def _record_distribution(manifest: Manifest, strategy: Strategy) -> None:
    record = strategy.manifest_record()
    if record is not None:
        manifest.update(distribution=record)


def _record_input(session: RunSession, data: _Input) -> None:
    """manifest.json's ``input_pipeline``: examples per second and (streamed data) how long training waited on
    its input; removes a streaming dataset's disk cache."""
    if data.cache_dir is not None:
        from zoo_core.training.streaming import remove_cache

        remove_cache(data.cache_dir)
    if not data.seconds or data.seconds[0] <= 0:
        return
    seconds, examples = data.seconds[0], len(session.prepared.split.y_train)
    epochs = session.epochs - session.prepared.first_epoch
    record: dict[str, Any] = {"streaming": data.meter is not None, "training_seconds": round(seconds, 3),
                              "examples_per_second": round(examples * epochs / seconds, 1)}
    if data.meter is not None:
        record.update(batches=data.meter.batches, waited_seconds=round(data.meter.waited, 3),
                      waited_fraction=round(data.meter.waited / seconds, 4))
    session.manifest.update(input_pipeline=record)


def _input(session: RunSession, live_progress: bool) -> _Input:
    """The batch stream of the remaining epochs, validation data, and steps per call into TensorFlow."""
    prepared, strategy = session.prepared, session.strategy
    settings, info, split, loss = session.config.settings, prepared.dataset.info, prepared.split, prepared.loss
    y_train = input_pipeline.one_hot_if_needed(loss, split.y_train, info.num_classes)
    if is_streaming(prepared.dataset):
        return _streaming_input(session, y_train, live_progress)
    validation = None
    if split.x_val is not None:
        keep = input_pipeline.replica_multiple(len(split.x_val), strategy.tf_strategy)  # an even split over replicas
        validation = (split.x_val[:keep], input_pipeline.one_hot_if_needed(loss, split.y_val[:keep], info.num_classes))
    if strategy.tf_strategy is None:
        return _in_graph_input(session, split.x_train, y_train, validation, tuple(info.value_range), live_progress)
    from zoo_core.training import loop

    stream, steps = input_pipeline.training_dataset(split.x_train, y_train, settings["batch_size"], settings["seed"],
                                                    settings["shuffle"], prepared.first_epoch, settings["epochs"],
                                                    tf_strategy=strategy.tf_strategy,
                                                    augmentation=_augmentation(prepared.dataset),
                                                    value_range=tuple(info.value_range))
    loop.install_keras_train_function(prepared.model)
    return _Input(stream, steps, validation, _steps_per_execution(session, steps, live_progress), [])


def _in_graph_input(session: RunSession, x: Any, y_train: Any, validation: tuple[Any, Any] | None,
                    value_range: tuple[float, float], live_progress: bool, scale: Any = None) -> _Input:
    """The input of a run in one process whose training examples ``x`` are in memory: index blocks, each trained
    in one call with batches gathered in the graph (zoo_core.training.loop). ``scale``: ``x`` holds raw examples
    (a streaming dataset's memory cache) that it turns into model inputs, batch by batch."""
    from zoo_core.training import loop
    from zoo_core.training.callbacks.validation import Validation

    prepared, settings, batch_size = session.prepared, session.config.settings, session.config.settings["batch_size"]
    steps = math.ceil(len(x) / batch_size)
    steps_per_execution = _steps_per_execution(session, steps, live_progress)
    stream = loop.index_blocks(len(x), batch_size, steps_per_execution, settings["seed"], settings["shuffle"],
                               prepared.first_epoch, settings["epochs"])
    loop.install_train_function(prepared.model, x, y_train, batch_size, _augmentation(prepared.dataset),
                                settings["seed"], value_range, scale=scale)
    first = [Validation(*validation, batch_size=max(batch_size, 1024))] if validation is not None else []
    return _Input(stream, steps, None, steps_per_execution, first)


def _steps_per_execution(session: RunSession, steps: int, live_progress: bool) -> int:
    """Training steps per call into TensorFlow for an epoch of ``steps`` (zoo_core.training.execution)."""
    settings = session.config.settings
    return execution.choose_steps_per_execution(
        steps, settings["steps_per_execution"], live_progress=live_progress,
        step_seconds=execution.estimate_step_seconds(session.prepared.model.count_params(), settings["batch_size"]),
        cap=session.strategy.max_steps_per_execution)


def _augmentation(dataset: Any) -> Any:
    """The dataset's augmentation, None if it changes nothing."""
    augmentation = dataset.augmentation
    return augmentation if augmentation is not None and augmentation.changes_anything() else None


def _streaming_input(session: RunSession, y_train: Any, live_progress: bool) -> _Input:
    """The input of a streaming dataset: its training stream (zoo_core.training.streaming), validation batches
    decoded as they are read, and (without a tf.distribute strategy) the timed train function."""
    from zoo_core.training import streaming

    prepared, strategy, settings = session.prepared, session.strategy, session.config.settings
    dataset, split, batch_size = prepared.dataset, prepared.split, settings["batch_size"]
    if dataset.cache == "memory" and strategy.tf_strategy is None:
        return _memory_input(session, y_train, live_progress)
    cache_dir = session.run.dir / "cache" if dataset.cache == "disk" else None
    with streaming.data_errors():
        stream, steps = streaming.training_stream(dataset, split.x_train, y_train, batch_size, settings["seed"],
                                                  settings["shuffle"], prepared.first_epoch, settings["epochs"],
                                                  tf_strategy=strategy.tf_strategy, cache_dir=cache_dir)
    steps_per_execution = _steps_per_execution(session, steps, live_progress)
    validation, first, meter = None, [], None
    if split.x_val is not None:
        y_val = input_pipeline.one_hot_if_needed(prepared.loss, split.y_val, dataset.info.num_classes)
        keep = input_pipeline.replica_multiple(len(split.x_val), strategy.tf_strategy)  # an even split over replicas
        validation = streaming.evaluation_stream(dataset, split.x_val[:keep], y_val[:keep],
                                                 input_pipeline.replica_multiple(streaming.EVALUATION_BATCH,
                                                                                 strategy.tf_strategy))
    if strategy.tf_strategy is None:  # (under a strategy Keras validates, one batch per call)
        from zoo_core.training.callbacks.validation import Validation

        if validation is not None:
            first = [Validation(None, None, streaming.EVALUATION_BATCH, stream=validation)]
        validation, meter = None, streaming.InputMeter()
        streaming.install_train_function(prepared.model, meter)
    else:
        from zoo_core.training import loop

        loop.install_keras_train_function(prepared.model)  # traced again when a layer is unfrozen
    return _Input(stream, steps, validation, steps_per_execution, first, meter=meter, cache_dir=cache_dir)


def _memory_input(session: RunSession, y_train: Any, live_progress: bool) -> _Input:
    """The input of a streaming dataset whose ``cache`` is ``memory``, in one process: its raw examples decoded
    once, then trained as arrays are, scaled and changed batch by batch in the graph."""
    from zoo_core.training import streaming

    prepared, info = session.prepared, session.prepared.dataset.info
    dataset, split = prepared.dataset, prepared.split
    with streaming.data_errors():
        raw = streaming.cached_examples(dataset, split.x_train)
        validation = None if split.x_val is None else (
            streaming.decoded_examples(dataset, split.x_val),
            input_pipeline.one_hot_if_needed(prepared.loss, split.y_val, info.num_classes))
    return _in_graph_input(session, raw, y_train, validation, tuple(info.raw_value_range), live_progress,
                           scale=lambda values: streaming.scaled(values, info))


def _fit(session: RunSession, data: _Input, callbacks: RunCallbacks) -> None:
    """``model.fit`` over the remaining epochs; signals stop it at a safe point, a NaN loss fails the run."""
    from zoo_core.training.callbacks.nan_guard import NonFiniteLoss

    config, stops, settings = session.config, session.stops, session.config.settings
    stops.committed()  # the run's start is committed: a signal stops at once until the first epoch starts
    if stops.signum is not None:  # a signal came during the set-up
        raise StopRequested(stops.signum)
    streamed = is_streaming(session.prepared.dataset)
    start = time.perf_counter()
    try:
        session.prepared.model.fit(data.stream, epochs=settings["epochs"], initial_epoch=session.prepared.first_epoch,
                                   steps_per_epoch=data.steps, validation_data=data.validation,
                                   validation_batch_size=None if streamed else input_pipeline.replica_multiple(
                                       max(settings["batch_size"], 1024), session.strategy.tf_strategy),
                                   callbacks=callbacks.all, shuffle=False, verbose=0)
        data.seconds.append(time.perf_counter() - start)
    except NonFiniteLoss as error:
        rate = config.optimizer.params.get("learning_rate")
        rate_text = f" (this run: {config.optimizer.ref} learning_rate={rate})" if rate is not None else ""
        raise RunError(f"training stopped: {error}; the run failed",
                       hint=f"likely causes: a learning rate too high{rate_text}, inputs that are not scaled, "
                            "or a loss that does not match the labels; start again with a lower rate: "
                            f"zoo run --config {session.run.dir / 'config.toml'} --set optimizer.learning_rate=0.0001"
                       ) from None
    except Exception as error:
        better = session.strategy.translate_error(error)  # a lost worker: WorkerLost, exit code 75
        if better is None and streamed:  # a file the dataset's decode could not read: DataError, exit code 2
            from zoo_core.training.streaming import data_error

            better = data_error(error)
        if better is not None:
            raise better from error
        raise
    finally:
        stops.defer = False
        callbacks.progress.close()
    if stops.signum is not None:
        raise StopRequested(stops.signum)
