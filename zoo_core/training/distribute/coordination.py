"""Talking to the other workers of a multi-worker run: TensorFlow's coordination service.

The service's key-value store carries the run id and each worker's final
weights' digest; a worker that dies or stops responding ends training on the
others with :class:`WorkerLost` (exit code 75: restart every worker). What
each failure means for the user is in docs/distributed.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import warnings
from typing import Any

from zoo_core.errors import ConfigError, RunError
from zoo_core.training.distribute.backups import ResumePlan
from zoo_core.training.distribute.cluster import JOBS, Cluster

#: Exit code of a run stopped because the cluster failed: restart every worker (and resume).
#: 75 is EX_TEMPFAIL of sysexits.h, "temporary failure, try again".
EXIT_RETRY = 75
#: A worker that sends no heartbeat for this long is declared dead by TensorFlow's coordination service.
HEARTBEAT_TIMEOUT_SECONDS = 10
#: How long the chief waits, after training, for each worker to report its final weights' sha256.
WEIGHTS_REPORT_TIMEOUT_SECONDS = 30
_KV_PREFIX = "zoo/"


class ClusterError(RunError):
    """The cluster of a multi-worker run failed; every worker stops with exit code 75 (restart them all)."""

    exit_code = EXIT_RETRY


class WorkerLost(ClusterError):
    """A worker died or stopped responding during training."""


class JoinTimeout(ClusterError):
    """Not every worker joined the cluster within ``join_timeout`` seconds."""


def agreed_settings(config: Any) -> dict[str, Any]:
    """The settings every worker must agree on: all but ``progress`` (how each shows its own progress)."""
    return {k: v for k, v in sorted(config.settings.items()) if k != "progress"}


def config_digest(config: Any) -> str:
    """sha256 of what every worker must agree on: settings, components and exporters with their parameters.

    A resumed run's ``--set`` overrides are part of it: every worker of the
    new cluster must resume with the same ones.
    """
    parts = {"settings": agreed_settings(config),
             "components": [[c.kind, c.component.name, c.params] for c in config.choices()]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def differences(chief: dict[str, Any], mine: dict[str, Any]) -> str:
    """What differs between the chief's and this worker's config: the settings by name, else 'components'."""
    theirs, ours = chief.get("settings") or {}, mine.get("settings") or {}
    names = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if not names:
        return "components or exporters differ"
    return "; ".join(f"{name}: the chief {theirs.get(name)!r}, this worker {ours.get(name)!r}" for name in names)


def configure_coordination(cluster: Cluster, join_timeout: int) -> None:
    """Configure TensorFlow's coordination service before the strategy does: join timeout and heartbeats.

    MultiWorkerMirroredStrategy leaves the service alone when it is already
    configured. Without ``cluster_register_with_barrier`` TensorFlow ignores
    the register timeout and waits for a missing worker forever, with
    SIGTERM ignored (measured, TF 2.21).
    """
    try:
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
        from tensorflow.python.eager import context
    except ImportError:  # pragma: no cover - a TensorFlow that moved its internals
        warnings.warn("this TensorFlow does not let zoo configure its coordination service: join_timeout is not "
                      "enforced and a missing worker is waited for indefinitely", stacklevel=2)
        return
    ctx = context.context()
    if ctx.coordination_service is not None:
        return
    job, _ = cluster.chief
    ctx.configure_coordination_service(
        service_type="standalone", service_leader=f"/job:{job}/replica:0/task:0",
        cluster_register_timeout_in_ms=join_timeout * 1000, heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_SECONDS * 1000,
        coordinated_jobs=[coordination_config_pb2.CoordinatedJob(name=name, num_tasks=len(cluster.jobs[name]))
                          for name in JOBS if name in cluster.jobs])
    ctx.coordination_service.cluster_register_with_barrier = True


_TASK_NAME = re.compile(r"/job:(chief|worker)/replica:\d+/task:(\d+)")


def named_tasks(text: str, cluster: Cluster) -> list[tuple[str, int]]:
    """The other tasks a TensorFlow error message names, in cluster order."""
    found = {(job, int(index)) for job, index in _TASK_NAME.findall(text)}
    return [task for task in cluster.tasks() if task in found and task != (cluster.task_type, cluster.task_index)]


#: Words in a TensorFlow error that mean a peer died, stopped responding or cut the connection.
FAILURE_SIGNS = ("Collective ops is aborted", "unhealthy", "heartbeat", "coordination service", "Connection reset",
                 "Socket closed", "failed to connect")


def error_gist(error: BaseException) -> str:
    """The gist of a TensorFlow error: the line naming a peer failure, else the first line.

    A line ending in a colon gets the next one appended. (Errors from Keras'
    traced functions start with "Graph execution error:" and a traceback.)
    """
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", str(error)).strip()
    lines = [part.strip() for part in text.splitlines() if part.strip()] or [type(error).__name__]
    index = next((i for i, line in enumerate(lines) if any(sign in line for sign in FAILURE_SIGNS)), 0)
    line = lines[index] + (f" {lines[index + 1]}" if lines[index].endswith(":") and len(lines) > index + 1 else "")
    line = re.sub(r"\s*\[\[.*$|\s*\[Op:.*$", "", line)
    return line if len(line) <= 240 else line[:237] + "..."


def restart_hint(cluster: Cluster, run: str | None) -> str:
    """How to go on after the cluster failed: restart every worker, or go on without a machine lost for good.

    ``run`` is the run's directory (or id) as ``zoo resume`` takes it; None
    before the run directory exists.
    """
    if run is None:  # no run directory yet
        return (f"start all {cluster.size} workers again, the same command on each (check the other workers' "
                "messages first); exit code 75 means 'restart every worker' (docs/distributed.md)")
    run = shlex.quote(run)
    if cluster.from_flags and "worker" in cluster.jobs and "chief" not in cluster.jobs:
        workers = ",".join(cluster.jobs["worker"])
        how = f"zoo resume {run} --workers {workers} --task-index N on each (this one: --task-index {cluster.task_index})"
    else:
        how = f"zoo resume {run} on each, with its TF_CONFIG"
    return (f"restart all {cluster.size} workers to continue from the last completed epoch: {how}; "
            f"if a machine is lost for good, continue on one machine with: zoo resume {run} --set strategy=none "
            "(or on the machines left: --workers listing only them); exit code 75 means 'restart every worker' "
            "(docs/distributed.md)")


def join_failure(error: BaseException, cluster: Cluster, join_timeout: int) -> ClusterError:
    """A :class:`JoinTimeout` naming who did not join, from TensorFlow's error."""
    text = str(error)
    missing = named_tasks(text.split("Some timed out task names:", 1)[-1], cluster) if "timed out task" in text else []
    if missing:
        who = ", ".join(cluster.describe(*task) for task in missing)
        message = f"{who} did not join the cluster within join_timeout={join_timeout}s"
    elif not cluster.is_chief:
        message = (f"could not join the cluster led by {cluster.describe(*cluster.chief)} within "
                   f"join_timeout={join_timeout}s ({error_gist(error)})")
    else:
        message = f"the workers did not all join within join_timeout={join_timeout}s ({error_gist(error)})"
    return JoinTimeout(f"{cluster.describe()}: {message}",
                       hint="start every worker (the same command, each with its own task index) and check the "
                            "addresses are reachable; raise --set join_timeout=SECONDS if workers start slowly; "
                            "if a machine is lost for good, list only the machines left in --workers (or use "
                            "--set strategy=none on one). Exit code 75 means 'restart every worker'")


def is_cluster_failure(error: BaseException) -> bool:
    """Whether a TensorFlow error means a peer died, stopped responding or cut the connection."""
    import tensorflow as tf

    if not isinstance(error, tf.errors.OpError):
        return False
    if isinstance(error, (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError,
                          tf.errors.CancelledError)):
        return True
    text = str(error)
    return any(sign in text for sign in FAILURE_SIGNS)


def worker_lost(error: BaseException, cluster: Cluster, run_id: str | None) -> WorkerLost | None:
    """A :class:`WorkerLost` for a TensorFlow error caused by a lost worker; None for any other error."""
    if not is_cluster_failure(error):
        return None
    others = named_tasks(str(error), cluster)
    who = ", ".join(cluster.describe(*task) for task in others) or "another worker"
    return WorkerLost(f"{cluster.describe()}: training stopped because {who} died or stopped responding "
                      f"({error_gist(error)})", hint=restart_hint(cluster, run_id))


def kv_set(key: str, value: str) -> None:
    """Store ``value`` under ``key`` in the coordination service's key-value store (replacing an old one)."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    ctx = context.context()
    try:
        ctx.set_config_key_value(_KV_PREFIX + key, value)
    except tf.errors.AlreadyExistsError:  # a second run in this process, on the same cluster
        ctx.delete_config_key_value(_KV_PREFIX + key)
        ctx.set_config_key_value(_KV_PREFIX + key, value)


def kv_get(key: str, timeout_seconds: float, waiting_for: str, cluster: Cluster, run_id: str | None) -> str:
    """The value another worker stored under ``key``, waiting at most ``timeout_seconds``."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    try:
        return context.context().get_config_key_value(_KV_PREFIX + key, int(timeout_seconds * 1000))
    except tf.errors.OpError as error:
        raise ClusterError(f"{cluster.describe()}: gave up waiting for {waiting_for} after {timeout_seconds:g}s "
                           f"({error_gist(error)})", hint=restart_hint(cluster, run_id)) from error


def agree_with_chief(cluster: Cluster, digest: str, resuming: ResumePlan | None, join_timeout: int,
                     settings: dict[str, Any] | None = None) -> str | None:
    """Check with the chief that this worker runs the same config and resumes the same run at the same epoch.

    ``digest`` is :func:`config_digest` of this worker's config, ``settings``
    its :func:`agreed_settings` (to name the ones that differ). Returns the
    run id the cluster resumes (None for a new run).
    """
    mine = {"config": digest, "resume": resuming.run_id if resuming else None,
            "epochs_done": resuming.epochs_done if resuming else None, "settings": settings or {}}
    if cluster.is_chief:
        kv_set("session", json.dumps(mine, default=str))
        return mine["resume"]
    chief = cluster.describe(*cluster.chief)
    theirs = json.loads(kv_get("session", join_timeout, f"{chief} to start", cluster, mine["resume"]))
    me = cluster.describe()
    if theirs["config"] != mine["config"]:
        raise ConfigError(f"{me} runs a different config than {chief} ({differences(theirs, mine)})",
                          hint="start every worker with the same command (the same --set options) and the same "
                               "registry.toml; only --task-index differs")
    if theirs["resume"] != mine["resume"]:
        def what(run_id: str | None) -> str:
            return f"resumes run '{run_id}'" if run_id else "starts a new run"

        raise ConfigError(f"{me} {what(mine['resume'])}, but {chief} {what(theirs['resume'])}",
                          hint="give every worker the same command; to resume, the same run id: zoo resume RUN_ID ...")
    if theirs["epochs_done"] != mine["epochs_done"]:
        raise RunError(f"{me}: its backup of run '{mine['resume']}' has {mine['epochs_done']} epoch(s) done, the "
                       f"chief's checkpoint {theirs['epochs_done']}, and this worker cannot read the chief's "
                       "checkpoint to catch up",
                       hint="put the runs root on storage every worker can read (a shared volume), then resume again")
    return theirs["resume"]
