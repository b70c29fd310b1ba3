"""Training on several devices or machines with TensorFlow's own engine, ``tf.distribute``.

The ``strategy`` run setting chooses how a run trains (docs/distributed.md):

- ``none`` (the default): one process, TensorFlow's own device placement.
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over every local GPU (without
  GPUs: every logical CPU device, which is one unless the process configured more).
- ``multi-worker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the cluster
  that ``TF_CONFIG`` describes, or that zoo's flags describe
  (``--workers HOST:PORT,HOST:PORT --task-index N``: zoo turns them into
  ``TF_CONFIG``). Every worker runs the same command; only its task index differs.
- ``auto``: multi-worker when ``TF_CONFIG`` describes more than one task, else
  mirrored when the machine has more than one GPU, else none.

What this module guarantees, and how:

- The strategy exists before any TensorFlow op runs: :func:`starter` is called
  by ``engine.configure_threads`` after the thread pools are set and before the
  runtime starts. The model, its optimizer and its metrics are built and
  compiled inside :func:`scope`.
- ``batch_size`` is the *global* batch: the examples of one training step over
  all replicas of all workers. Each replica computes ``batch_size / replicas``
  of them (split as evenly as possible), so the steps per epoch, the learning
  rate and the batches seen are those of a one-process run. The input comes
  from ``distribute_datasets_from_function``: input pipeline ``p`` builds, for
  global step ``s``, the slices of that step's global batch that belong to its
  own replicas, from the same (seed, epoch) permutation as a one-process run
  (zoo_core.engine.training_dataset). Every example is used once per epoch.
- Only the chief (task ``chief``, or worker 0 when there is none) writes the
  run directory and shows progress. Every other worker trains in lock-step
  and keeps its *own* backup (config, history, checkpoint) in a hidden folder
  beside the run, ``<runs root>/.<run id>.<task>/`` — never a file another
  process writes — and removes it when training is done. The chief tells the
  workers the run id through TensorFlow's coordination service.
- Resume (``zoo resume RUN`` on every worker): the chief continues from the
  run's checkpoint; every other worker from its backup when that is at the
  chief's epoch, otherwise from a copy of the chief's checkpoint (so the runs
  root must be storage every worker can read: a shared volume on a cluster).
  Before training the workers check with the chief that they run the same
  config and resume the same run at the same epoch.
- Faults end in exit code 75 (:data:`EXIT_RETRY`, "restart every worker"):
  a worker that dies (the others notice within a second when a step was
  exchanging data with it, else at :data:`HEARTBEAT_TIMEOUT_SECONDS`) or stops
  responding (:data:`HEARTBEAT_TIMEOUT_SECONDS`); a worker that has not joined
  within the ``join_timeout`` setting (TensorFlow would otherwise wait forever).
- TensorFlow's coordination service swallows SIGTERM; after joining, zoo puts
  Python's handlers back, so a stop works as on one machine (the stopped
  worker exits 143, the others 75).
- After training the chief evaluates, saves and exports a plain (one-device)
  copy of the model, so nothing after ``fit`` needs the other workers. It
  records in manifest.json the sha256 of every worker's final weights.

Keras 3 workarounds (tests/test_distributed.py runs with both, and fails once
the first is no longer needed):

- keras-team/keras#20585: ``fit`` under a multi-worker
  ``MultiWorkerMirroredStrategy`` fails at the first step ("Attempt to convert
  a value (PerReplica...) to a Tensor"), then on ``reduce`` of a scalar with
  ``axis=0``. :func:`multi_worker_strategy_class` returns a subclass whose
  ``reduce`` maps over nested values and drops the axis of rank-0 values.
- ``steps_per_execution`` > 1 fails under any tf.distribute strategy in Keras
  3.15 ("You must feed a value for placeholder tensor ... while/cond", the
  error of keras-team/keras#19246: a cross-replica merge inside the ``tf.cond``
  of Keras' multi-step loop), so engine.choose_steps_per_execution uses 1
  under a strategy.

Nothing here imports TensorFlow at module level (the CLI fast path imports
this module).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from zoo_core.errors import ConfigError, RunError

#: Exit code of a run stopped because the cluster failed: restart every worker (and resume).
#: 75 is EX_TEMPFAIL of sysexits.h, "temporary failure, try again".
EXIT_RETRY = 75
#: A worker that sends no heartbeat for this long is declared dead by TensorFlow's coordination service.
HEARTBEAT_TIMEOUT_SECONDS = 10
#: How long the chief waits, after training, for each worker to report its final weights' sha256.
WEIGHTS_REPORT_TIMEOUT_SECONDS = 30
STRATEGIES = ("none", "mirrored", "multi-worker", "auto")
#: The TF_CONFIG jobs MultiWorkerMirroredStrategy trains with, in task order.
JOBS = ("chief", "worker")
#: First Keras version with keras-team/keras#20585 fixed; None while the issue is open (Keras 3.15.1).
KERAS_20585_FIXED_IN: tuple[int, int] | None = None
#: Set to 0 or 1 to force the keras-team/keras#20585 workaround off or on (to check whether it is still needed).
WORKAROUND_ENV = "ZOO_KERAS_20585_WORKAROUND"
_KV_PREFIX = "zoo/"


class ClusterError(RunError):
    """The cluster of a multi-worker run failed; every worker stops with exit code 75 (restart them all)."""

    exit_code = EXIT_RETRY


class WorkerLost(ClusterError):
    """A worker died or stopped responding during training."""


class JoinTimeout(ClusterError):
    """Not every worker joined the cluster within ``join_timeout`` seconds."""


# --- the cluster ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """The tasks of a multi-worker run (from TF_CONFIG) and which one this process is."""

    jobs: dict[str, tuple[str, ...]]
    task_type: str
    task_index: int

    def tasks(self) -> list[tuple[str, int]]:
        """Every (job, index), the chief first."""
        return [(job, index) for job in JOBS for index in range(len(self.jobs.get(job, ())))]

    @property
    def size(self) -> int:
        return sum(len(addresses) for addresses in self.jobs.values())

    @property
    def chief(self) -> tuple[str, int]:
        return ("chief", 0) if self.jobs.get("chief") else ("worker", 0)

    @property
    def is_chief(self) -> bool:
        return (self.task_type, self.task_index) == self.chief

    @property
    def key(self) -> str:
        """This task as a name usable in file names: 'worker-1', 'chief-0'."""
        return f"{self.task_type}-{self.task_index}"

    def address(self, job: str | None = None, index: int | None = None) -> str:
        job = self.task_type if job is None else job
        return self.jobs[job][self.task_index if index is None else index]

    def describe(self, job: str | None = None, index: int | None = None) -> str:
        """'worker 1 at 10.0.0.2:2222', 'the chief (worker 0) at 10.0.0.1:2222', 'the chief at ...'."""
        job = self.task_type if job is None else job
        index = self.task_index if index is None else index
        if job == "chief":
            name = "the chief"
        elif (job, index) == self.chief:
            name = f"the chief (worker {index})"
        else:
            name = f"worker {index}"
        return f"{name} at {self.jobs[job][index]}"

    def to_tf_config(self) -> str:
        return json.dumps({"cluster": {job: list(addresses) for job, addresses in self.jobs.items()},
                           "task": {"type": self.task_type, "index": self.task_index}})


TF_CONFIG_HINT = ('e.g. TF_CONFIG=\'{"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, '
                  '"task": {"type": "worker", "index": 0}}\', or zoo\'s flags --workers HOST:PORT,HOST:PORT '
                  '--task-index N (docs/distributed.md)')


def parse_address(text: str, where: str) -> str:
    """Check one 'host:port' (IPv6 as [addr]:port)."""
    address = text.strip()
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in host):
        raise ConfigError(f"{where}: '{address}' is not HOST:PORT", hint="e.g. 10.0.0.1:2222 or worker-0.train:2222")
    return address


def parse_workers(text: str) -> tuple[str, ...]:
    """The ``--workers`` list: comma-separated HOST:PORT, the chief first."""
    addresses = tuple(parse_address(part, "--workers") for part in text.split(",") if part.strip())
    if not addresses:
        raise ConfigError("--workers is empty", hint="give every worker's HOST:PORT, e.g. --workers 10.0.0.1:2222,10.0.0.2:2222")
    duplicates = sorted({a for a in addresses if addresses.count(a) > 1})
    if duplicates:
        raise ConfigError(f"--workers names {', '.join(duplicates)} more than once",
                          hint="every worker needs its own HOST:PORT")
    return addresses


def cluster_from_env(environ: Any = None) -> Cluster | None:
    """The cluster TF_CONFIG describes (None if it is unset or has no cluster), checked."""
    environ = os.environ if environ is None else environ
    text = (environ.get("TF_CONFIG") or "").strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {error}", hint=TF_CONFIG_HINT) from None
    if not isinstance(data, dict):
        raise ConfigError("TF_CONFIG must be a JSON object with 'cluster' and 'task'", hint=TF_CONFIG_HINT)
    cluster, task = data.get("cluster"), data.get("task")
    if not cluster:
        return None
    if not isinstance(cluster, dict) or not all(isinstance(v, list) for v in cluster.values()):
        raise ConfigError("TF_CONFIG 'cluster' must map job names to lists of HOST:PORT", hint=TF_CONFIG_HINT)
    other = sorted(set(cluster) - set(JOBS))
    if other:
        raise ConfigError(f"TF_CONFIG has the job(s) {', '.join(other)}: zoo trains with MultiWorkerMirroredStrategy, "
                          "whose tasks are 'chief' and 'worker' only",
                          hint="ParameterServerStrategy (ps) and side-car evaluators do not work with Keras 3 fit; "
                               "list every training process under 'worker' (and optionally one 'chief')")
    jobs = {job: tuple(parse_address(str(a), f"TF_CONFIG cluster.{job}") for a in cluster[job])
            for job in JOBS if cluster.get(job)}
    if len(jobs.get("chief", ())) > 1:
        raise ConfigError("TF_CONFIG lists more than one chief", hint="a cluster has at most one 'chief' task")
    if not isinstance(task, dict) or task.get("type") not in jobs or not isinstance(task.get("index"), int) \
            or isinstance(task.get("index"), bool):
        raise ConfigError(f"TF_CONFIG 'task' must name this process's job ({' or '.join(jobs)}) and index, got {task!r}",
                          hint=TF_CONFIG_HINT)
    if not 0 <= task["index"] < len(jobs[task["type"]]):
        raise ConfigError(f"TF_CONFIG task index {task['index']} is out of range: the '{task['type']}' job has "
                          f"{len(jobs[task['type']])} task(s)", hint="indexes count from 0")
    return Cluster(jobs, task["type"], task["index"])


_flags_cluster = False  # True when this process's cluster came from --workers/--task-index
_environment_tf_config: str | None = None  # TF_CONFIG as it was before the flags replaced it


def use_cluster(workers: str | None, task_index: int | None) -> None:
    """The CLI's ``--workers`` and ``--task-index``: check them and set TF_CONFIG (which they override)."""
    global _flags_cluster, _environment_tf_config
    if _flags_cluster:  # an earlier command in this process (a test, a notebook) set TF_CONFIG: undo that
        if _environment_tf_config is None:
            os.environ.pop("TF_CONFIG", None)
        else:
            os.environ["TF_CONFIG"] = _environment_tf_config
        _flags_cluster = False
    if workers is None and task_index is None:
        return
    if workers is None:
        raise ConfigError("--task-index needs --workers (every worker's HOST:PORT, the chief first)",
                          hint="e.g. --workers 10.0.0.1:2222,10.0.0.2:2222 --task-index 1")
    addresses = parse_workers(workers)
    if task_index is None:
        if len(addresses) > 1:
            raise ConfigError(f"--workers names {len(addresses)} workers: say which one this process is with "
                              "--task-index N (0 is the chief)",
                              hint=f"run the same command on each machine with --task-index 0 ... {len(addresses) - 1}")
        task_index = 0
    if not 0 <= task_index < len(addresses):
        raise ConfigError(f"--task-index {task_index} is out of range for {len(addresses)} worker(s)",
                          hint=f"use 0 ... {len(addresses) - 1}; 0 is the chief")
    _environment_tf_config = os.environ.get("TF_CONFIG")
    os.environ["TF_CONFIG"] = Cluster({"worker": addresses}, "worker", task_index).to_tf_config()
    _flags_cluster = True


def cluster_overrides(overrides: list[str], workers: str | None) -> list[str]:
    """``--workers`` implies ``--set strategy=multi-worker`` unless the overrides name a strategy themselves."""
    if workers and not any(text.partition("=")[0].strip() == "strategy" for text in overrides):
        return [*overrides, "strategy=multi-worker"]
    return list(overrides)


def planned_cluster(setting: str) -> Cluster | None:
    """The cluster a run with strategy ``setting`` trains on (None: one process), without TensorFlow."""
    cluster = cluster_from_env()
    if setting == "multi-worker":
        if cluster is None:
            raise ConfigError("strategy 'multi-worker' needs a cluster: this process has no TF_CONFIG",
                              hint="start every worker with --workers HOST:PORT,HOST:PORT --task-index N, or set "
                                   "TF_CONFIG; or use --set strategy=none to train on one machine")
        return cluster
    if setting == "auto":
        return cluster if cluster is not None and cluster.size > 1 else None
    if _flags_cluster:
        raise ConfigError(f"--workers was given, but the run's strategy is '{setting}'",
                          hint="multi-worker training needs --set strategy=multi-worker (or auto); a run started "
                               "on one machine resumes on one machine")
    if setting == "none" and cluster is not None and cluster.size > 1:
        warnings.warn(f"TF_CONFIG describes {cluster.size} tasks, but the run's strategy is 'none': this process "
                      "trains alone (use --set strategy=auto or multi-worker to train on the cluster)", stacklevel=2)
    return None


# --- the strategy ------------------------------------------------------------------------


@dataclass
class Distribution:
    """The strategy this process trains with."""

    kind: str  # 'mirrored' or 'multi-worker'
    strategy: Any
    cluster: Cluster | None = None
    join_timeout: int = 0
    batch_size: int = 0
    run_id: str | None = None  # the chief's run directory name, once known
    summary: str = ""  # a non-chief worker's closing line

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    def record(self) -> dict[str, Any]:
        """What manifest.json says about the distribution."""
        replicas = self.replicas
        data: dict[str, Any] = {"strategy": self.kind, "replicas": replicas, "global_batch_size": self.batch_size,
                                "per_replica_batch_size": [self.batch_size * (r + 1) // replicas
                                                           - self.batch_size * r // replicas for r in range(replicas)],
                                "devices": [str(d) for d in getattr(self.strategy.extended, "worker_devices", ())]}
        if self.cluster is not None:
            data.update(workers={job: list(addresses) for job, addresses in self.cluster.jobs.items()},
                        chief=self.cluster.address(*self.cluster.chief), task=self.cluster.key,
                        join_timeout=self.join_timeout, heartbeat_timeout=HEARTBEAT_TIMEOUT_SECONDS)
        return data


_active: Distribution | None = None
_resuming: dict[str, Any] | None = None  # set by resume_target: the run and epoch this worker resumes


def current_strategy() -> Any:
    """The strategy this process trains with, or None (one device, no strategy)."""
    return _active.strategy if _active is not None else None


def current() -> Distribution | None:
    return _active


def is_chief() -> bool:
    """False only in a multi-worker run's non-chief workers (they write nothing shared and show no progress)."""
    return _active is None or _active.cluster is None or _active.cluster.is_chief


def progress(mode: str) -> str:
    """The progress mode to use: 'none' on a non-chief worker."""
    return mode if is_chief() else "none"


def worker_summary() -> str:
    """A non-chief worker's closing line for the CLI."""
    return _active.summary if _active is not None else ""


def config_digest(config: Any) -> str:
    """sha256 of what every worker must agree on: settings and the four components with their parameters."""
    parts = {"settings": {k: v for k, v in sorted(config.settings.items()) if k != "progress"},
             "components": [[c.kind, c.component.name, c.params] for c in
                            (config.dataset, config.architecture, config.optimizer, config.loss)]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def starter(config: Any) -> Callable[[], None]:
    """The function ``engine.configure_threads`` calls before the TensorFlow runtime starts: create the strategy.

    For 'none' it clears any strategy a previous run in this process used.
    """
    settings = config.settings
    setting = settings.get("strategy", "none")
    join_timeout = int(settings.get("join_timeout", 300))
    batch_size = int(settings["batch_size"])
    cluster = planned_cluster(setting)  # a missing or bad cluster is an error now, before TensorFlow loads

    def start() -> None:
        global _active
        kind = "multi-worker" if cluster is not None else setting
        if kind == "auto":
            kind = "mirrored" if _gpu_count() > 1 else "none"
        if kind == "none":
            _active = None
            return
        if kind == "multi-worker" and _active is not None and _active.kind == kind and _active.cluster == cluster:
            strategy = _active.strategy  # a second run in this process: TensorFlow allows one per program
        elif kind == "multi-worker":
            strategy = _multi_worker(cluster, join_timeout)
            _reclaim_sigterm()
        else:
            strategy = _mirrored()
        _active = Distribution(kind, strategy, cluster, join_timeout, batch_size)
        if batch_size < _active.replicas:
            raise ConfigError(f"batch_size {batch_size} is smaller than the {_active.replicas} replicas "
                              "training together: batch_size is the global batch, split over the replicas",
                              hint=f"use --set batch_size={_active.replicas * 32} (or more)")
        if cluster is not None:
            _agree_with_chief(config)

    return start


def _reclaim_sigterm() -> None:
    """Put Python's signal handlers back after TensorFlow's coordination service replaced SIGTERM's.

    The service installs a C++ SIGTERM handler (for its preemption notices)
    that swallows the signal: a worker sent SIGTERM kept training to the end
    (measured, TF 2.21). With Python's handlers back, zoo's own handling
    applies (zoo_core.runner: stop at the next safe point, exit code 143;
    the other workers then stop with exit code 75).
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        number = getattr(signal, name, None)
        handler = signal.getsignal(number) if number is not None else None
        if handler is not None:
            signal.signal(number, handler)


def _gpu_count() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def _mirrored() -> Any:
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def _keras_version() -> tuple[int, ...]:
    import keras

    return tuple(int(part) for part in re.findall(r"\d+", keras.__version__)[:3])


def needs_keras_20585_workaround(version: tuple[int, ...] | None = None) -> bool:
    """Whether this Keras needs the keras-team/keras#20585 workaround (Keras 3 until a fixed release is known)."""
    forced = os.environ.get(WORKAROUND_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    version = _keras_version() if version is None else version
    if version[:1] != (3,):
        return False
    return KERAS_20585_FIXED_IN is None or version[:2] < KERAS_20585_FIXED_IN


def multi_worker_strategy_class() -> type:
    """``tf.distribute.MultiWorkerMirroredStrategy``, or a subclass working around keras-team/keras#20585."""
    import tensorflow as tf

    base = tf.distribute.MultiWorkerMirroredStrategy
    if not needs_keras_20585_workaround():
        return base

    class KerasMultiWorkerMirroredStrategy(base):  # type: ignore[misc, valid-type]
        """MultiWorkerMirroredStrategy whose ``reduce`` takes what Keras 3's trainer passes it.

        keras-team/keras#20585 (open as of Keras 3.15.1): under a multi-worker
        strategy the TensorFlow trainer calls ``strategy.reduce`` with a nested
        structure of PerReplica values (``_maybe_symbolic_build``: "Attempt to
        convert a value (PerReplica...) to a Tensor") and with ``axis=0`` for
        scalar metrics (``reduce_per_replica``). This ``reduce`` maps over the
        structure and drops the axis of rank-0 values; values the base class
        accepts are reduced exactly as before. Remove it (see
        KERAS_20585_FIXED_IN) once a fixed Keras passes tests/test_distributed.py without it.
        """

        def reduce(self, reduce_op: Any, value: Any, axis: Any) -> Any:
            def one(item: Any) -> Any:
                first = item.values[0] if hasattr(item, "values") else item
                rank = getattr(getattr(first, "shape", None), "rank", None)
                return base.reduce(self, reduce_op, item, None if rank == 0 else axis)

            return tf.nest.map_structure(one, value)

    return KerasMultiWorkerMirroredStrategy


def _multi_worker(cluster: Cluster, join_timeout: int) -> Any:
    """Join the cluster (bounded by ``join_timeout``) and return the strategy."""
    import tensorflow as tf

    _configure_coordination(cluster, join_timeout)
    try:
        return multi_worker_strategy_class()()
    except tf.errors.OpError as error:
        raise _join_failure(error, cluster, join_timeout) from error
    except RuntimeError as error:
        if "startup" in str(error) or "initialized" in str(error):
            raise RunError("multi-worker training must be the first thing a process does with TensorFlow "
                           f"({_first_line(error)})",
                           hint="start each worker in a fresh process: zoo run ... --workers ... --task-index N"
                           ) from None
        raise


def _configure_coordination(cluster: Cluster, join_timeout: int) -> None:
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


def _named_tasks(text: str, cluster: Cluster) -> list[tuple[str, int]]:
    """The other tasks a TensorFlow error message names, in cluster order."""
    found = {(job, int(index)) for job, index in _TASK_NAME.findall(text)}
    return [task for task in cluster.tasks() if task in found and task != (cluster.task_type, cluster.task_index)]


#: Words in a TensorFlow error that mean a peer died, stopped responding or cut the connection.
FAILURE_SIGNS = ("Collective ops is aborted", "unhealthy", "heartbeat", "coordination service", "Connection reset",
                 "Socket closed", "failed to connect")


def _first_line(error: BaseException) -> str:
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


def _restart_hint(cluster: Cluster, run_id: str | None) -> str:
    if run_id is None:  # no run directory yet
        return (f"start all {cluster.size} workers again, the same command on each (check the other workers' "
                "messages first); exit code 75 means 'restart every worker' (docs/distributed.md)")
    if _flags_cluster and "worker" in cluster.jobs and "chief" not in cluster.jobs:
        workers = ",".join(cluster.jobs["worker"])
        how = f"zoo resume {run_id} --workers {workers} --task-index N on each (this one: --task-index {cluster.task_index})"
    else:
        how = f"zoo resume {run_id} on each, with its TF_CONFIG"
    return (f"restart all {cluster.size} workers to continue from the last completed epoch: {how}; "
            "exit code 75 means 'restart every worker' (docs/distributed.md)")


def _join_failure(error: BaseException, cluster: Cluster, join_timeout: int) -> ClusterError:
    text = str(error)
    missing = _named_tasks(text.split("Some timed out task names:", 1)[-1], cluster) if "timed out task" in text else []
    if missing:
        who = ", ".join(cluster.describe(*task) for task in missing)
        message = f"{who} did not join the cluster within join_timeout={join_timeout}s"
    elif not cluster.is_chief:
        message = (f"could not join the cluster led by {cluster.describe(*cluster.chief)} within "
                   f"join_timeout={join_timeout}s ({_first_line(error)})")
    else:
        message = f"the workers did not all join within join_timeout={join_timeout}s ({_first_line(error)})"
    return JoinTimeout(f"{cluster.describe()}: {message}",
                       hint="start every worker (the same command, each with its own task index) and check the "
                            "addresses are reachable; raise --set join_timeout=SECONDS if workers start slowly. "
                            "Exit code 75 means 'restart every worker'")


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


def raise_if_cluster_failed(error: BaseException) -> None:
    """In a multi-worker run, turn a TensorFlow error caused by a lost worker into :class:`WorkerLost`."""
    dist = _active
    if dist is None or dist.cluster is None or not is_cluster_failure(error):
        return
    cluster = dist.cluster
    others = _named_tasks(str(error), cluster)
    who = ", ".join(cluster.describe(*task) for task in others) or "another worker"
    raise WorkerLost(f"{cluster.describe()}: training stopped because {who} died or stopped responding "
                     f"({_first_line(error)})", hint=_restart_hint(cluster, dist.run_id)) from error


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """The strategy's scope (build and compile the model in it); nothing without a strategy."""
    dist = _active
    if dist is None:
        yield
        return
    try:
        with dist.strategy.scope():
            yield
    except Exception as error:
        raise_if_cluster_failed(error)
        raise


# --- talking to the other workers: the coordination service's key-value store ----------------


def _kv_set(key: str, value: str) -> None:
    import tensorflow as tf
    from tensorflow.python.eager import context

    ctx = context.context()
    try:
        ctx.set_config_key_value(_KV_PREFIX + key, value)
    except tf.errors.AlreadyExistsError:  # a second run in this process, on the same cluster
        ctx.delete_config_key_value(_KV_PREFIX + key)
        ctx.set_config_key_value(_KV_PREFIX + key, value)


def _kv_get(key: str, timeout_seconds: float, waiting_for: str) -> str:
    """The value another worker stored under ``key``, waiting at most ``timeout_seconds``."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    dist = _active
    try:
        return context.context().get_config_key_value(_KV_PREFIX + key, int(timeout_seconds * 1000))
    except tf.errors.OpError as error:
        cluster = dist.cluster if dist is not None else None
        where = f"{cluster.describe()}: " if cluster is not None else ""
        raise ClusterError(f"{where}gave up waiting for {waiting_for} after {timeout_seconds:g}s ({_first_line(error)})",
                           hint=_restart_hint(cluster, dist.run_id if dist else None) if cluster else None) from error


def _agree_with_chief(config: Any) -> None:
    """Check with the chief that this worker runs the same config, and resumes the same run at the same epoch."""
    dist = _active
    assert dist is not None and dist.cluster is not None
    mine = {"config": config_digest(config), "resume": (_resuming or {}).get("run_id"),
            "epochs_done": (_resuming or {}).get("epochs_done")}
    if dist.cluster.is_chief:
        _kv_set("session", json.dumps(mine))
        dist.run_id = mine["resume"]
        return
    chief = dist.cluster.describe(*dist.cluster.chief)
    theirs = json.loads(_kv_get("session", dist.join_timeout, f"{chief} to start"))
    me = dist.cluster.describe()
    if theirs["config"] != mine["config"]:
        raise ConfigError(f"{me} runs a different config than {chief} (settings or components differ)",
                          hint="start every worker with the same command and the same registry.toml; only "
                               "--task-index differs")
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
    dist.run_id = theirs["resume"]


# --- the run directory: only the chief writes it ---------------------------------------------


def backup_folder(root: Path, run_id: str, cluster: Cluster) -> Path:
    """Where a non-chief worker keeps its own config, history and checkpoint for run ``run_id``."""
    return Path(root) / f".{run_id}.{cluster.key}"


def start_run(start: Callable[..., Any], config: Any, registry: Any, root: Path) -> Any:
    """``runner.start_run`` for the chief (it then tells the workers the run id); a backup run for the others."""
    dist = _active
    if dist is None or dist.cluster is None or dist.cluster.is_chief:
        run, manifest, lock = start(config, registry, root)
        if dist is not None:
            dist.run_id = run.id
            manifest.update(distribution=dist.record())
            if dist.cluster is not None:
                _kv_set("run_id", run.id)
        return run, manifest, lock
    chief = dist.cluster.describe(*dist.cluster.chief)
    dist.run_id = _kv_get("run_id", dist.join_timeout, f"{chief} to create the run directory")
    return start(config, registry, backup_folder(Path(root), dist.run_id, dist.cluster))


def resume_target(run: Any) -> Any:
    """The directory this process resumes ``run`` in: the run itself, or a non-chief worker's backup of it.

    Called before TensorFlow starts. A worker's backup is used when its
    checkpoint is at the chief's epoch; otherwise (or without a backup) it is
    replaced by a copy of the chief's config and checkpoint.
    """
    global _resuming
    _resuming = None
    setting = run.config_table().get("strategy", "none")
    cluster = planned_cluster(setting if setting in STRATEGIES else "none")
    if cluster is None:
        return run

    from zoo_core.callbacks import read_checkpoint
    from zoo_core.runs import Run, is_run_dir

    backup_of = re.fullmatch(r"\.(.+)\.(?:chief|worker)-\d+", run.dir.parent.name)
    if backup_of and is_run_dir(run.dir.parent.parent / backup_of.group(1)):
        run = Run(run.dir.parent.parent / backup_of.group(1))  # given a worker's backup: resume its run
    if not cluster.is_chief and run.manifest().get("status") == "completed":  # the chief refuses it too
        raise RunError(f"run '{run.id}' already completed; nothing to resume",
                       hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}")
    chief_epochs = _epochs_done(run.dir, read_checkpoint)
    if cluster.is_chief:
        _resuming = {"run_id": run.id, "epochs_done": chief_epochs}
        return run
    folder = backup_folder(run.dir.parent, run.id, cluster)
    backup = _latest_backup(folder, read_checkpoint)
    epochs = _epochs_done(backup.dir, read_checkpoint) if backup is not None else None
    if backup is None or epochs != chief_epochs or backup.manifest().get("status") == "completed":
        backup = _copy_for_worker(run, folder, read_checkpoint)
        epochs = chief_epochs
    _resuming = {"run_id": run.id, "epochs_done": epochs}
    return backup


def _epochs_done(directory: Path, read_checkpoint: Callable[[Path], Any]) -> int | None:
    """Epochs done in a run directory's committed checkpoint: 0 without one, None if it is unreadable."""
    try:
        state = read_checkpoint(directory / "checkpoint")
    except (ValueError, OSError):
        return None
    return int(state["epochs_done"]) if state else 0


def _latest_backup(folder: Path, read_checkpoint: Callable[[Path], Any]) -> Any:
    from zoo_core.runs import Run, is_run_dir

    try:
        candidates = [Run(path) for path in folder.iterdir() if not path.name.startswith(".") and is_run_dir(path)]
    except OSError:
        return None
    usable = [run for run in candidates if _epochs_done(run.dir, read_checkpoint) is not None]
    return max(usable, key=lambda run: (_epochs_done(run.dir, read_checkpoint), run.dir.stat().st_mtime), default=None)


def _copy_for_worker(run: Any, folder: Path, read_checkpoint: Callable[[Path], Any]) -> Any:
    """A fresh backup for this worker: the chief's config.toml, history.csv and committed checkpoint (read only)."""
    from zoo_core.files import write_json_atomic
    from zoo_core.runs import Run, utc_now

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
        write_json_atomic(staging / "manifest.json", {
            "run_id": run.id, "recipe": chief.get("recipe", "adhoc"), "status": "interrupted",
            "started": utc_now(), "epochs_done": state["epochs_done"] if state else 0,
            "backup_of": str(source)})
        target = folder / run.id
        staging.rename(target)
    except OSError as error:
        raise RunError(f"cannot copy run '{run.id}' for this worker into '{folder}': {error}") from None
    return Run(target)


def local_model(model: Any, manifest: Any = None) -> Any:
    """After training, on the chief: a one-device copy of the model; records the workers' weight digests.

    Evaluation, saving and exports then need no other worker (under a
    multi-worker strategy ``predict`` would wait for them).
    """
    dist = _active
    if dist is None:
        return model
    record = dist.record()
    digest = weights_digest(model)
    if dist.cluster is not None:
        digests = {dist.cluster.key: digest}
        for job, index in dist.cluster.tasks():
            key = f"{job}-{index}"
            if key not in digests:
                try:
                    digests[key] = _kv_get(f"weights/{key}", WEIGHTS_REPORT_TIMEOUT_SECONDS, f"{key}'s weights")
                except ClusterError:
                    digests[key] = None
        record.update(weights_sha256=digests, weights_identical=len(set(digests.values())) == 1)
        if not record["weights_identical"]:
            warnings.warn(f"the workers' final weights differ or were not all reported: {digests}", stacklevel=2)
    else:
        record["weights_sha256"] = digest
    if manifest is not None:
        manifest.update(distribution=record)
    import tempfile

    import keras

    with tempfile.TemporaryDirectory(prefix="zoo-local-model-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return keras.models.load_model(path, safe_mode=True)


def finish_worker(run: Any, model: Any) -> Any:
    """A non-chief worker after training: report its weights' digest to the chief, remove its backup."""
    from zoo_core.runner import RunOutcome

    dist = _active
    assert dist is not None and dist.cluster is not None
    digest = weights_digest(model)
    try:
        _kv_set(f"weights/{dist.cluster.key}", digest)
    except Exception:  # noqa: BLE001 - the chief then records the digest as unknown
        pass
    folder = run.dir.parent
    if dist.run_id and folder.name == backup_folder(Path("."), dist.run_id, dist.cluster).name:
        shutil.rmtree(folder, ignore_errors=True)
    dist.summary = (f"{dist.cluster.describe()}: training of run {dist.run_id} done, final weights sha256 "
                    f"{digest}; the chief evaluates, exports and writes the run directory")
    return RunOutcome(run)


def weights_digest(model: Any) -> str:
    """sha256 of the model's weights (dtype, shape and bytes of each, in order)."""
    from zoo_core._util.hashing import sha256_of_arrays

    return sha256_of_arrays(model.get_weights())
