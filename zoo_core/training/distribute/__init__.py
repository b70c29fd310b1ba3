"""Training on several devices or machines with TensorFlow's own engine, ``tf.distribute``: a leaf of training.

The ``strategy`` setting chooses none, mirrored, multi-worker or auto;
docs/distributed.md says what each does and guarantees. The runner calls
:func:`plan` and hands the :class:`~zoo_core.training.strategy.Strategy` it
returns to whatever needs distribution; nothing here imports the runner, the
engine or TensorFlow at import time.

- ``cluster``: TF_CONFIG and --workers/--task-index → :class:`Cluster`.
- ``strategies``: :func:`plan` and the mirrored/multi-worker strategy.
- ``coordination``: the coordination service, fault errors (exit code 75).
- ``backups``: non-chief workers' backups and where each worker resumes.
- ``reshape``: a run resumed on another cluster shape (the manifest's record, stale backups).
- ``keras_fixes``: the Keras 3 workarounds and their version guard.
"""

from zoo_core.training.distribute.backups import ResumePlan, backup_folder, resume_target
from zoo_core.training.distribute.cluster import (JOBS, STRATEGIES, Cluster, cluster_from_env, cluster_from_flags,
                                                  cluster_overrides, parse_workers, planned_cluster)
from zoo_core.training.distribute.coordination import (EXIT_RETRY, HEARTBEAT_TIMEOUT_SECONDS, ClusterError,
                                                       JoinTimeout, WorkerLost, config_digest)
from zoo_core.training.distribute.keras_fixes import (KERAS_20585_FIXED_IN, WORKAROUND_ENV,
                                                      multi_worker_strategy_class, needs_keras_20585_workaround)
from zoo_core.training.distribute.reshape import one_process_record, remove_backups, shape, shape_change
from zoo_core.training.distribute.strategies import DistributedStrategy, plan, weights_digest

__all__ = ["EXIT_RETRY", "HEARTBEAT_TIMEOUT_SECONDS", "JOBS", "KERAS_20585_FIXED_IN", "STRATEGIES", "WORKAROUND_ENV",
           "Cluster", "ClusterError", "DistributedStrategy", "JoinTimeout", "ResumePlan", "WorkerLost",
           "backup_folder", "cluster_from_env", "cluster_from_flags", "cluster_overrides", "config_digest",
           "multi_worker_strategy_class", "needs_keras_20585_workaround", "one_process_record", "parse_workers", "plan",
           "planned_cluster", "remove_backups", "resume_target", "shape", "shape_change", "weights_digest"]
