"""One run end to end: the Python API behind ``zoo run``, ``train`` and ``resume``.

Flow of :func:`train`: check the runs root is writable → plan the strategy
→ :func:`~zoo_core.training.prepare.prepare` (data, TensorFlow, model: every
mistake so far costs no run directory) → check free disk space → create the
run directory (locked) in the folder the strategy names, write config.toml
and a 'running' manifest.json → :func:`~zoo_core.training.fit.fit_and_complete`
with the run's :class:`~zoo_core.training.session.RunSession` (fit,
committing a checkpoint at the start and at each epoch end, then
:func:`~zoo_core.training.completion.complete`: evaluate, model, plots,
exports, report). Every file is written to a temporary name and renamed into place;
the manifest's status says at any moment whether the run is running,
completed, failed or interrupted. Stops are in zoo_core.training.signals.

Resume (:func:`resume`) rebuilds the model from config.toml exactly as a new
run does, loads the checkpoint's weights and optimizer state, restores the
dropout seed generators, and feeds the remaining epochs the same batches in
the same order (zoo_core.training.input_pipeline), so a resumed run repeats an
uninterrupted one; only the epoch in progress at a kill is lost and redone.
A resume may change a few settings (``--set``, zoo_core.training.resume_changes)
and the cluster shape: a multi-worker run can go on with fewer workers, or
as one process, when a machine is lost for good.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple, Sequence, TextIO

from zoo_core.errors import RunError, ZooError
from zoo_core.files import WRITE_ERRNOS, describe_os_error, remove_temporaries, write_text_atomic
from zoo_core.registry import Registry, RunConfig
from zoo_core.registry.runconfig import component_records
from zoo_core.runs import (Manifest, Run, RunLock, RunNotFound, check_writable, create_run_dir, runs_root, utc_now,
                            versions)
from zoo_core.training import distribute
from zoo_core.training.checkpointing import check_committed_epochs, committed_state
from zoo_core.training.completion import RunOutcome
from zoo_core.training.distribute import Cluster
from zoo_core.training.fit import fit_and_complete
from zoo_core.training.prepare import bytes_needed, prepare
from zoo_core.training.resume_changes import (check_new_exporters, record_resume, resume_overrides,
                                                   resumed_config, strategy_setting)
from zoo_core.training.session import RunSession
from zoo_core.training.signals import RunInterrupted, StopRequests, signal_name


class StartedRun(NamedTuple):
    """A run directory just created and locked, with its manifest."""

    run: Run
    manifest: Manifest
    lock: RunLock  #: held


def train(config: RunConfig, root: str | Path | None = None, progress: str | None = None,
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
        prepared = prepare(config, strategy, root=root_path)
        check_writable(root_path, bytes_needed(prepared.model, config))
        run, manifest, lock = start_run(config, strategy.run_folder(root_path), record)
        try:
            strategy.run_started(run)
            return _train_in(RunSession(config, strategy, stops, prepared, run, manifest, progress, stream,
                                        extra_callbacks))
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
    run.check_format()  # a run a newer zoo wrote: exit 2 before anything (the CLI found it with find_run, which checks)
    overrides = resume_overrides(run, overrides, cluster)  # a key that cannot change: exit 2 before anything
    plan = distribute.resume_target(run, cluster, strategy_setting(overrides))  # a non-chief worker: its backup
    run = plan.run if plan is not None else run
    with StopRequests(f"the resume of run '{run.id}'", note="the run stays as it was") as stops:
        lock = RunLock(run.dir).acquire("resume")  # RunBusy while another process works in it
        try:
            data = _resumable_manifest(run)
            state = committed_state(run)  # a checkpoint a newer zoo wrote: refused before anything is removed
            remove_temporaries(run.dir)  # what a killed process left; we hold the lock, so none is in use
            config = resumed_config(run, registry, overrides, state["epochs_done"] if state else 0)
            check_committed_epochs(run, state, config.settings["epochs"])
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
            outcome = _train_in(RunSession(config, strategy, stops, prepared, run, manifest, progress, stream))
        finally:
            lock.release()
    if outcome.role != "worker":  # workers gone for good never remove their backups: the chief does
        distribute.remove_backups(run.dir, getattr(strategy, "cluster", None))
    return outcome


def _resumable_manifest(run: Run) -> dict[str, Any]:
    """The run's manifest, if the run can be resumed; else a RunError saying why not."""
    data = run.manifest()
    if data.get("status") == "completed":  # a mistake in the command, as README's exit codes say: exit 2
        raise RunNotFound(f"run '{run.id}' already completed; nothing to resume",
                       hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}")
    if data.get("status") == "unknown":
        raise RunError(f"run '{run.id}' has no readable manifest.json; it cannot be resumed",
                       hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}")
    return data


def start_run(config: RunConfig, root: str | Path | None = None, record: dict[str, Any] | None = None) -> StartedRun:
    """Create the run directory (locked) under ``root``, write config.toml and a 'running' manifest.

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


def _train_in(session: RunSession) -> RunOutcome:
    """Fit and complete the run in its directory; whatever stops it, the manifest says why (interrupted or failed)."""
    run, manifest, stops = session.run, session.manifest, session.stops
    started = time.perf_counter()
    try:
        outcome = fit_and_complete(session)
    except KeyboardInterrupt as error:
        stops.quiet = True
        signum = getattr(error, "signum", None) or stops.signum or signal.SIGINT
        name = signal_name(signum)
        reason = "Ctrl-C" if signum == signal.SIGINT else name
        manifest.record(status="interrupted", finished=utc_now(), error=f"interrupted ({reason})")
        done = manifest.data.get("epochs_done", 0)
        raise RunInterrupted(f"run '{run.id}' interrupted ({reason}) after {done} of "
                             f"{session.epochs} epoch(s); its checkpoint is saved",
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
