"""A non-chief worker's own backup of a multi-worker run, and where each worker resumes.

Only the chief writes the run directory. Every other worker trains in
lock-step and keeps its *own* backup (config, history, checkpoint) in a
hidden folder beside the run, ``<runs root>/.<run id>.<task>/``, never a file
another process writes, and removes it when training is done.
"""

from __future__ import annotations

import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from zoo_core.errors import RunError
from zoo_core.files import write_json_atomic
from zoo_core.runs import Run, is_run_dir, utc_now, write_manifest
from zoo_core.runs.checkpoint import epochs_done, read_checkpoint
from zoo_core.training.distribute.cluster import STRATEGIES, Cluster, planned_cluster


@dataclass(frozen=True)
class ResumePlan:
    """Where this process resumes a multi-worker run, and what it tells the chief (run id, epochs done)."""

    run: Run  #: the directory to resume in: the run itself (chief) or this worker's backup of it
    run_id: str
    epochs_done: int | None


def backup_folder(root: Path, run_id: str, cluster: Cluster) -> Path:
    """Where a non-chief worker keeps its own config, history and checkpoint for run ``run_id``."""
    return Path(root) / f".{run_id}.{cluster.key}"


def resume_target(run: Run, flags: Cluster | None = None, setting: str | None = None) -> ResumePlan | None:
    """Where this process resumes ``run``: None on one process; else the run (chief) or this worker's backup.

    Called before TensorFlow starts. ``setting`` is the strategy the run
    resumes with (``--set strategy=...``; default: its config.toml's). A
    worker's backup is used when its checkpoint is at the chief's epoch and
    its config.toml is the chief's (a resume with ``--set`` rewrites it);
    otherwise (or without a backup) it is replaced by a copy of the chief's
    config and checkpoint (so the runs root must be storage every worker can read).
    """
    setting = setting if setting is not None else run.config_table().get("strategy", "none")
    cluster = planned_cluster(setting if setting in STRATEGIES else "none", flags)
    if cluster is None:
        return None
    backup_of = re.fullmatch(r"\.(.+)\.(?:chief|worker)-\d+", run.dir.parent.name)
    if backup_of and is_run_dir(run.dir.parent.parent / backup_of.group(1)):
        run = Run(run.dir.parent.parent / backup_of.group(1))  # given a worker's backup: resume its run
    if not cluster.is_chief and run.manifest().get("status") == "completed":  # the chief refuses it too
        raise RunError(f"run '{run.id}' already completed; nothing to resume",
                       hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}")
    chief_epochs = epochs_done(run.dir)
    if cluster.is_chief:
        return ResumePlan(run, run.id, chief_epochs)
    folder = backup_folder(run.dir.parent, run.id, cluster)
    backup = _latest_backup(folder)
    epochs = epochs_done(backup.dir) if backup is not None else None
    if backup is None or epochs != chief_epochs or backup.manifest().get("status") == "completed" \
            or not _same_config(backup, run):
        backup = _copy_for_worker(run, folder)
        epochs = chief_epochs
    return ResumePlan(backup, run.id, epochs)


def _same_config(backup: Run, run: Run) -> bool:
    """Whether the backup's config.toml is the chief's (True when the chief's cannot be read from here)."""
    try:
        chief = (run.dir / "config.toml").read_bytes()
    except OSError:
        return True
    try:
        return (backup.dir / "config.toml").read_bytes() == chief
    except OSError:
        return False


def _latest_backup(folder: Path) -> Run | None:
    """The backup run in ``folder`` with the most epochs done (then the newest), or None."""
    try:
        candidates = [Run(path) for path in folder.iterdir() if not path.name.startswith(".") and is_run_dir(path)]
    except OSError:
        return None
    usable = [run for run in candidates if epochs_done(run.dir) is not None]
    return max(usable, key=lambda run: (epochs_done(run.dir), run.dir.stat().st_mtime), default=None)


def _copy_for_worker(run: Run, folder: Path) -> Run:
    """A fresh backup for this worker: the chief's config.toml, history.csv and committed checkpoint (read only)."""
    source = run.dir
    if not (source / "config.toml").is_file():
        raise RunError(f"cannot read run '{run.id}' at '{source}' from this worker",
                       hint="put the runs root on storage every worker can read (a shared volume)")
    try:
        state = read_checkpoint(source / "checkpoint")
    except ValueError as error:
        raise RunError(f"run '{run.id}': the chief's checkpoint is damaged: {error}") from None
    try:
        if folder.exists():
            shutil.rmtree(folder)
        staging = folder / f".copy-{secrets.token_hex(3)}"
        (staging / "checkpoint").mkdir(parents=True)
        shutil.copy2(source / "config.toml", staging / "config.toml")
        if (source / "history.csv").is_file():
            shutil.copy2(source / "history.csv", staging / "history.csv")
        if state is not None:
            for name in (state.get("model"), state.get("weights")):
                if name and (source / "checkpoint" / name).is_file():
                    shutil.copy2(source / "checkpoint" / name, staging / "checkpoint" / name)
            write_json_atomic(staging / "checkpoint" / "state.json", state)  # last: the commit point
        chief = run.manifest()
        write_manifest(staging / "manifest.json", {
            "run_id": run.id, "recipe": chief.get("recipe", "adhoc"), "status": "interrupted",
            "started": utc_now(), "epochs_done": state["epochs_done"] if state else 0,
            "backup_of": str(source)})
        target = folder / run.id
        staging.rename(target)
    except OSError as error:
        raise RunError(f"cannot copy run '{run.id}' for this worker into '{folder}': {error}") from None
    return Run(target)
