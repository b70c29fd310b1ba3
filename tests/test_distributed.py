"""Distributed training on tf.distribute (zoo_core.training.distribute, docs/distributed.md).

Fast tests: the cluster description (TF_CONFIG, --workers/--task-index), the
settings, the keras-team/keras#20585 guard, and the per-replica input
pipeline (every example once per epoch, in the one-process batches).

Slow tests start real ``zoo`` processes on 127.0.0.1 with free ports, each
bounded by a timeout: two workers train one model (identical weights, only
the chief writes, the accuracy of a one-process run); a killed worker makes
the other stop with exit code 75, and both resume; a worker that never joins
is reported after join_timeout; a mirrored run on two logical CPU devices;
and the keras-team/keras#20585 workaround is still needed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from conftest import run_cli, subprocess_env, zoo_executable
from zoo_core.errors import ConfigError
from zoo_core.training import distribute
from zoo_core.training.distribute import coordination
from zoo_core.registry import check_settings

# -- fast: the cluster description --------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TF_CONFIG from outside (zoo_core keeps no cluster or strategy state of its own to undo)."""
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv(distribute.WORKAROUND_ENV, raising=False)


def tf_config(cluster: dict, task_type: str = "worker", index: int = 0) -> dict[str, str]:
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})}


def test_tf_config_with_workers_only_makes_worker_0_the_chief() -> None:
    workers = ["127.0.0.1:2222", "127.0.0.1:2223", "127.0.0.1:2224"]
    chief = distribute.cluster_from_env(tf_config({"worker": workers}, "worker", 0))
    other = distribute.cluster_from_env(tf_config({"worker": workers}, "worker", 2))
    assert chief is not None and other is not None
    assert chief.is_chief and not other.is_chief
    assert chief.size == 3 and other.key == "worker-2" and other.address() == "127.0.0.1:2224"
    assert other.describe() == "worker 2 at 127.0.0.1:2224"
    assert chief.describe() == "the chief (worker 0) at 127.0.0.1:2222"


def test_tf_config_with_a_chief_job() -> None:
    jobs = {"chief": ["10.0.0.1:2222"], "worker": ["10.0.0.2:2222", "10.0.0.3:2222"]}
    worker0 = distribute.cluster_from_env(tf_config(jobs, "worker", 0))
    chief = distribute.cluster_from_env(tf_config(jobs, "chief", 0))
    assert chief.is_chief and not worker0.is_chief
    assert chief.tasks() == [("chief", 0), ("worker", 0), ("worker", 1)]
    assert chief.describe() == "the chief at 10.0.0.1:2222"


@pytest.mark.parametrize("environ, message", [
    ({"TF_CONFIG": "{not json"}, "not valid JSON"),
    (tf_config({"worker": ["a:1"], "ps": ["b:2"]}), "ps"),
    (tf_config({"worker": ["a:1"], "evaluator": ["b:2"]}), "evaluator"),
    (tf_config({"worker": ["a:1", "b:2"]}, "worker", 2), "out of range"),
    (tf_config({"worker": ["a:1"]}, "chief", 0), "'task' must name"),
    (tf_config({"worker": ["no-port"]}), "is not HOST:PORT"),
    (tf_config({"chief": ["a:1", "b:2"]}, "chief", 0), "more than one chief"),
])
def test_bad_tf_config_is_a_clear_config_error(environ: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        distribute.cluster_from_env(environ)


def test_no_tf_config_or_no_cluster_means_no_cluster() -> None:
    assert distribute.cluster_from_env({}) is None
    assert distribute.cluster_from_env({"TF_CONFIG": '{"task": {"type": "worker", "index": 0}}'}) is None


def test_workers_flags_describe_the_cluster_without_touching_tf_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CONFIG", "from the environment")
    cluster = distribute.cluster_from_flags("127.0.0.1:5000,127.0.0.1:5001", 1)
    assert cluster == distribute.Cluster({"worker": ("127.0.0.1:5000", "127.0.0.1:5001")}, "worker", 1)
    assert cluster.from_flags and not cluster.is_chief
    assert distribute.planned_cluster("multi-worker", cluster) is cluster  # the flags win over TF_CONFIG
    assert os.environ["TF_CONFIG"] == "from the environment"
    assert distribute.cluster_from_flags(None, None) is None


@pytest.mark.parametrize("workers, index, message", [
    (None, 1, "--task-index needs --workers"),
    ("a:1,b:2", None, "--task-index N"),
    ("a:1,b:2", 2, "out of range"),
    ("a:1,a:1", 0, "more than once"),
    ("a:1,b", 0, "is not HOST:PORT"),
    (" , ", 0, "--workers is empty"),
])
def test_bad_workers_flags(workers: str | None, index: int | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        distribute.cluster_from_flags(workers, index)


def test_workers_flag_implies_the_multi_worker_strategy_unless_one_is_set() -> None:
    assert distribute.cluster_overrides(["epochs=2"], "a:1,b:2") == ["epochs=2", "strategy=multi-worker"]
    assert distribute.cluster_overrides(["strategy=auto"], "a:1,b:2") == ["strategy=auto"]
    assert distribute.cluster_overrides(["epochs=2"], None) == ["epochs=2"]


def test_strategy_resolution_without_tensorflow(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="needs a cluster"):
        distribute.planned_cluster("multi-worker")
    assert distribute.planned_cluster("auto") is None
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                                "task": {"type": "worker", "index": 1}}))
    assert distribute.planned_cluster("auto").key == "worker-1"
    with pytest.warns(UserWarning, match="trains alone"):
        assert distribute.planned_cluster("none") is None
    with pytest.raises(ConfigError, match="--workers was given"):
        distribute.planned_cluster("mirrored", distribute.cluster_from_flags("a:1,b:2", 0))


def test_strategy_and_join_timeout_settings_are_checked() -> None:
    checked = check_settings({}, "test")
    assert checked["strategy"] == "none" and checked["join_timeout"] == 300
    assert check_settings({"strategy": "multi-worker"}, "test")["strategy"] == "multi-worker"
    with pytest.raises(ConfigError, match="strategy"):
        check_settings({"strategy": "parameter-server"}, "test")
    with pytest.raises(ConfigError, match="join_timeout"):
        check_settings({"join_timeout": 0}, "test")


def test_keras_20585_workaround_version_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo_core.training.distribute import keras_fixes

    assert distribute.needs_keras_20585_workaround((3, 15, 1))
    assert not distribute.needs_keras_20585_workaround((2, 15, 0))
    monkeypatch.setattr(keras_fixes, "KERAS_20585_FIXED_IN", (3, 16))
    assert distribute.needs_keras_20585_workaround((3, 15, 1))
    assert not distribute.needs_keras_20585_workaround((3, 16, 0))
    monkeypatch.setenv(distribute.WORKAROUND_ENV, "1")
    assert distribute.needs_keras_20585_workaround((3, 16, 0))


def test_error_messages_name_the_lost_worker() -> None:
    cluster = distribute.Cluster({"worker": ("127.0.0.1:1", "127.0.0.1:2")}, "worker", 0)
    text = ("{{function_node __wrapped__CollectiveReduceV2}} Collective ops is aborted by: Error reported from "
            "/job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats):\n"
            "/job:worker/replica:0/task:1\nThe tasks have crashed. [Op:CollectiveReduceV2]")
    assert coordination.named_tasks(text, cluster) == [("worker", 1)]
    reason = coordination.error_gist(Exception("Graph execution error:\n\nDetected at node X\n" + text))
    assert reason.startswith("Collective ops is aborted by") and "task:1" in reason and "[Op:" not in reason


# -- fast: the per-replica input pipeline -------------------------------------------------------


class FakeStrategy:
    """Calls the input function once per input pipeline, as tf.distribute does, and returns the datasets."""

    def __init__(self, pipelines: int, replicas: int) -> None:
        self.pipelines, self.num_replicas_in_sync = pipelines, replicas

    def distribute_datasets_from_function(self, function):
        import tensorflow as tf

        return [function(tf.distribute.InputContext(self.pipelines, p, self.num_replicas_in_sync))
                for p in range(self.pipelines)]


@pytest.mark.parametrize("pipelines, replicas, batch", [(2, 2, 64), (1, 2, 64), (1, 2, 5), (2, 4, 7), (3, 3, 10)])
def test_every_example_once_per_epoch_in_the_one_process_batches(pipelines: int, replicas: int, batch: int) -> None:
    """Replica r of global step s gets its slice of the one-process batch s; together they are the batch."""
    from zoo_core.training import input_pipeline

    count, epochs = 203, 3  # a partial last batch
    x = np.arange(count, dtype=np.float32).reshape(count, 1)
    y = np.arange(count, dtype=np.int64)
    single, steps = input_pipeline.training_dataset(x, y, batch, seed=7, shuffle=True, first_epoch=1, epochs=epochs)
    expected = [labels for _, labels in single.as_numpy_iterator()]
    assert len(expected) == steps * (epochs - 1)

    per_pipeline, steps_again = input_pipeline.training_dataset(x, y, batch, seed=7, shuffle=True, first_epoch=1,
                                                        epochs=epochs, tf_strategy=FakeStrategy(pipelines, replicas))
    assert steps_again == steps
    local = replicas // pipelines
    streams = [[labels for _, labels in dataset.as_numpy_iterator()] for dataset in per_pipeline]
    for stream in streams:
        assert len(stream) == steps * (epochs - 1) * local
    for step, batch_labels in enumerate(expected):
        slices = [streams[p][step * local + r] for p in range(pipelines) for r in range(local)]
        assert np.array_equal(np.concatenate(slices), batch_labels)
        sizes = [len(s) for s in slices]
        assert max(sizes) - min(sizes) <= 1  # as even as possible
    for epoch in range(epochs - 1):
        seen = np.concatenate(expected[epoch * steps:(epoch + 1) * steps])
        assert sorted(seen.tolist()) == list(range(count))


def test_a_last_batch_smaller_than_the_replicas_waits_for_the_next_epoch() -> None:
    """203 examples at batch 8 end in a batch of 3: over 4 replicas one would get none (batch normalisation then
    fails), so that batch is left out and every replica gets examples at every step."""
    from zoo_core.training import input_pipeline

    count = 203
    x = np.arange(count, dtype=np.float32).reshape(count, 1)
    y = np.arange(count, dtype=np.int64)
    (stream,), steps = input_pipeline.training_dataset(x, y, 8, seed=7, shuffle=True, first_epoch=0, epochs=1,
                                                        tf_strategy=FakeStrategy(1, 4))
    assert steps == 25 and input_pipeline.epoch_steps(count, 8) == 26
    slices = [labels for _, labels in stream.as_numpy_iterator()]
    assert len(slices) == 25 * 4 and min(len(s) for s in slices) == 2
    seen = np.concatenate(slices)
    assert len(seen) == len(set(seen.tolist())) == 200


def test_validation_is_cut_to_an_even_split_over_the_replicas() -> None:
    """Keras gathers each replica's validation answers: 25 examples over 2 replicas (13 and 12) failed with
    "Shape mismatch in the collective"; 24 of them, in batches of multiples of 2, do not."""
    from zoo_core.training.input_pipeline import replica_multiple

    assert replica_multiple(25, FakeStrategy(1, 2)) == 24
    assert replica_multiple(1024, FakeStrategy(1, 3)) == 1023
    assert replica_multiple(25) == 25 and replica_multiple(2, FakeStrategy(1, 4)) == 2


def test_steps_per_execution_is_one_under_a_strategy() -> None:
    from zoo_core.training import execution
    from zoo_core.training.strategy import LocalStrategy

    cap = distribute.DistributedStrategy("mirrored", None, 300, 64, "digest").max_steps_per_execution
    assert cap == 1
    assert execution.choose_steps_per_execution(30, 0, live_progress=False, cap=LocalStrategy.max_steps_per_execution) == 30
    assert execution.choose_steps_per_execution(30, 0, live_progress=False, cap=cap) == 1
    assert execution.choose_steps_per_execution(30, 10, live_progress=False, cap=cap) == 1


# -- slow: real processes on 127.0.0.1 ----------------------------------------------------------

#: A small slice: 1,800 training images (200 for validation), 500 test images, 2 epochs of 29 steps.
#: Dropout 0 makes a two-worker run the same computation as a one-process run (dropout masks are
#: drawn per replica, so with dropout the two are different random draws, like two seeds).
SLICE = ["--set", "max_train_samples=2000", "--set", "max_test_samples=500", "--set", "epochs=2",
         "--set", "batch_size=64", "--set", "exporters=[]", "--set", "architecture.dropout=0.0"]
PROCESS_TIMEOUT = 120  # seconds: no process of these tests lives longer


def free_ports(count: int) -> list[str]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Zoo:
    """A ``zoo`` process whose output goes to files; always killed (SIGKILL) at the test's end."""

    def __init__(self, name: str, args: list[str], folder: Path, **env: str) -> None:
        self.name, self.folder = name, folder
        self.out_path, self.err_path = folder / f"{name}.out", folder / f"{name}.err"
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.process = subprocess.Popen([zoo_executable(), *args], cwd=folder, stdout=out, stderr=err,
                                            env=subprocess_env(**env), text=True)
        self.started = time.monotonic()

    def wait(self, timeout: float = PROCESS_TIMEOUT) -> int:
        left = max(1.0, timeout - (time.monotonic() - self.started))
        try:
            return self.process.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"{self.name} did not finish within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return f"--- {self.name} stdout\n{self.stdout}\n--- {self.name} stderr\n{self.stderr[-4000:]}"

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def processes() -> Iterator[list[Zoo]]:
    started: list[Zoo] = []
    yield started
    for process in started:
        process.kill()


def start_workers(processes: list[Zoo], folder: Path, runs: Path, command: list[str], count: int = 2,
                  **env: str) -> list[Zoo]:
    workers = ",".join(free_ports(count))
    for index in range(count):
        processes.append(Zoo(f"worker{index}", [*command, "--runs-dir", str(runs), "--workers", workers,
                                                "--task-index", str(index)], folder, **env))
    return processes[-count:]


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith("."))


def manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def model_digest(path: Path) -> str:
    import keras

    return distribute.weights_digest(keras.models.load_model(path, safe_mode=True))


@pytest.fixture(scope="module")
def single_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the same slice trained by one process without a strategy (this one: in-process)."""
    folder = tmp_path_factory.mktemp("single")
    result = run_cli("run", "mnist-mlp", *SLICE, "--runs-dir", str(folder / "runs"), "--quiet")
    assert result.exit_code == 0, result.output
    (run,) = run_dirs(folder / "runs")
    return run


@pytest.mark.slow
def test_two_workers_train_one_model(tmp_path: Path, processes: list[Zoo], single_run: Path) -> None:
    runs = tmp_path / "runs"
    chief, worker = start_workers(processes, tmp_path, runs, ["run", "mnist-mlp", *SLICE])
    assert chief.wait() == 0, chief.output() + worker.output()
    assert worker.wait() == 0, worker.output()

    # only the chief's run directory holds artifacts: the worker's backup is gone, nothing else was written
    assert sorted(p.name for p in runs.iterdir()) == [p.name for p in run_dirs(runs)]
    (run,) = run_dirs(runs)
    data = manifest(run)
    assert data["status"] == "completed"
    assert data["settings"]["strategy"] == "multi-worker"
    record = data["distribution"]
    assert record["strategy"] == "multi-worker" and record["replicas"] == 2
    assert record["global_batch_size"] == 64 and record["per_replica_batch_size"] == [32, 32]
    assert data["engine"]["steps_per_epoch"] == 29  # ceil(1800 / 64): the global batch, as one process

    # identical final weights on both workers, and they are the saved model's
    digests = record["weights_sha256"]
    assert record["weights_identical"] and set(digests) == {"worker-0", "worker-1"}
    assert len(set(digests.values())) == 1
    assert f"final weights sha256 {digests['worker-1']}" in worker.stdout
    assert model_digest(run / "model.keras") == digests["worker-0"]

    # only the chief shows progress and the run's summary
    assert "epoch 2/2" in chief.stderr and "test accuracy" in chief.stdout
    assert "epoch" not in worker.stderr and "test accuracy" not in worker.stdout

    # the same computation as one process: same batches, same steps, same accuracy
    single = json.loads((single_run / "metrics.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert abs(metrics["accuracy"] - single["accuracy"]) <= 0.005, (metrics["accuracy"], single["accuracy"])
    assert abs(metrics["loss"] - single["loss"]) <= 1e-3, (metrics["loss"], single["loss"])
    history = (run / "history.csv").read_text().splitlines()
    reference = (single_run / "history.csv").read_text().splitlines()
    for line, expected in zip(history[1:], reference[1:]):
        values = [float(v) for v in line.split(",")[1:-1]]  # loss .. val_accuracy, not the seconds
        assert np.allclose(values, [float(v) for v in expected.split(",")[1:-1]], atol=2e-3), (line, expected)


def kill_worker_1_after_epoch_1(processes: list[Zoo], folder: Path, runs: Path, command: list[str]
                                ) -> tuple[Zoo, Path, dict]:
    """Two workers run ``command``; worker 1 gets SIGKILL once an epoch is committed; the chief must exit 75."""
    chief, worker = start_workers(processes, folder, runs, command)
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while time.monotonic() < deadline:  # kill worker 1 once the first epoch is committed
        done = [manifest(run).get("epochs_done", 0) for run in run_dirs(runs) if (run / "manifest.json").is_file()] \
            if runs.is_dir() else []
        if done and done[0] >= 1:
            break
        assert chief.process.poll() is None and worker.process.poll() is None, chief.output() + worker.output()
        time.sleep(0.1)
    else:
        pytest.fail("the first epoch was never committed:\n" + chief.output() + worker.output())
    if chief.process.poll() is not None:
        pytest.fail("the run finished before the kill:\n" + chief.output())
    killed = time.monotonic()
    worker.process.send_signal(signal.SIGKILL)
    code = chief.wait(timeout=time.monotonic() - chief.started + 30)
    seconds = time.monotonic() - killed
    assert code == distribute.EXIT_RETRY == 75, chief.output()
    assert seconds < 30
    assert "worker 1 at 127.0.0.1" in chief.stderr and "died or stopped responding" in chief.stderr, chief.output()
    (run,) = run_dirs(runs)
    failed = manifest(run)
    assert failed["status"] == "failed" and "worker 1" in failed["error"]
    print(f"\nthe chief exited {seconds:.1f}s after worker 1 was killed (epochs done: {failed['epochs_done']})")
    return chief, run, failed


@dataclass(frozen=True)
class KilledCluster:
    """What :func:`killed_cluster` leaves: the chief's stderr, its failed run and manifest, a copy of the runs root."""

    stderr: str
    run: Path
    failed: dict
    pristine: Path  #: the runs root as the kill left it (the run and worker 1's backup), copied before any test


@pytest.fixture(scope="module")
def killed_cluster(tmp_path_factory: pytest.TempPathFactory) -> KilledCluster:
    """Two workers train 4 epochs; worker 1 is killed after epoch 1 and the chief exits 75 (checked as it happens).

    The two tests below each resume it in their own way: one resumes the run itself (the chief's message names
    its path), the other a copy of the runs root, so that neither depends on the other or on their order."""
    folder = tmp_path_factory.mktemp("killed")
    started: list[Zoo] = []
    try:
        chief, run, failed = kill_worker_1_after_epoch_1(started, folder, folder / "runs",
                                                         ["run", "mnist-mlp", *SLICE, "--set", "epochs=4"])
    finally:
        for process in started:
            process.kill()
    pristine = Path(shutil.copytree(folder / "runs", folder / "pristine"))
    return KilledCluster(chief.stderr, run, failed, pristine)


@pytest.mark.slow
def test_a_killed_worker_stops_the_other_and_both_resume(killed_cluster: KilledCluster, tmp_path: Path,
                                                         processes: list[Zoo]) -> None:
    runs = Path(shutil.copytree(killed_cluster.pristine, tmp_path / "runs"))
    run, failed = runs / killed_cluster.run.name, killed_cluster.failed
    assert "zoo resume" in killed_cluster.stderr

    # workers given different --set options: the worker names the setting and stops before training
    workers = ",".join(free_ports(2))
    for index, extra in ((0, ["--set", "epochs=5"]), (1, [])):
        processes.append(Zoo(f"mismatch{index}", ["resume", run.name, *extra, "--runs-dir", str(runs),
                                                  "--workers", workers, "--task-index", str(index)], tmp_path))
    chief_mismatch, worker_mismatch = processes[-2:]
    assert worker_mismatch.wait() == 2, worker_mismatch.output()
    assert "epochs: the chief 5, this worker 4" in worker_mismatch.stderr, worker_mismatch.output()
    assert chief_mismatch.wait() == 75, chief_mismatch.output()

    # restart both with the same --set: the chief continues the run, the worker from its backup (or the
    # chief's checkpoint); epochs may grow on resume
    chief2, worker2 = start_workers(processes, tmp_path, runs, ["resume", run.name, "--set", "epochs=5"])
    assert chief2.wait() == 0, chief2.output() + worker2.output()
    assert worker2.wait() == 0, worker2.output()
    done = manifest(run)
    assert done["status"] == "completed" and done["epochs_done"] == 5
    assert [int(line.split(",")[0]) for line in (run / "history.csv").read_text().splitlines()[1:]] == [1, 2, 3, 4, 5]
    assert {entry["epochs_done"] for entry in done["resumed"]} == {failed["epochs_done"]}
    assert done["resumed"][-1]["overrides"] == ["epochs=5"] and done["settings"]["epochs"] == 5
    assert done["distribution"]["weights_identical"]
    assert "distribution_changes" not in done  # two workers again (on other ports): the same computation
    assert done["resumed"][-1]["cluster"]["replicas"] == 2
    assert sorted(p.name for p in runs.iterdir()) == [run.name]  # the worker's backup is removed


@pytest.mark.slow
def test_a_machine_lost_for_good_the_run_finishes_on_the_survivor_alone(killed_cluster: KilledCluster, tmp_path: Path,
                                                                         processes: list[Zoo]) -> None:
    """Worker 1 is gone for good: the command the chief's message suggests finishes the run as one process."""
    run, failed = killed_cluster.run, killed_cluster.failed
    runs = run.parent
    done_before = failed["epochs_done"]
    suggested = re.search(r"zoo resume (\S+) --set strategy=none", killed_cluster.stderr)
    assert suggested, killed_cluster.stderr
    command = shlex.split(suggested.group(0))
    assert Path(command[2]) == run  # the run's directory: it works from any folder, without --runs-dir

    # what a resume may not change is refused before anything starts (exit 2), listing what may change
    for refused in (["resume", str(run), "--set", "strategy=none", "--set", "batch_size=32"],
                    ["run", "--resume", str(run), "--set", "optimizer=sgd"]):
        result = run_cli(*refused)
        assert result.exit_code == 2, result.output
        assert "cannot change when run" in result.stderr
        assert "strategy, progress, threads, join_timeout, epochs (not below the epochs done), exporters" \
            in result.stderr
    assert manifest(run)["status"] == "failed" and "resumed" not in manifest(run)

    survivor = Zoo("survivor", command[1:], tmp_path)
    processes.append(survivor)
    assert survivor.wait() == 0, survivor.output()
    assert (f"continues from epoch {done_before + 1} on 1 process instead of 2 workers: the global batch stays 64"
            in survivor.stderr), survivor.output()
    assert "test accuracy" in survivor.stdout

    # the history is continuous: epochs 1..4, each once, the first ones as the two workers wrote them
    history = (run / "history.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in history[1:]] == [1, 2, 3, 4]
    data = manifest(run)
    assert data["status"] == "completed" and data["epochs_done"] == 4
    assert data["settings"]["strategy"] == "none" and 'strategy = "none"' in (run / "config.toml").read_text()
    assert data["engine"]["steps_per_epoch"] == 29  # the global batch of 64, as recorded
    assert data["distribution"] == {"strategy": "none", "replicas": 1, "global_batch_size": 64,
                                    "per_replica_batch_size": [64]}
    (change,) = data["distribution_changes"]
    assert change["from_epoch"] == done_before + 1 and change["global_batch_size"] == 64
    assert change["before"]["strategy"] == "multi-worker" and change["before"]["per_replica_batch_size"] == [32, 32]
    assert len(change["before"]["workers"]["worker"]) == 2
    assert change["after"] == {"strategy": "none", "replicas": 1, "per_replica_batch_size": [64]}
    (resumed,) = data["resumed"]
    assert resumed["epochs_done"] == done_before and resumed["overrides"] == ["strategy=none"]
    assert resumed["cluster"] == change["after"]
    assert json.loads((run / "metrics.json").read_text())["accuracy"] > 0.8
    assert sorted(p.name for p in runs.iterdir()) == [run.name]  # the lost worker's backup is removed


@pytest.mark.slow
def test_a_worker_that_never_joins_is_reported_after_join_timeout(tmp_path: Path, processes: list[Zoo]) -> None:
    runs = tmp_path / "runs"
    workers = ",".join(free_ports(2))
    chief = Zoo("chief", ["run", "mnist-mlp", *SLICE, "--set", "join_timeout=3", "--runs-dir", str(runs),
                          "--workers", workers, "--task-index", "0"], tmp_path)
    processes.append(chief)
    assert chief.wait(timeout=60) == 75, chief.output()
    assert f"worker 1 at {workers.split(',')[1]} did not join the cluster within join_timeout=3s" in chief.stderr, \
        chief.output()
    assert not runs.is_dir() or run_dirs(runs) == []  # nothing was started


MIRRORED = """
import sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from zoo_core.cli import main
sys.argv = ["zoo", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_mirrored_on_two_logical_cpu_devices(tmp_path: Path, single_run: Path) -> None:
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-c", MIRRORED, "run", "mnist-mlp", *SLICE, "--set", "strategy=mirrored",
                           "--runs-dir", str(runs), "--quiet"], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=PROCESS_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = run_dirs(runs)
    record = manifest(run)["distribution"]
    assert record["strategy"] == "mirrored" and record["replicas"] == 2
    assert [device.rsplit(":", 2)[-2:] for device in record["devices"]] == [["CPU", "0"], ["CPU", "1"]]
    metrics = json.loads((run / "metrics.json").read_text())
    single = json.loads((single_run / "metrics.json").read_text())
    assert abs(metrics["accuracy"] - single["accuracy"]) <= 0.005, (metrics["accuracy"], single["accuracy"])


@pytest.mark.slow
def test_keras_20585_workaround_is_still_needed(tmp_path: Path, processes: list[Zoo]) -> None:
    """Without the workaround two workers fail at the first step; when this fails, set KERAS_20585_FIXED_IN."""
    runs = tmp_path / "runs"
    tiny = ["--set", "max_train_samples=640", "--set", "max_test_samples=100", "--set", "epochs=1",
            "--set", "batch_size=64", "--set", "exporters=[]"]
    workers = start_workers(processes, tmp_path, runs, ["run", "mnist-mlp", *tiny],
                            **{distribute.WORKAROUND_ENV: "0"})
    codes = [zoo.wait(timeout=90) for zoo in workers]
    if codes == [0, 0]:
        import keras

        pytest.fail(f"Keras {keras.__version__} trains multi-worker without the keras-team/keras#20585 workaround: "
                    "set zoo_core.training.distribute.keras_fixes.KERAS_20585_FIXED_IN to this version")
    assert "PerReplica" in workers[0].stderr + workers[1].stderr, workers[0].output() + workers[1].output()
