"""The cluster of a multi-worker run: from TF_CONFIG or zoo's --workers/--task-index flags, checked."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from zoo_core.errors import ConfigError

#: The values of the ``strategy`` setting (docs/distributed.md).
STRATEGIES = ("none", "mirrored", "multi-worker", "auto")
#: The TF_CONFIG jobs MultiWorkerMirroredStrategy trains with, in task order.
JOBS = ("chief", "worker")


@dataclass(frozen=True)
class Cluster:
    """The tasks of a multi-worker run (from TF_CONFIG) and which one this process is."""

    jobs: dict[str, tuple[str, ...]]
    task_type: str
    task_index: int
    #: True when it came from zoo's --workers/--task-index flags (hints then suggest those flags), not TF_CONFIG.
    from_flags: bool = field(default=False, compare=False)

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
        """This cluster as a TF_CONFIG JSON text."""
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


def cluster_from_flags(workers: str | None, task_index: int | None) -> Cluster | None:
    """The cluster the CLI's ``--workers`` and ``--task-index`` describe (None without them), checked.

    Nothing process-wide changes: the cluster is passed down to the strategy.
    """
    if workers is None and task_index is None:
        return None
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
    return Cluster({"worker": addresses}, "worker", task_index, from_flags=True)


def cluster_overrides(overrides: list[str], workers: str | None) -> list[str]:
    """``--workers`` implies ``--set strategy=multi-worker`` unless the overrides name a strategy themselves."""
    if workers and not any(text.partition("=")[0].strip() == "strategy" for text in overrides):
        return [*overrides, "strategy=multi-worker"]
    return list(overrides)


def planned_cluster(setting: str, flags: Cluster | None = None, environ: Any = None) -> Cluster | None:
    """The cluster a run with strategy ``setting`` trains on (None: one process), without TensorFlow.

    ``flags`` is the cluster from ``--workers/--task-index`` (it wins over TF_CONFIG).
    """
    cluster = flags if flags is not None else cluster_from_env(environ)
    if setting == "multi-worker":
        if cluster is None:
            raise ConfigError("strategy 'multi-worker' needs a cluster: this process has no TF_CONFIG",
                              hint="start every worker with --workers HOST:PORT,HOST:PORT --task-index N, or set "
                                   "TF_CONFIG; or use --set strategy=none to train on one machine")
        return cluster
    if setting == "auto":
        return cluster if cluster is not None and cluster.size > 1 else None
    if flags is not None:
        raise ConfigError(f"--workers was given, but the run's strategy is '{setting}'",
                          hint="multi-worker training needs --set strategy=multi-worker (or auto), on zoo run and "
                               "zoo resume alike")
    if setting == "none" and cluster is not None and cluster.size > 1:
        warnings.warn(f"TF_CONFIG describes {cluster.size} tasks, but the run's strategy is 'none': this process "
                      "trains alone (use --set strategy=auto or multi-worker to train on the cluster)", stacklevel=2)
    return None
