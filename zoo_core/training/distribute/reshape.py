"""A run that continues on another cluster shape: what changes, the one line that says so, what is left behind.

A multi-worker run may be resumed on fewer or more workers, or as one
process (``zoo resume RUN --set strategy=none``) when a machine is lost for
good. The global batch, and so the steps and the batches each step sees,
stay as recorded; what changes is how each step's batch is split over the
replicas (so sums are taken in another order, and with dropout each replica
draws other masks). :func:`shape_change` describes that change for
manifest.json's ``distribution_changes``; :func:`remove_backups` drops the
backups of workers that are no longer part of the cluster once the run is done.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from zoo_core.training.distribute.cluster import Cluster


def one_process_record(batch_size: int) -> dict[str, Any]:
    """The ``distribution`` record of a run on one process without a strategy."""
    return {"strategy": "none", "replicas": 1, "global_batch_size": batch_size, "per_replica_batch_size": [batch_size]}


def shape(record: dict[str, Any] | None, batch_size: int) -> dict[str, Any]:
    """The cluster shape in a ``distribution`` record: strategy, replicas, workers and the batch split."""
    record = record or one_process_record(batch_size)
    found = {"strategy": record.get("strategy", "none"), "replicas": int(record.get("replicas", 1)),
             "per_replica_batch_size": list(record.get("per_replica_batch_size") or [batch_size])}
    if record.get("workers"):
        found["workers"] = record["workers"]
    return found


def describe(cluster_shape: dict[str, Any]) -> str:
    """'1 process', '3 workers', '2 workers (4 replicas)', '2 local replicas'."""
    replicas = cluster_shape["replicas"]
    workers = sum(len(addresses) for addresses in (cluster_shape.get("workers") or {}).values())
    if workers:
        return f"{workers} worker{'s' if workers != 1 else ''}" + (f" ({replicas} replicas)" if replicas != workers else "")
    if cluster_shape["strategy"] == "none" or replicas == 1:
        return "1 process"
    return f"{replicas} local replicas"


def shape_change(run_id: str, before: dict[str, Any], after: dict[str, Any], first_epoch: int,
                 batch_size: int) -> dict[str, Any] | None:
    """The ``distribution_changes`` entry when a resumed run trains on another shape (None if it is the same).

    The same strategy, number of workers and batch split on other addresses
    is the same computation: no change. ``first_epoch`` is the first epoch
    trained on the new shape (1-based); ``note`` is the one line the chief prints.
    """
    if (before["strategy"], describe(before), before["per_replica_batch_size"]) == \
            (after["strategy"], describe(after), after["per_replica_batch_size"]):
        return None
    split_before = "+".join(str(n) for n in before["per_replica_batch_size"])
    split_after = "+".join(str(n) for n in after["per_replica_batch_size"])
    kept = "unchanged" if split_before == split_after else f"{split_after} instead of {split_before}"
    note = (f"run {run_id} continues from epoch {first_epoch} on {describe(after)} instead of {describe(before)}: "
            f"the global batch stays {batch_size} (same steps, same batches); its split over the replicas is {kept}, "
            "so results may differ in the last digits (manifest.json: distribution_changes)")
    return {"from_epoch": first_epoch, "before": before, "after": after, "global_batch_size": batch_size,
            "note": note}


def remove_backups(run_dir: Path, keep: Cluster | None) -> list[Path]:
    """Remove the backups of ``run_dir`` kept by workers that are not in the cluster ``keep``; the removed folders.

    Called by the chief once the run is done: a worker of the current cluster
    removes its own backup; a worker that is gone for good never will.
    """
    current = {f"{job}-{index}" for job, index in keep.tasks()} if keep is not None else set()
    pattern = re.compile(rf"\.{re.escape(run_dir.name)}\.((?:chief|worker)-\d+)")
    removed = []
    try:
        folders = [path for path in run_dir.parent.iterdir() if path.is_dir()]
    except OSError:
        return removed
    for folder in folders:
        match = pattern.fullmatch(folder.name)
        if match and match.group(1) not in current:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
