"""One run end to end: the Python API behind ``zoo run``, ``train``, ``resume``, ``evaluate`` and ``export``.

Flow of :func:`train`: check the runs root is writable → load and check the
dataset → set up TensorFlow → build and compile the model (every mistake so
far costs no run directory) → check free disk space → create the run
directory (locked), write config.toml and a 'running' manifest.json → fit,
committing a checkpoint at the start and at each epoch end → evaluate → save
the model → plots → exports → report. Every file is written to a temporary
name and renamed into place; the manifest's status says at any moment
whether the run is running, completed, failed or interrupted (a 'running'
run whose process died reads as interrupted, see zoo_core.runs).

Stops. Ctrl-C (SIGINT), SIGTERM and SIGHUP stop a run cleanly: during training the
stop happens at the next safe point (after the current call into
TensorFlow; at an epoch's end the epoch is checkpointed first), the manifest
says 'interrupted' and :class:`RunInterrupted` carries exit code 130
(SIGINT), 143 (SIGTERM) or 129 (SIGHUP). A second signal stops at once. SIGKILL cannot be
caught; the checkpoint protocol (zoo_core.callbacks.save_checkpoint) makes
sure the last committed checkpoint is whole anyway.

Resume (:func:`resume`) rebuilds the model from config.toml exactly as a new
run does, loads the checkpoint's weights and optimizer state (step count,
moments, learning rate), restores the dropout seed generators, and feeds the
remaining epochs the same batches in the same order (zoo_core.engine), so a
resumed run repeats an uninterrupted one; only the epoch in progress at the
kill is lost and redone.
"""

from __future__ import annotations

import math
import os
import platform
import signal
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, TextIO

from zoo_core import __version__, distribute
from zoo_core._util.hashing import sha256_of_arrays
from zoo_core._util.text import error_line
from zoo_core.config import ComponentChoice, RunConfig
from zoo_core.errors import ConfigError, RunError, ZooError
from zoo_core.export import ExportResult
from zoo_core.files import atomic_path, write_json_atomic, write_text_atomic
from zoo_core.registry import Registry
from zoo_core.runs import (DISK_ERRNOS, WRITE_ERRNOS, Run, RunLock, check_writable, create_run_dir, describe_os_error,
                           runs_root, safe_name, utc_now)

EXIT_INTERRUPTED = 130
#: Largest batch size, epoch count or sample limit TensorFlow takes (a 32-bit int).
MAX_INT_SETTING = 2**31 - 1
#: Disk space kept free beyond the estimate for checkpoints, the model and exports (plots, report, logs).
SPACE_MARGIN = 32 * 2**20


@dataclass
class RunOutcome:
    """What a finished run produced.

    ``problems`` lists what went wrong after training although the run
    completed (plots or report that could not be written); failed exports
    are in ``exports`` with status 'failed'.
    """

    run: Run
    metrics: dict[str, Any] = field(default_factory=dict)
    exports: list[ExportResult] = field(default_factory=list)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


class RunInterrupted(ZooError):
    """Ctrl-C or SIGTERM during a run: the run is saved as interrupted and can be resumed.

    Exit code 130 for SIGINT, 143 for SIGTERM (128 + the signal number).
    """

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, *, hint: str | None = None, signum: int = signal.SIGINT) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = 128 + int(signum)


class StopRequested(KeyboardInterrupt):
    """Raised (at a safe point) when SIGINT or SIGTERM asked the run to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopRequests:
    """SIGINT, SIGTERM and SIGHUP handlers that turn a signal into a clean stop.

    While ``defer`` is true (inside ``model.fit``) the first signal is only
    recorded and :meth:`pending` hands it to the StopAtSafePoint callback;
    otherwise, or on a second signal, StopRequested is raised at once. Only
    the main thread can install handlers; elsewhere this does nothing and
    Python's default Ctrl-C behaviour remains.
    """

    #: Ctrl-C; what orchestrators send (Kubernetes, systemd, docker stop); a closed terminal.
    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self) -> None:
        self.signum: int | None = None
        self.defer = False
        self.quiet = False  # while recording a stop: remember further signals, do not raise
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                try:
                    self._previous[number] = signal.signal(number, self._handle)
                except (ValueError, OSError):  # pragma: no cover - e.g. an embedded interpreter
                    pass
        return self

    def __exit__(self, *exc: Any) -> None:
        for number, previous in self._previous.items():
            try:
                signal.signal(number, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError):  # pragma: no cover
                pass
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if self.quiet or (first and self.defer):
            return
        raise StopRequested(signum)

    def pending(self) -> StopRequested | None:
        return StopRequested(self.signum) if self.signum is not None else None


def versions() -> dict[str, str]:
    """Versions of Python, TensorFlow, Keras and zoo, without importing TensorFlow."""
    def version_of(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"python": platform.python_version(), "tensorflow": version_of("tensorflow"),
            "keras": version_of("keras"), "zoo": __version__}


def qualified_names(config: RunConfig, registry: Registry) -> set[tuple[str, str]]:
    """(kind, name) of the run's components whose bare name is ambiguous."""
    return {(c.kind, c.component.name) for c in config.choices()
            if len(registry.catalog.by_kind[c.kind].get(c.component.name, [])) > 1}


def component_records(config: RunConfig) -> list[dict[str, Any]]:
    """The manifest's record of each component: where it came from and its params."""
    return [{"kind": c.kind, "name": c.ref, "component": c.component.name, "plugin": c.component.plugin,
             "distribution": c.component.distribution, "version": c.component.version, "params": c.params}
            for c in config.choices()]


class Manifest:
    """manifest.json of one run, rewritten atomically on every change."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self.save()

    def update(self, **values: Any) -> None:
        self.data.update(values)
        self.save()

    def save(self) -> None:
        write_json_atomic(self.path, self.data)

    def record(self, **values: Any) -> bool:
        """Like :meth:`update`, but never raises (used while reporting another failure)."""
        self.data.update(values)
        try:
            self.save()
            return True
        except Exception:  # noqa: BLE001 - e.g. the disk is full: the status then reads from the lock
            return False


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


def start_run(config: RunConfig, registry: Registry, root: str | Path | None = None) -> tuple[Run, Manifest, RunLock]:
    """Create the run directory (locked), write config.toml and a 'running' manifest.

    If writing them fails (full disk...), the new directory is removed again
    and a RunError explains why.
    """
    directory = create_run_dir(runs_root(root), config.recipe)
    lock = RunLock(directory).acquire("start")
    try:
        write_text_atomic(directory / "config.toml", config.to_toml(qualified_names(config, registry)))
        distributions = {c.component.distribution: c.component.version for c in config.choices()}
        manifest = Manifest(directory / "manifest.json", {
            "run_id": directory.name, "recipe": config.recipe, "status": "running",
            "started": utc_now(), "finished": None, "seed": config.settings["seed"],
            "pid": os.getpid(), "host": socket.gethostname(),
            "versions": versions(), "plugins": distributions,
            "components": component_records(config), "settings": config.settings,
            "epochs_done": 0,
        })
    except OSError as error:
        lock.release()
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
        raise RunError(f"cannot write the run directory '{directory}': {describe_os_error(error)}",
                       hint="free some disk space, or choose a writable folder with --runs-dir or ZOO_RUNS_DIR"
                       ) from None
    return Run(directory), manifest, lock


def fingerprint(dataset: Any) -> dict[str, str]:
    """sha256 of the training and test arrays (data and labels) actually used."""
    return {"train_sha256": sha256_of_arrays((dataset.x_train, dataset.y_train)),
            "test_sha256": sha256_of_arrays((dataset.x_test, dataset.y_test))}


def load_dataset(config: RunConfig) -> Any:
    """Build the run's dataset, check its contract and apply the sample limits."""
    from zoo_core.engine import check_dataset, limit
    from zoo_core.errors import DataError

    where = f"dataset '{config.dataset.ref}'"
    try:
        dataset = config.dataset.build()
        check_dataset(dataset, where)
    except DataError as error:
        if not error.hint:
            error.hint = (f"fix the data the dataset reads, or its parameters ('zoo show {config.dataset.component.name}' "
                          "lists them, e.g. --set dataset.path=...)")
        raise
    except MemoryError:
        raise DataError(f"{where}: not enough memory to load the data",
                        hint="use --set max_train_samples=N to train on part of it") from None
    settings = config.settings
    return limit(dataset, settings["max_train_samples"], settings["max_test_samples"])


def check_int_settings(config: RunConfig) -> None:
    """Refuse integer settings TensorFlow cannot take (before any work)."""
    for name in ("epochs", "batch_size", "max_train_samples", "max_test_samples", "steps_per_execution"):
        value = config.settings.get(name)
        if isinstance(value, int) and value > MAX_INT_SETTING:
            raise ConfigError(f"setting '{name}' is {value}, more than the largest allowed ({MAX_INT_SETTING})",
                              hint=f"e.g. --set {name}={SETTING_EXAMPLES.get(name, 1)}")


SETTING_EXAMPLES = {"epochs": 10, "batch_size": 32, "max_train_samples": 1000, "max_test_samples": 1000,
                    "steps_per_execution": 0}


def train(config: RunConfig, registry: Registry, root: str | Path | None = None,
          progress: str | None = None, stream: TextIO | None = None) -> RunOutcome:
    """Run ``config`` from scratch in a new run directory.

    Everything that can be checked is checked before the run directory is
    created: the runs root is writable, the data loads, the model builds and
    compiles, and the disk has room for checkpoints and exports.
    """
    check_int_settings(config)
    root_path = runs_root(root)
    check_writable(root_path)
    with StopRequests() as stops:
        prepared = _prepare(config, resume_from=None)
        check_writable(root_path, bytes_needed(prepared.model, config))
        run, manifest, lock = distribute.start_run(start_run, config, registry, root_path)  # non-chief: a backup
        try:
            return _train_in(run, manifest, config, prepared, stops, progress, stream)
        finally:
            lock.release()


def resume(run: Run, registry: Registry, progress: str | None = None, stream: TextIO | None = None) -> RunOutcome:
    """Continue an interrupted, killed or failed run from its last committed checkpoint."""
    from zoo_core.engine import quiet_native_stderr

    with quiet_native_stderr():  # importing Keras here must not print TensorFlow's start-up chatter
        from zoo_core.callbacks import read_checkpoint

    run = distribute.resume_target(run)  # a multi-worker run's non-chief worker resumes in its own backup
    with StopRequests() as stops:
        lock = RunLock(run.dir).acquire("resume")  # RunBusy while another process works in it
        try:
            data = run.manifest()
            if data.get("status") == "completed":
                raise RunError(f"run '{run.id}' already completed; nothing to resume",
                               hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}")
            if data.get("status") == "unknown":
                raise RunError(f"run '{run.id}' has no readable manifest.json; it cannot be resumed",
                               hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}")
            config = run_config(run, registry)
            check_int_settings(config)
            try:
                state = read_checkpoint(run.dir / "checkpoint")
            except ValueError as error:
                raise RunError(f"run '{run.id}': its checkpoint is damaged: {error}",
                               hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}"
                               ) from None
            prepared = _prepare(config, resume_from=(run, state))
            done = prepared.first_epoch
            data.update(status="running", pid=os.getpid(), host=socket.gethostname(), error=None, finished=None,
                        epochs_done=done, resumed=[*data.get("resumed", []), {"at": utc_now(), "epochs_done": done}])
            try:
                manifest = Manifest(run.dir / "manifest.json", data)
            except OSError as error:
                raise RunError(f"cannot write to the run directory '{run.dir}': {describe_os_error(error)}",
                               hint="free some disk space, then resume again") from None
            return _train_in(run, manifest, config, prepared, stops, progress, stream)
        finally:
            lock.release()


def bytes_needed(model: Any, config: RunConfig) -> int:
    """A generous estimate of the disk space a run needs: checkpoints, model.keras and exports."""
    import numpy as np

    optimizer = getattr(model, "optimizer", None)
    weights = sum(int(np.prod(v.shape)) for v in model.weights) * 4
    slots = sum(int(np.prod(v.shape)) for v in (optimizer.variables if optimizer is not None else [])) * 4
    checkpoint = weights + slots
    # two checkpoints exist while one is committed, plus model.keras; a SavedModel and each export
    # are about the weights' size (staged beside the destination, so twice while they move).
    return 3 * checkpoint + 2 * weights * (1 + len(config.exporters)) + SPACE_MARGIN


def _prepare(config: RunConfig, resume_from: tuple[Run, dict | None] | None) -> Prepared:
    """Load the data, set up TensorFlow, build and compile the model; for a resume, load the checkpoint."""
    settings = config.settings
    dataset = load_dataset(config)
    info = dataset.info

    from zoo_core import engine

    threads = engine.configure_threads(math.prod(info.input_shape), settings["batch_size"], settings.get("threads", 0),
                                       before_start=distribute.starter(config))  # tf.distribute strategy, if any
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(settings["seed"])
    if settings["deterministic"]:
        tf.config.experimental.enable_op_determinism()

    split = engine.split_validation(dataset.x_train, dataset.y_train, settings["validation_split"])
    with distribute.scope():  # model, optimizer and metrics in the strategy's scope (nothing without one)
        loss = config.loss.build()
        model = config.architecture.build(tuple(info.input_shape), info.num_classes)
        if not getattr(model, "built", True):  # a subclassed model: create its weights now (checkpoints need them)
            model.build((None, *info.input_shape))
        _check_model(model, info, config.architecture.ref)
        model.compile(optimizer=config.optimizer.build(), loss=loss, metrics=["accuracy"])
        model.optimizer.build(model.trainable_variables)  # its state exists from the start (checkpoints, resume)
    prepared = Prepared(dataset, split, loss, model, threads)
    if resume_from is not None and resume_from[1] is not None:
        _load_checkpoint(prepared, *resume_from)
    return prepared


def _load_checkpoint(prepared: Prepared, run: Run, state: dict) -> None:
    """Put the checkpoint's weights, optimizer state and seed-generator states into the fresh model."""
    from zoo_core import callbacks as cb

    directory = run.dir / "checkpoint"
    model = prepared.model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(directory / state["model"])
        except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a file that does not fit
            raise RunError(f"run '{run.id}': its checkpoint does not fit the model built from config.toml "
                           f"({type(error).__name__}: {error_line(error)})",
                           hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}") from None
    skipped = [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]
    iterations = state.get("optimizer_iterations")
    if skipped or (isinstance(iterations, int) and int(model.optimizer.iterations.numpy()) != iterations):
        raise RunError(f"run '{run.id}': the optimizer state in its checkpoint could not be restored"
                       + (f" ({skipped[0][:200]})" if skipped else ""),
                       hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}")
    seeds = (state.get("rng") or {}).get("seed_generators")
    if seeds is not None and not cb.restore_seed_generators(model, seeds):
        warnings.warn(f"run '{run.id}': the dropout random state in the checkpoint does not fit the model; "
                      "the resumed epochs use fresh dropout masks", stacklevel=2)
    weights_file = directory / str(state.get("weights", ""))
    snapshots = []
    if state.get("weights") and weights_file.is_file():
        try:
            snapshots = cb.read_weights_npz(weights_file)[: state["epochs_done"] + 1]
        except (OSError, ValueError, EOFError):
            snapshots = []  # only the weight-distribution plot loses its early epochs
    prepared.first_epoch = int(state["epochs_done"])
    prepared.rows = [dict(row) for row in state["history"]]
    prepared.snapshots = snapshots
    prepared.checkpoint = state


def _train_in(run: Run, manifest: Manifest, config: RunConfig, prepared: Prepared, stops: StopRequests,
              progress: str | None, stream: TextIO | None) -> RunOutcome:
    started = time.perf_counter()
    try:
        outcome = _fit_and_finish(run, manifest, config, prepared, stops, progress, stream)
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
    outcome.seconds = time.perf_counter() - started
    return outcome


def _fit_and_finish(run: Run, manifest: Manifest, config: RunConfig, prepared: Prepared, stops: StopRequests,
                    progress: str | None, stream: TextIO | None) -> RunOutcome:
    settings = config.settings
    dataset, split, loss, model = prepared.dataset, prepared.split, prepared.loss, prepared.model
    info = dataset.info
    manifest.update(dataset=info.to_dict(), data_fingerprint=fingerprint(dataset),
                    samples={"train": len(dataset.x_train), "test": len(dataset.x_test)})

    import keras

    from zoo_core import callbacks as cb
    from zoo_core import engine

    first_epoch = prepared.first_epoch
    y_train = engine.one_hot_if_needed(loss, split.y_train, info.num_classes)
    stream_data, steps = engine.training_dataset(split.x_train, y_train, settings["batch_size"],
                                                 settings["seed"], settings["shuffle"], first_epoch,
                                                 settings["epochs"])
    progress_mode = cb.progress_mode(distribute.progress(progress or settings["progress"]), stream)
    model.steps_per_execution = engine.choose_steps_per_execution(
        steps, settings["steps_per_execution"], live_progress=progress_mode == "bar",
        step_seconds=engine.estimate_step_seconds(model.count_params(), settings["batch_size"]))
    validation = None
    if split.x_val is not None:
        validation = (split.x_val, engine.one_hot_if_needed(loss, split.y_val, info.num_classes))

    checkpoint_dir = run.dir / "checkpoint"
    history = cb.HistoryWriter(run.dir / "history.csv", prepared.rows)
    weights = cb.WeightSnapshots()
    weights.set_model(model)
    weights.snapshots = list(prepared.snapshots)
    if not weights.snapshots:
        weights.snapshot()
    history.write()  # after a resume: drop any row of an epoch that was not committed
    if prepared.checkpoint is None:  # a checkpoint exists from the first step on
        cb.save_checkpoint(checkpoint_dir, model, first_epoch, history.rows, weights.snapshots)

    def committed(epochs_done: int) -> None:
        manifest.update(epochs_done=epochs_done)

    progress_bar = cb.Progress(progress_mode, settings["epochs"], steps, stream)
    callbacks = [cb.EpochTimer(), cb.NaNGuard(), history, weights,
                 cb.Checkpointer(checkpoint_dir, history, weights, committed),
                 progress_bar, cb.StopAtSafePoint(stops.pending, steps)]
    if settings["tensorboard"]:
        callbacks.insert(-1, keras.callbacks.TensorBoard(log_dir=str(run.dir / "tensorboard")))
    manifest.update(epochs_done=first_epoch,
                    engine={"threads": prepared.threads, "steps_per_execution": model.steps_per_execution,
                            "steps_per_epoch": steps})
    if first_epoch < settings["epochs"]:
        stops.defer = True
        if stops.signum is not None:  # a signal came during the set-up
            raise StopRequested(stops.signum)
        try:
            model.fit(stream_data, epochs=settings["epochs"], initial_epoch=first_epoch, steps_per_epoch=steps,
                      validation_data=validation, validation_batch_size=max(settings["batch_size"], 1024),
                      callbacks=callbacks, shuffle=False, verbose=0)
        except cb.NonFiniteLoss as error:
            rate = config.optimizer.params.get("learning_rate")
            rate_text = f" (this run: {config.optimizer.ref} learning_rate={rate})" if rate is not None else ""
            raise RunError(f"training stopped: {error}; the run failed",
                           hint=f"likely causes: a learning rate too high{rate_text}, inputs that are not scaled, "
                                "or a loss that does not match the labels; start again with a lower rate: "
                                f"zoo run --config {run.dir / 'config.toml'} --set optimizer.learning_rate=0.0001"
                           ) from None
        except Exception as error:
            distribute.raise_if_cluster_failed(error)  # a lost worker: WorkerLost, exit code 75
            raise
        finally:
            stops.defer = False
            progress_bar.close()
        if stops.signum is not None:
            raise StopRequested(stops.signum)

    if not distribute.is_chief():  # multi-worker: the chief evaluates and writes the run, not the others
        return distribute.finish_worker(run, model)
    model = distribute.local_model(model, manifest)  # one-device copy of a distributed model (same weights)
    problems: list[str] = []
    probabilities = predict_probabilities(model, dataset.x_test)
    metrics = evaluate_probabilities(probabilities, dataset, loss)
    write_json_atomic(run.dir / "metrics.json", metrics)
    _save_model(model, run.dir / "model.keras")
    manifest.update(metrics={k: metrics[k] for k in ("accuracy", "loss", "f1_macro")})

    plots = _guarded("plots", problems, lambda: _write_plots(run, model, dataset, probabilities, history.rows,
                                                              weights.snapshots, metrics)) or {}
    exports = export_model(run, model, dataset, config.exporters, run.dir / "exports", config.recipe)
    manifest.update(status="completed", finished=utc_now(), plots=sorted(plots),
                    exports=[result.to_dict() for result in exports],
                    duration_seconds=round(sum(r.get("seconds", 0.0) for r in history.rows), 3),
                    problems=problems, error=None)
    _guarded("report", problems, lambda: write_report(run))
    if problems:
        manifest.update(problems=problems)
    return RunOutcome(run, metrics, exports, problems=problems)


def _guarded(what: str, problems: list[str], work: Callable[[], Any]) -> Any:
    """Run a finishing step whose failure must not lose a trained model: record the problem instead.

    Disk errors still propagate (the run cannot be finished then).
    """
    try:
        return work()
    except OSError as error:
        if error.errno in DISK_ERRNOS:
            raise
        problems.append(f"{what}: {type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - e.g. a plotting bug; the model and metrics are saved
        problems.append(f"{what}: {type(error).__name__}: {error}")
    return None


def _check_model(model: Any, info: Any, ref: str) -> None:
    """An architecture must output one probability per class."""
    shape = tuple(model.output_shape) if hasattr(model, "output_shape") else None
    if shape is not None and shape[-1] != info.num_classes:
        raise ConfigError(f"architecture '{ref}' outputs {shape[-1]} values per example, "
                          f"but the dataset has {info.num_classes} classes",
                          hint="the architecture must end in a softmax over num_classes")


def predict_probabilities(model: Any, x: Any) -> Any:
    """The model's class probabilities for ``x``, in large batches."""
    import numpy as np

    return np.asarray(model.predict(x, batch_size=1024, verbose=0))


def evaluate_probabilities(probabilities: Any, dataset: Any, loss: Any = None) -> dict[str, Any]:
    """Test-set metrics from predicted probabilities: accuracy, loss, precision/recall/F1, confusion matrix."""
    import numpy as np

    from zoo_core.metrics import classification_metrics

    loss_value = None
    if loss is not None:
        from zoo_core.engine import one_hot_if_needed

        y = one_hot_if_needed(loss, dataset.y_test, dataset.info.num_classes)
        loss_value = float(np.mean(np.asarray(loss(y, probabilities))))
    return classification_metrics(dataset.y_test, probabilities, dataset.info.class_names, loss_value)


def _save_model(model: Any, path: Path) -> None:
    with atomic_path(path) as temporary:
        model.save(temporary)


def _write_plots(run: Run, model: Any, dataset: Any, probabilities: Any, rows: list[dict], snapshots: list,
                 metrics: dict) -> dict[str, Path]:
    import numpy as np

    from zoo_core.plots import write_plots

    history = {key: [row[key] for row in rows if key in row]
               for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    first = next((layer for layer in model.layers if getattr(layer, "kernel", None) is not None), None)
    kernel = np.asarray(first.get_weights()[0]) if first is not None else None
    return write_plots(run.dir / "plots", info=dataset.info, x_train=dataset.x_train, y_train=dataset.y_train,
                       x_test=dataset.x_test, y_test=dataset.y_test, probabilities=probabilities,
                       history=history, first_layer_weights=kernel, weight_history=snapshots, metrics=metrics)


def export_model(run: Run, model: Any, dataset: Any, exporters: list[ComponentChoice], destination: Path,
                 model_name: str) -> list[ExportResult]:
    """Run each exporter; a failing one is recorded as failed and the rest still run."""
    from zoo_core.export import ExportContext

    results = []
    manifest = run.manifest()
    metadata_record = {"run_id": run.id, "recipe": manifest.get("recipe"), "versions": versions(),
                       "dataset": dataset.info.to_dict(), "class_names": list(dataset.info.class_names)}
    for choice in exporters:
        context = ExportContext(model=model, dataset=dataset, destination=destination,
                                model_name=safe_name(model_name), metadata=dict(metadata_record))
        try:
            result = choice.build(context)
        except ZooError as error:
            result = ExportResult(format=choice.component.name, variant=choice.ref, path="", status="failed",
                                  message=error.message)
        except OSError as error:
            if error.errno in DISK_ERRNOS:
                raise  # the disk is full or read-only: the run cannot finish either
            result = ExportResult(format=choice.component.name, variant=choice.ref, path="", status="failed",
                                  message=f"{type(error).__name__}: {error}")
        except Exception as error:  # noqa: BLE001 - a bug in an exporter plugin must not lose the trained run
            result = ExportResult(format=choice.component.name, variant=choice.ref, path="", status="failed",
                                  message=f"the exporter raised {type(error).__name__}: {error} "
                                          f"(a bug in plugin '{choice.component.plugin}'?)")
        if not isinstance(result, ExportResult):
            result = ExportResult(format=choice.component.name, variant=choice.ref, path="", status="failed",
                                  message=f"the exporter returned {type(result).__name__}, not an ExportResult")
        results.append(result)
    return results


def write_report(run: Run) -> None:
    """(Re)write report.md from what the run directory holds."""
    from zoo_core.callbacks import read_history
    from zoo_core.report import write_report as render

    manifest = run.manifest()
    history_path = run.dir / "history.csv"
    plots = {Path(p).stem: f"plots/{Path(p).name}" for p in sorted((run.dir / "plots").glob("*.png"))}
    render(run.dir / "report.md", title=f"{manifest.get('recipe', run.id)} — {run.id}",
           config_toml=(run.dir / "config.toml").read_text(encoding="utf-8"), manifest=manifest,
           metrics=run.metrics(), history=read_history(history_path) if history_path.is_file() else [],
           plots=plots, exports=manifest.get("exports", []))


def run_config(run: Run, registry: Registry) -> RunConfig:
    """The run's config.toml resolved against the registry (as on the day it ran, if names still resolve)."""
    return registry.run_from_table(run.config_table(), run.manifest().get("recipe", "adhoc"),
                                   str(run.dir / "config.toml"))


def finished_model_path(run: Run, hint: str) -> Path:
    """The run's model.keras, or a RunError saying the run has none (with ``hint``)."""
    path = run.dir / "model.keras"
    if not path.is_file():
        raise RunError(f"run '{run.id}' has no model.keras (status: {run.status()})", hint=hint)
    return path


def evaluate(run: Run, registry: Registry) -> dict[str, Any]:
    """Re-evaluate a finished run's model on its test set; rewrite metrics.json."""
    path = finished_model_path(run, "only completed runs can be evaluated; 'zoo runs' shows each run's status")
    config = run_config(run, registry)
    dataset = load_dataset(config)
    model = load_run_model(path)
    metrics = evaluate_probabilities(predict_probabilities(model, dataset.x_test), dataset, config.loss.build())
    write_json_atomic(run.dir / "metrics.json", metrics)
    return metrics


def export(run: Run, registry: Registry, exporters: list[ComponentChoice], out: Path | None = None) -> list[ExportResult]:
    """Export a finished run's model with the given exporters; record the results."""
    path = finished_model_path(run, "train it to completion first ('zoo runs' shows each run's status)")
    config = run_config(run, registry)
    destination = Path(out) if out is not None else run.dir / "exports"
    try:
        check_writable(destination)
    except RunError as error:
        raise RunError(error.message.replace("the runs root", "the export folder"),
                       hint="choose a writable folder with --out, or free some disk space") from None
    dataset = load_dataset(config)
    model = load_run_model(path)
    with RunLock(run.dir).acquire("export"), StopRequests():
        try:
            results = export_model(run, model, dataset, exporters, destination, config.recipe)
        except OSError as error:
            if error.errno not in DISK_ERRNOS:
                raise
            raise RunError(f"cannot write the exports to '{destination}': {describe_os_error(error)}",
                           hint="free some disk space, or choose another folder with --out; "
                                "nothing unverified was left there") from None
        data = run.manifest()
        data["exports"] = [*data.get("exports", []), *(result.to_dict() for result in results)]
        write_json_atomic(run.dir / "manifest.json", data)
        write_report(run)
    return results


def load_run_model(path: Path) -> Any:
    """A run's model.keras, loaded in Keras' safe mode; a damaged file is a clear RunError."""
    import keras

    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a damaged file
        raise RunError(f"cannot load '{path}': {error_line(error)}",
                       hint="the file is damaged or was written by an incompatible Keras; "
                            "run the training again (zoo run --config <run>/config.toml)") from None

