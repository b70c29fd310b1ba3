"""Run storage: run directories, their lock, manifest, history and checkpoint formats. Never imports TensorFlow.

- ``directory``: create, find and list run directories; the :class:`Run` record reader.
- ``lock``: which process works in a run (an exclusive ``flock``).
- ``links``: a run that holds a link is refused, never written through.
- ``manifest``: manifest.json, the run's status and record.
- ``history``: history.csv, one row per completed epoch.
- ``checkpoint``: the checkpoint format and its commit protocol.
- ``formats``: each file's format number; a file a newer zoo wrote is refused.
- ``timings``: where a run's seconds go (manifest.json ``timings``).
"""

from zoo_core.files import DISK_ERRNOS, WRITE_ERRNOS, describe_os_error
from zoo_core.runs.directory import (RUNS_ROOT_ENV, STATUSES, Run, RunNotFound, check_writable, create_run_dir,
                                     find_run, is_run_dir, list_runs, runs_root, safe_name, utc_now)
from zoo_core.runs.formats import NewerFormat
from zoo_core.runs.links import LinkInRun, check_no_links, find_link
from zoo_core.runs.lock import LOCK_FILE, RunBusy, RunLock
from zoo_core.runs.manifest import Manifest, versions, write_manifest

__all__ = ["DISK_ERRNOS", "LOCK_FILE", "RUNS_ROOT_ENV", "STATUSES", "WRITE_ERRNOS", "LinkInRun", "Manifest",
           "NewerFormat", "Run", "RunBusy", "RunLock", "RunNotFound", "check_no_links", "check_writable",
           "create_run_dir", "describe_os_error", "find_link", "find_run", "is_run_dir", "list_runs", "runs_root",
           "safe_name", "utc_now", "versions", "write_manifest"]
