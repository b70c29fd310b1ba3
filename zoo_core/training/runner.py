"""One run end to end: the Python API behind ``zoo run``, ``train`` and ``resume``.

Flow of :func:`train`: check the runs root is writable → plan the strategy
→ :func:`~zoo_core.training.prepare.prepare` (data, TensorFlow, model: every
mistake so far costs no run directory) → check free disk space → create the
run directory (locked), write config.toml and a 'running' manifest.json →
fit, committing a checkpoint at the start and at each epoch end →
:func:`~zoo_core.training.finish.complete` (evaluate, model, plots, exports,
report). Every file is written to a temporary name and renamed into place;
the manifest's status says at any moment whether the run is running,
completed, failed or interrupted. Stops are in zoo_core.training.signals.

Resume (:func:`resume`) rebuilds the model from config.toml exactly as a new
run does, loads the checkpoint's weights and optimizer state, restores the
dropout seed generators, and feeds the remaining epochs the same batches in
the same order (zoo_core.training.engine), so a resumed run repeats an
uninterrupted one; only the epoch in progress at a kill is lost and redone.
A resume may change a few settings (``--set``, zoo_core.training.resume_changes)
and the cluster shape: a multi-worker run can go on with fewer workers, or
as one process, when a machine is lost for good.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, TextIO

from zoo_core.errors import RunError, ZooError
from zoo_core.files import WRITE_ERRNOS, describe_os_error, remove_temporaries, write_text_atomic
from zoo_core.registry import Registry, RunConfig
from zoo_core.registry.runconfig import component_records
from zoo_core.runs import Manifest, Run, RunLock, check_writable, create_run_dir, runs_root, utc_now, versions
from zoo_core.runs.checkpoint import check_epochs_done, read_checkpoint
from zoo_core.training import distribute, engine, extensions
from zoo_core.training.distribute import Cluster
from zoo_core.training.finish import RunOutcome, complete
from zoo_core.training.prepare import Prepared, bytes_needed, data_source, fingerprint, prepare
from zoo_core.training.resume_changes import (check_new_exporters, record_resume, resume_overrides,
                                                   resumed_config, strategy_setting)
from zoo_core.training.signals import RunInterrupted, StopRequested, StopRequests, signal_name
from zoo_core.training.strategy import StartedRun, Strategy, WorkerDone


def train(config: RunConfig, registry: Registry, root: str | Path | None = None, progress: str | None = None,
          stream: TextIO | None = None, cluster: Cluster | None = None, *, extra_callbacks: Sequence[Any] = (),
          record: dict[str, Any] | None = None) -> RunOutcome:
    """Run ``config`` from scratch in a new run directory.

    ``extra_callbacks`` are Keras callbacks called after zoo's own at each
    step (zoo sweep's pruning); ``record`` adds entries to manifest.json
    (zoo sweep's ``sweep`` record). An exception a callback raises fails the run.

    Everything that can be checked is checked before the run directory is
    created: the runs root is writable, the cluster (``cluster``: from
    --workers/--task-index; else TF_CONFIG) fits the strategy setting, the
    data loads, the model builds and compiles, and the disk has room for
    checkpoints and exports.
    """
    root_path = runs_root(root)
    check_writable(root_path)
    strategy = distribute.plan(config, cluster)
    with StopRequests("the set-up of the run", note="no run directory was created") as stops:
        prepared = prepare(config, strategy)
        check_writable(root_path, bytes_needed(prepared.model, config))
        run, manifest, lock = strategy.place_run(lambda folder: start_run(config, registry, folder, record), root_path)
        try:
            return _train_in(run, manifest, config, prepared, strategy, stops, progress, stream, extra_callbacks)
        finally:
            lock.release()


def resume(run: Run, registry: Registry, progress: str | None = None, stream: TextIO | None = None,
           cluster: Cluster | None = None, overrides: list[str] | None = None) -> RunOutcome:
    """Continue an interrupted, killed or failed run from its last committed checkpoint.

    ``overrides`` are ``--set`` texts of the keys a resume may change
    (zoo_core.training.resume_changes); ``cluster`` may differ from the one
    the run started on (fewer or more workers, or none): the global batch
    stays, and the manifest records the change of shape.
    """
    overrides = resume_overrides(run, overrides, cluster)  # a key that cannot change: exit 2 before anything
    plan = distribute.resume_target(run, cluster, strategy_setting(overrides))  # a non-chief worker: its backup
    run = plan.run if plan is not None else run
    with StopRequests(f"the resume of run '{run.id}'", note="the run stays as it was") as stops:
        lock = RunLock(run.dir).acquire("resume")  # RunBusy while another process works in it
        try:
            data = _resumable_manifest(run)
            remove_temporaries(run.dir)  # what a killed process left; we hold the lock, so none is in use
            state = _checkpoint_state(run)
            config = resumed_config(run, registry, overrides, state["epochs_done"] if state else 0)
            _check_epochs_done(run, state, config.settings["epochs"])
            strategy = distribute.plan(config, cluster, resuming=plan, resumed=True)
            prepared = prepare(config, strategy, resume_from=(run, state))  # refuses other data than the run's
            check_new_exporters(config, prepared, overrides)
            done = prepared.first_epoch
            data.update(status="running", pid=os.getpid(), host=socket.gethostname(), error=None, finished=None,
                        epochs_done=done)
            try:
                note = record_resume(run, data, config, overrides, strategy, done)
                if overrides:
                    data["components"] = component_records(config)
                manifest = Manifest(run.dir / "manifest.json", data, reserve=True)
            except OSError as error:
                raise RunError(f"cannot write to the run directory '{run.dir}': {describe_os_error(error)}",
                               hint="free some disk space, then resume again") from None
            if note and strategy.is_chief:
                print(f"zoo: {note}", file=sys.stderr, flush=True)
            outcome = _train_in(run, manifest, config, prepared, strategy, stops, progress, stream)
        finally:
            lock.release()
    if outcome.role != "worker":  # workers gone for good never remove their backups: the chief does
        distribute.remove_backups(run.dir, getattr(strategy, "cluster", None))
    return outcome


def _checkpoint_state(run: Run) -> dict[str, Any] | None:
    """The run's committed checkpoint; a RunError saying what to do if it is damaged."""
    try:
        return read_checkpoint(run.dir / "checkpoint")
    except ValueError as error:
        raise _damaged_checkpoint(run, error) from None


def _check_epochs_done(run: Run, state: dict[str, Any] | None, epochs: int) -> None:
    """The checkpoint may not count more epochs done than the run has (a tampered state.json)."""
    if state is not None:
        try:
            check_epochs_done(run.dir / "checkpoint", state, epochs)
        except ValueError as error:
            raise _damaged_checkpoint(run, error) from None


def _damaged_checkpoint(run: Run, error: ValueError) -> RunError:
    directory = run.dir / "checkpoint"
    return RunError(f"run '{run.id}': its checkpoint is damaged: {error}",
                    hint=f"delete the folder {directory} and run 'zoo resume {run.dir}' again to train the run "
                         f"from epoch 1 in the same directory, or start a new run: "
                         f"zoo run --config {run.dir / 'config.toml'}")


def _resumable_manifest(run: Run) -> dict[str, Any]:
    """The run's manifest, if the run can be resumed; else a RunError saying why not."""
    data = run.manifest()
    if data.get("status") == "completed":
        raise RunError(f"run '{run.id}' already completed; nothing to resume",
                       hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}")
    if data.get("status") == "unknown":
        raise RunError(f"run '{run.id}' has no readable manifest.json; it cannot be resumed",
                       hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}")
    return data


def start_run(config: RunConfig, registry: Registry, root: str | Path | None = None,
              record: dict[str, Any] | None = None) -> StartedRun:
    """Create the run directory (locked), write config.toml and a 'running' manifest.

    If writing them fails (full disk...), the new directory is removed again
    and a RunError explains why.
    """
    directory = create_run_dir(runs_root(root), config.recipe)
    lock = RunLock(directory).acquire("start")
    try:
        write_text_atomic(directory / "config.toml", config.to_toml())  # every component as plugin:name
        distributions = {c.component.distribution: c.component.version for c in config.choices()}
        manifest = Manifest(directory / "manifest.json", {
            "run_id": directory.name, "recipe": config.recipe, "status": "running",
            "started": utc_now(), "finished": None, "seed": config.settings["seed"],
            "pid": os.getpid(), "host": socket.gethostname(),
            "versions": versions(), "plugins": distributions,
            "components": component_records(config), "settings": config.settings,
            "epochs_done": 0, **(record or {}),
        }, reserve=True)
    except OSError as error:
        lock.release()
        shutil.rmtree(directory, ignore_errors=True)
        raise RunError(f"cannot write the run directory '{directory}': {describe_os_error(error)}",
                       hint="free some disk space, or choose a writable folder with --runs-dir or ZOO_RUNS_DIR"
                       ) from None
    return StartedRun(Run(directory), manifest, lock)


def _train_in(run: Run, manifest: Manifest, config: RunConfig, prepared: Prepared, strategy: Strategy,
              stops: StopRequests, progress: str | None, stream: TextIO | None,
              extra_callbacks: Sequence[Any] = ()) -> RunOutcome:
    """Fit and finish in a run directory; whatever stops it, the manifest says why (interrupted or failed)."""
    started = time.perf_counter()
    try:
        outcome = _fit_and_finish(run, manifest, config, prepared, strategy, stops, progress, stream, extra_callbacks)
    except KeyboardInterrupt as error:
        stops.quiet = True
        signum = getattr(error, "signum", None) or stops.signum or signal.SIGINT
        name = signal_name(signum)
        reason = "Ctrl-C" if signum == signal.SIGINT else name
        manifest.record(status="interrupted", finished=utc_now(), error=f"interrupted ({reason})")
        done = manifest.data.get("epochs_done", 0)
        raise RunInterrupted(f"run '{run.id}' interrupted ({reason}) after {done} of "
                             f"{config.settings['epochs']} epoch(s); its checkpoint is saved",
                             hint=f"continue it with: zoo resume {run.dir}", signum=signum) from None
    except ZooError as error:
        stops.quiet = True
        manifest.record(status="failed", finished=utc_now(), error=error.message)
        raise
    except OSError as error:
        stops.quiet = True
        message = f"cannot write to the run directory '{run.dir}': {describe_os_error(error)}"
        if error.errno not in WRITE_ERRNOS:
            message = f"{type(error).__name__}: {error}"
        manifest.record(status="failed", finished=utc_now(), error=message)
        if error.errno in WRITE_ERRNOS:
            raise RunError(message, hint=f"free some disk space (or fix the folder's permissions), then continue "
                                         f"from the last checkpoint with: zoo resume {run.dir}") from None
        raise
    except Exception as error:
        stops.quiet = True
        manifest.record(status="failed", finished=utc_now(), error=f"{type(error).__name__}: {error}")
        raise
    finally:
        stops.defer = False
        manifest.free_reserve()  # the run's last status is written: the room kept for it is not needed
    outcome.seconds = time.perf_counter() - started
    return outcome


@dataclass
class _Input:
    """The training input of one run: the batch stream, the steps per epoch, the validation data."""

    stream: Any
    steps: int
    validation: tuple[Any, Any] | None
    steps_per_execution: int
    first_callbacks: list[Any]  #: before zoo's own: the in-graph validation (zoo_core.training.loop)


@dataclass
class _Callbacks:
    """The Keras callbacks of one run, and the ones the runner reads afterwards."""

    history: Any
    weights: Any
    progress: Any
    all: list[Any]
    components: list[Any]  #: the run's callback components (zoo_core.training.extensions.Built)


def _fit_and_finish(run: Run, manifest: Manifest, config: RunConfig, prepared: Prepared, strategy: Strategy,
                    stops: StopRequests, progress: str | None, stream: TextIO | None,
                    extra_callbacks: Sequence[Any] = ()) -> RunOutcome:
    """Fit the remaining epochs, then let the chief finish the run (evaluate, save, plot, export, report)."""
    from zoo_core.training.progress import progress_mode

    dataset, model = prepared.dataset, prepared.model
    manifest.update(dataset=dataset.info.to_dict(), data_fingerprint=fingerprint(dataset),
                    data_source=data_source(config),
                    samples={"train": len(dataset.x_train), "test": len(dataset.x_test)},
                    data_warnings=prepared.data_warnings)
    _record_distribution(manifest, strategy)
    mode = progress_mode((progress or config.settings["progress"]) if strategy.is_chief else "none", stream)
    data = _input(config, prepared, strategy, live_progress=mode == "bar")
    model.steps_per_execution = data.steps_per_execution
    callbacks = _callbacks(run, manifest, config, prepared, stops, mode, data.steps, stream, strategy.is_chief)
    callbacks.all[:0] = data.first_callbacks  # validation first: the callbacks after it read val_* figures
    callbacks.all[-1:-1] = list(extra_callbacks)  # after the checkpoint of an epoch, before the safe-point stop
    manifest.update(epochs_done=prepared.first_epoch,
                    engine={"threads": prepared.threads, "steps_per_execution": model.steps_per_execution,
                            "steps_per_epoch": data.steps})
    prepared.clock.lap("setup")
    with extensions.told_the_end(callbacks.components, run.dir, manifest):  # on_run_end(summary), however it ends
        stopped = (prepared.checkpoint or {}).get("stopped_early")  # a resume of a run a callback stopped early
        if prepared.first_epoch < config.settings["epochs"] and not stopped:
            _fit(run, config, model, data, callbacks, stops, strategy, prepared.first_epoch)
        prepared.clock.lap("training")
        trained = strategy.after_fit(model, run.dir)  # chief: a one-device copy; other workers: WorkerDone
        if isinstance(trained, WorkerDone):
            return RunOutcome(run, role="worker", summary=trained.summary)
        _record_distribution(manifest, strategy)
        return complete(run, manifest, config, trained, dataset, prepared.loss, callbacks.history.rows,
                        callbacks.weights.snapshots, clock=prepared.clock)


def _record_distribution(manifest: Manifest, strategy: Strategy) -> None:
    record = strategy.manifest_record()
    if record is not None:
        manifest.update(distribution=record)


def _input(config: RunConfig, prepared: Prepared, strategy: Strategy, live_progress: bool) -> _Input:
    """The batch stream of the remaining epochs, validation data, and steps per call into TensorFlow.

    Without a tf.distribute strategy, batches and validation run in the graph (zoo_core.training.loop).
    """
    settings, info, split, loss = config.settings, prepared.dataset.info, prepared.split, prepared.loss
    batch_size, in_graph = settings["batch_size"], strategy.tf_strategy is None
    y_train = engine.one_hot_if_needed(loss, split.y_train, info.num_classes)
    stream, steps = None, math.ceil(len(split.x_train) / batch_size)
    if not in_graph:
        stream, steps = engine.training_dataset(split.x_train, y_train, batch_size, settings["seed"],
                                                settings["shuffle"], prepared.first_epoch, settings["epochs"],
                                                tf_strategy=strategy.tf_strategy)
    steps_per_execution = engine.choose_steps_per_execution(
        steps, settings["steps_per_execution"], live_progress=live_progress,
        step_seconds=engine.estimate_step_seconds(prepared.model.count_params(), batch_size),
        cap=strategy.max_steps_per_execution)
    validation = None
    if split.x_val is not None:
        validation = (split.x_val, engine.one_hot_if_needed(loss, split.y_val, info.num_classes))
    if not in_graph:
        return _Input(stream, steps, validation, steps_per_execution, [])
    from zoo_core.training import loop

    stream = loop.index_blocks(len(split.x_train), batch_size, steps_per_execution, settings["seed"],
                               settings["shuffle"], prepared.first_epoch, settings["epochs"])
    loop.install_train_function(prepared.model, split.x_train, y_train, batch_size)
    first = [loop.Validation(*validation, batch_size=max(batch_size, 1024))] if validation is not None else []
    return _Input(stream, steps, None, steps_per_execution, first)


def _callbacks(run: Run, manifest: Manifest, config: RunConfig, prepared: Prepared, stops: StopRequests,
               mode: str, steps: int, stream: TextIO | None, is_chief: bool) -> _Callbacks:
    """zoo's callbacks for this run around the run's callback components; commits the first checkpoint of a new run."""
    from zoo_core.training import callbacks as cb
    from zoo_core.training.progress import Progress

    checkpoint_dir = run.dir / "checkpoint"
    history = cb.HistoryWriter(run.dir / "history.csv", prepared.rows)
    weights = cb.WeightSnapshots()
    weights.set_model(prepared.model)
    weights.snapshots = list(prepared.snapshots)
    if not weights.snapshots:
        weights.snapshot()
    history.write()  # after a resume: drop any row of an epoch that was not committed
    epochs = config.settings["epochs"]
    built = extensions.build_callbacks(config, run.dir, prepared.dataset.info, is_chief=is_chief,
                                       initial_epoch=prepared.first_epoch, steps_per_epoch=steps, history=prepared.rows,
                                       saved=(prepared.checkpoint or {}).get("callbacks"))
    stopped: list[dict] = []

    def extra(epochs_done: int, stopping: bool) -> dict:
        found = extensions.checkpoint_extra(built, epochs_done, epochs, stopping)
        stopped[:] = [found["stopped_early"]] if "stopped_early" in found else []
        return found

    if prepared.checkpoint is None:  # a checkpoint exists from the first step on
        cb.save_checkpoint(checkpoint_dir, prepared.model, prepared.first_epoch, history.rows, weights.snapshots,
                           {"callbacks": {}})  # nothing to save of them before training

    def committed(epochs_done: int) -> None:
        manifest.update(epochs_done=epochs_done, **({"stopped_early": stopped[0]} if stopped else {}))

    bar = Progress(mode, epochs, steps, stream)
    every = [cb.EpochTimer(), cb.NaNGuard(), *[b.callback for b in built if not b.after_checkpoint], history, weights,
             cb.Checkpointer(checkpoint_dir, history, weights, committed, extra),
             *[b.callback for b in built if b.after_checkpoint], bar, cb.StopAtSafePoint(stops.pending, steps)]
    return _Callbacks(history, weights, bar, every, built)


def _fit(run: Run, config: RunConfig, model: Any, data: _Input, callbacks: _Callbacks, stops: StopRequests,
         strategy: Strategy, first_epoch: int) -> None:
    """``model.fit`` over the remaining epochs; signals stop it at a safe point, a NaN loss fails the run."""
    from zoo_core.training.callbacks import NonFiniteLoss

    settings = config.settings
    stops.defer = True
    if stops.signum is not None:  # a signal came during the set-up
        raise StopRequested(stops.signum)
    try:
        model.fit(data.stream, epochs=settings["epochs"], initial_epoch=first_epoch, steps_per_epoch=data.steps,
                  validation_data=data.validation, validation_batch_size=max(settings["batch_size"], 1024),
                  callbacks=callbacks.all, shuffle=False, verbose=0)
    except NonFiniteLoss as error:
        rate = config.optimizer.params.get("learning_rate")
        rate_text = f" (this run: {config.optimizer.ref} learning_rate={rate})" if rate is not None else ""
        raise RunError(f"training stopped: {error}; the run failed",
                       hint=f"likely causes: a learning rate too high{rate_text}, inputs that are not scaled, "
                            "or a loss that does not match the labels; start again with a lower rate: "
                            f"zoo run --config {run.dir / 'config.toml'} --set optimizer.learning_rate=0.0001"
                       ) from None
    except Exception as error:
        better = strategy.translate_error(error)  # a lost worker: WorkerLost, exit code 75
        if better is not None:
            raise better from error
        raise
    finally:
        stops.defer = False
        callbacks.progress.close()
    if stops.signum is not None:
        raise StopRequested(stops.signum)
