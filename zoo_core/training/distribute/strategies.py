"""The distributed :class:`~zoo_core.training.strategy.Strategy`: mirrored and multi-worker on tf.distribute.

:func:`plan` reads the ``strategy`` setting and the cluster (before
TensorFlow starts, so a bad cluster is an error at once) and returns the
strategy object the runner hands around. docs/distributed.md explains the
guarantees (global batch, only the chief writes, exit code 75, resume).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, ContextManager, Iterator

from zoo_core._util.hashing import sha256_of_arrays
from zoo_core.errors import ConfigError, RunError
from zoo_core.training.distribute.backups import ResumePlan, backup_folder
from zoo_core.training.distribute.cluster import Cluster, planned_cluster
from zoo_core.training.distribute.coordination import (HEARTBEAT_TIMEOUT_SECONDS, WEIGHTS_REPORT_TIMEOUT_SECONDS,
                                                       ClusterError, agree_with_chief, agreed_settings, config_digest,
                                                       configure_coordination, error_gist, join_failure, kv_get,
                                                       kv_set, worker_lost)
from zoo_core.training.distribute.keras_fixes import multi_worker_strategy_class
from zoo_core.training.strategy import LocalStrategy, Strategy, WorkerDone

#: One MultiWorkerMirroredStrategy per cluster (TF_CONFIG text): TensorFlow allows one per process.
_MULTI_WORKER_STRATEGIES: dict[str, Any] = {}


def plan(config: Any, flags: Cluster | None = None, resuming: ResumePlan | None = None,
         resumed: bool = False) -> Strategy:
    """The strategy a run of ``config`` trains with (``flags``: the cluster from --workers/--task-index).

    Checks the cluster without TensorFlow; nothing is created until
    ``before_runtime_start``. ``resuming`` is where this process resumes a
    multi-worker run (:func:`~zoo_core.training.distribute.backups.resume_target`);
    ``resumed``: any resumed run (its global batch is fixed).
    """
    settings = config.settings
    setting = settings.get("strategy", "none")
    cluster = planned_cluster(setting, flags)  # a missing or bad cluster is an error now, before TensorFlow loads
    if cluster is None and setting == "none":
        return LocalStrategy()
    return DistributedStrategy(setting, cluster, int(settings.get("join_timeout", 300)), int(settings["batch_size"]),
                               config_digest(config), resuming, settings=agreed_settings(config), resumed=resumed)


class DistributedStrategy:
    """Mirrored (local devices) or multi-worker training; 'auto' decides when the runtime starts."""

    max_steps_per_execution = 1  # keras-team/keras#19246: see keras_fixes

    def __init__(self, setting: str, cluster: Cluster | None, join_timeout: int, batch_size: int, digest: str,
                 resuming: ResumePlan | None = None, *, settings: dict[str, Any] | None = None,
                 resumed: bool = False) -> None:
        self.kind = setting  # 'mirrored', 'multi-worker' or 'auto' until the runtime starts
        self.cluster = cluster
        self.join_timeout = join_timeout
        self.batch_size = batch_size
        self.digest = digest
        self.resuming = resuming
        self.run_id = resuming.run_id if resuming else None  # the chief's run directory name, once known
        self.run_dir: Path | None = None  # the chief's run directory (the same path on every machine), once known
        if resuming is not None:
            is_chief = cluster is None or cluster.is_chief  # a worker resumes in <root>/.<run id>.<task>/<name>
            self.run_dir = resuming.run.dir if is_chief else resuming.run.dir.parent.parent / resuming.run_id
        self.settings = settings or {}  # the settings the workers agree on (to name those that differ)
        self.resumed = resumed  # a resumed run: its global batch size cannot change
        self.tf_strategy: Any = None
        self._weights: dict[str, Any] = {}  # the final weights' digests, for the manifest

    @property
    def is_chief(self) -> bool:
        """False only on a multi-worker run's non-chief workers."""
        return self.cluster is None or self.cluster.is_chief

    @property
    def replicas(self) -> int:
        """Replicas training together (over every worker)."""
        return int(self.tf_strategy.num_replicas_in_sync)

    def before_runtime_start(self) -> None:
        """Create the tf.distribute strategy; join the cluster and agree with the chief on the run."""
        kind = "multi-worker" if self.cluster is not None else self.kind
        if kind == "auto":
            kind = "mirrored" if _gpu_count() > 1 else "none"
        self.kind = kind
        if kind == "none":
            return
        if self.cluster is not None:
            self.tf_strategy = _multi_worker(self.cluster, self.join_timeout)
            _reclaim_sigterm()
        else:
            self.tf_strategy = _mirrored()
        if self.batch_size < self.replicas:
            hint = (f"resume on at most {self.batch_size} replicas (fewer --workers, or --set strategy=none): "
                    "a resumed run keeps its global batch" if self.resumed
                    else f"use --set batch_size={self.replicas * 32} (or more)")
            raise ConfigError(f"batch_size {self.batch_size} is smaller than the {self.replicas} replicas "
                              "training together: batch_size is the global batch, split over the replicas", hint=hint)
        if self.cluster is not None:
            self.run_id = agree_with_chief(self.cluster, self.digest, self.resuming, self.join_timeout, self.settings)

    def scope(self) -> ContextManager[None]:
        """The tf.distribute scope (a lost worker while building becomes WorkerLost); none without a strategy."""
        return self._scope() if self.tf_strategy is not None else contextlib.nullcontext()

    @contextlib.contextmanager
    def _scope(self) -> Iterator[None]:
        try:
            with self.tf_strategy.scope():
                yield
        except Exception as error:
            better = self.translate_error(error)
            if better is not None:
                raise better from error
            raise

    def run_folder(self, root: Path) -> Path:
        """The chief creates the run under ``root``; every other worker waits for its id and keeps a backup of it."""
        if self.is_chief:
            return Path(root)
        chief = self.cluster.describe(*self.cluster.chief)
        self.run_id = kv_get("run_id", self.join_timeout, f"{chief} to create the run directory", self.cluster, None)
        self.run_dir = Path(root) / self.run_id
        return backup_folder(Path(root), self.run_id, self.cluster)

    def run_started(self, run: Any) -> None:
        """The chief tells the other workers the id of the run it created."""
        if self.is_chief:
            self.run_id, self.run_dir = run.id, run.dir
            if self.cluster is not None:
                kv_set("run_id", self.run_id)

    @property
    def run_reference(self) -> str | None:
        """The run as the exit-code-75 hints name it for ``zoo resume``: its directory, else its id."""
        return str(self.run_dir) if self.run_dir is not None else self.run_id

    def translate_error(self, error: BaseException) -> BaseException | None:
        """WorkerLost (exit code 75) for a TensorFlow error caused by a lost worker."""
        if self.cluster is None:
            return None
        return worker_lost(error, self.cluster, self.run_reference)

    def after_fit(self, model: Any, run_dir: Path) -> Any:
        """Chief: a one-device copy of the model, with every worker's weight digest; others: WorkerDone."""
        if self.tf_strategy is None:
            return model
        digest = weights_digest(model)
        if not self.is_chief:
            return self._finish_worker(digest, run_dir)
        if self.cluster is None:
            self._weights = {"weights_sha256": digest}
        else:
            digests = {self.cluster.key: digest}
            for job, index in self.cluster.tasks():
                key = f"{job}-{index}"
                if key not in digests:
                    try:
                        digests[key] = kv_get(f"weights/{key}", WEIGHTS_REPORT_TIMEOUT_SECONDS, f"{key}'s weights",
                                              self.cluster, self.run_reference)
                    except ClusterError:
                        digests[key] = None
            self._weights = {"weights_sha256": digests, "weights_identical": len(set(digests.values())) == 1}
            if not self._weights["weights_identical"]:
                warnings.warn(f"the workers' final weights differ or were not all reported: {digests}", stacklevel=2)
        return _one_device_copy(model)

    def _finish_worker(self, digest: str, run_dir: Path) -> WorkerDone:
        """Report this worker's weights' digest to the chief and remove its backup."""
        try:
            kv_set(f"weights/{self.cluster.key}", digest)
        except Exception:  # noqa: BLE001 - the chief then records the digest as unknown
            pass
        folder = run_dir.parent
        if self.run_id and folder.name == backup_folder(Path("."), self.run_id, self.cluster).name:
            shutil.rmtree(folder, ignore_errors=True)
        return WorkerDone(f"{self.cluster.describe()}: training of run {self.run_id} done, final weights sha256 "
                          f"{digest}; the chief evaluates, exports and writes the run directory")

    def manifest_record(self) -> dict[str, Any] | None:
        """What manifest.json says about the distribution."""
        if self.tf_strategy is None:
            return None
        replicas = self.replicas
        data: dict[str, Any] = {"strategy": self.kind, "replicas": replicas, "global_batch_size": self.batch_size,
                                "per_replica_batch_size": [self.batch_size * (r + 1) // replicas
                                                           - self.batch_size * r // replicas for r in range(replicas)],
                                "devices": [str(d) for d in getattr(self.tf_strategy.extended, "worker_devices", ())]}
        if self.cluster is not None:
            data.update(workers={job: list(addresses) for job, addresses in self.cluster.jobs.items()},
                        chief=self.cluster.address(*self.cluster.chief), task=self.cluster.key,
                        join_timeout=self.join_timeout, heartbeat_timeout=HEARTBEAT_TIMEOUT_SECONDS)
        return {**data, **self._weights}


def weights_digest(model: Any) -> str:
    """sha256 of the model's weights (dtype, shape and bytes of each, in order)."""
    return sha256_of_arrays(model.get_weights())


def _one_device_copy(model: Any) -> Any:
    """The model saved and loaded again outside the strategy: evaluation and exports need no other worker."""
    import keras

    with tempfile.TemporaryDirectory(prefix="zoo-local-model-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return keras.models.load_model(path, safe_mode=True)


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


def _multi_worker(cluster: Cluster, join_timeout: int) -> Any:
    """Join the cluster (bounded by ``join_timeout``) and return the strategy.

    TensorFlow allows one MultiWorkerMirroredStrategy per process: a second
    run on the same cluster in one process (a notebook, the tests) reuses it.
    """
    import tensorflow as tf

    known = _MULTI_WORKER_STRATEGIES.get(cluster.to_tf_config())
    if known is not None:
        return known
    configure_coordination(cluster, join_timeout)
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec({job: list(addresses) for job, addresses in cluster.jobs.items()}),
        task_type=cluster.task_type, task_id=cluster.task_index, rpc_layer="grpc")
    try:
        strategy = multi_worker_strategy_class()(cluster_resolver=resolver)
    except tf.errors.OpError as error:
        raise join_failure(error, cluster, join_timeout) from error
    except RuntimeError as error:
        if "startup" in str(error) or "initialized" in str(error):
            raise RunError("multi-worker training must be the first thing a process does with TensorFlow "
                           f"({error_gist(error)})",
                           hint="start each worker in a fresh process: zoo run ... --workers ... --task-index N"
                           ) from None
        raise
    _MULTI_WORKER_STRATEGIES[cluster.to_tf_config()] = strategy
    return strategy
