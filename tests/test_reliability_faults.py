"""Issue 17: hostile files, dead processes and faults that used to get through.

Each test names the defect it guards against: the recorded data fingerprint
(item 2), a damaged checkpoint (3), the lock holder (5), state.json (6), a
read-only run (7), signals outside training (10), a killed process's
temporaries (11), wrong hints and long names (13), a disk that fills up
mid-run, ``--out FILE`` and a hostile model.keras (15).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from typer.testing import CliRunner

from zoo_core.cli import app
from zoo_core.runs import LOCK_FILE, Run, RunBusy, RunLock, create_run_dir, safe_name
from zoo_core.runs.checkpoint import read_checkpoint, read_weights_npz, write_weights_npz
from zoo_core.runs.manifest import RESERVE_FILE, Manifest

from conftest import subprocess_env

ZOO = str(Path(sys.executable).with_name("zoo"))
PACKAGED_MNIST = Path(__file__).resolve().parents[1] / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz"
#: The smallest real run: for tests about files and statuses, not accuracy.
TINY = ["--set", "max_train_samples=600", "--set", "max_test_samples=200", "--set", "epochs=3",
        "--set", "exporters=[]", "--quiet"]


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


def manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "manifest.json").read_text())


def copy_run(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "runs" / source.name
    shutil.copytree(source, target)
    return target


def snapshot_files(run_dir: Path, names: tuple[str, ...] = ("metrics.json", "manifest.json", "report.md")) -> dict:
    return {name: (run_dir / name).read_bytes() for name in names if (run_dir / name).exists()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A completed tiny run (no exports)."""
    root = tmp_path_factory.mktemp("finished")
    result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(root), *TINY])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in root.iterdir() if p.is_dir()]
    return run_dir


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run that failed after epoch 1 of 3 (the disk filled up while epoch 2's checkpoint was written)."""
    import zoo_core.runs.checkpoint as checkpoint

    root = tmp_path_factory.mktemp("failed")
    real = checkpoint.write_weights_npz

    def fills_up(path: Path, snapshots: list) -> None:
        if "0002" in path.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, snapshots)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkpoint, "write_weights_npz", fills_up)
        result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(root), *TINY])
    assert result.exit_code == 1, result.output
    (run_dir,) = [p for p in root.iterdir() if p.is_dir()]
    assert manifest(run_dir)["status"] == "failed" and manifest(run_dir)["epochs_done"] == 1
    return run_dir


@pytest.fixture(scope="module")
def other_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST with its test set in another order: other data, same shapes."""
    path = tmp_path_factory.mktemp("data") / "other.npz"
    with np.load(PACKAGED_MNIST) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["x_test"], arrays["y_test"] = arrays["x_test"][::-1].copy(), arrays["y_test"][::-1].copy()
    np.savez(path, **arrays)
    return path


# -- item 2: the recorded data fingerprint is checked ------------------------------------------


@pytest.mark.slow
def test_evaluate_refuses_other_data_and_records_it_apart_when_asked(finished: Path, tmp_path: Path,
                                                                     other_mnist: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = copy_run(finished, tmp_path)
    before = snapshot_files(run_dir)
    recorded = manifest(run_dir)["data_fingerprint"]
    monkeypatch.setenv("ZOO_MNIST_PATH", str(other_mnist))

    refused = invoke("evaluate", str(run_dir))
    assert refused.exit_code == 2
    assert recorded["test_sha256"] in refused.output and recorded["train_sha256"] in refused.output
    assert str(other_mnist) in refused.output and "--other-data" in refused.output
    assert snapshot_files(run_dir) == before  # metrics.json was not overwritten

    evaluated = invoke("evaluate", str(run_dir), "--other-data", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    (saved,) = (run_dir / "evaluations").glob("*.json")
    record = json.loads(saved.read_text())
    assert record["data_source"] == str(other_mnist) and record["same_data_as_run"] is False
    assert record["run_data_fingerprint"] == recorded
    assert record["data_fingerprint"]["test_sha256"] != recorded["test_sha256"]
    assert record["data_fingerprint"]["train_sha256"] == recorded["train_sha256"]
    assert 0.0 <= record["metrics"]["accuracy"] <= 1.0
    assert snapshot_files(run_dir) == before  # never the run's own metrics, manifest or report

    monkeypatch.delenv("ZOO_MNIST_PATH")
    again = invoke("evaluate", str(run_dir), "--json")  # its own data: accepted, as before
    assert again.exit_code == 0, again.output
    assert json.loads((run_dir / "metrics.json").read_text())["accuracy"] == manifest(run_dir)["metrics"]["accuracy"]


@pytest.mark.slow
def test_resume_refuses_other_data(failed: Path, tmp_path: Path, other_mnist: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = copy_run(failed, tmp_path)
    before = snapshot_files(run_dir, ("manifest.json", "history.csv", "checkpoint/state.json"))
    monkeypatch.setenv("ZOO_MNIST_PATH", str(other_mnist))
    result = invoke("resume", str(run_dir))
    assert result.exit_code == 2
    assert manifest(run_dir)["data_fingerprint"]["test_sha256"] in result.output
    assert str(other_mnist) in result.output
    assert snapshot_files(run_dir, ("manifest.json", "history.csv", "checkpoint/state.json")) == before


def write_table(path: Path, rows: np.ndarray, labels: np.ndarray) -> None:
    lines = ["a,b,c,label"] + [",".join(f"{value:.4f}" for value in row) + f",{label}"
                               for row, label in zip(rows, labels)]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_a_resume_after_the_training_file_changed_names_the_train_set(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A run on a CSV file, stopped by Ctrl-C after epoch 1; one cell of the training file changes; resume refuses.

    The test file is its own (test_path) and features are not standardised, so only the train set differs.
    """
    import zoo_core.training.checkpointing as checkpointing

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    features = rng.normal(size=(300, 3)) + labels[:, None]
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    write_table(train, features[:240], labels[:240])
    write_table(test, features[240:], labels[240:])
    real = checkpointing.commit_checkpoint

    def commit_then_ctrl_c(directory: Path, epochs_done: int, *args: Any, **kwargs: Any) -> Any:
        state = real(directory, epochs_done, *args, **kwargs)
        if epochs_done == 1:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C during epoch 1's end: training stops after it
        return state

    with monkeypatch.context() as patch:
        patch.setattr(checkpointing, "commit_checkpoint", commit_then_ctrl_c)
        stopped = invoke("train", "-d", "csv", "-a", "mlp", "--runs-dir", str(tmp_path / "runs"),
                         "--set", f"dataset.path={train}", "--set", f"dataset.test_path={test}",
                         "--set", "dataset.standardise=false", "--set", "epochs=3", "--set", "exporters=[]",
                         "--quiet")
    assert stopped.exit_code == 130, stopped.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert manifest(run_dir)["status"] == "interrupted" and manifest(run_dir)["epochs_done"] == 1
    recorded = manifest(run_dir)["data_fingerprint"]
    before = snapshot_files(run_dir, ("manifest.json", "history.csv", "checkpoint/state.json"))

    lines = train.read_text().splitlines()
    lines[5] = "9.0" + lines[5][lines[5].index(","):]  # one feature of one training example
    train.write_text("\n".join(lines) + "\n")
    refused = invoke("resume", str(run_dir))
    assert refused.exit_code == 2, refused.output
    assert "its train set differs" in refused.output
    assert recorded["train_sha256"] in refused.output and str(train) in refused.output
    assert snapshot_files(run_dir, ("manifest.json", "history.csv", "checkpoint/state.json")) == before

    write_table(train, features[:240], labels[:240])  # the data as they were: the run continues
    resumed = invoke("resume", str(run_dir), "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert manifest(run_dir)["status"] == "completed" and manifest(run_dir)["epochs_done"] == 3


# -- item 3: a damaged checkpoint ----------------------------------------------------------------


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.slow
def test_a_damaged_weights_file_costs_the_early_snapshots_not_the_resume(failed: Path, tmp_path: Path) -> None:
    run_dir = copy_run(failed, tmp_path)
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    truncate(run_dir / "checkpoint" / state["weights"])
    result = invoke("resume", str(run_dir), "--quiet")
    assert result.exit_code == 0, result.output
    assert f"{state['weights']} is damaged (BadZipFile)" in result.output
    assert manifest(run_dir)["status"] == "completed" and manifest(run_dir)["epochs_done"] == 3
    final = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    snapshots = read_weights_npz(run_dir / "checkpoint" / final["weights"])
    assert [bool(s) for s in snapshots] == [False, True, True, True]  # epoch 0 lost; 1..3 at their own epochs
    assert (run_dir / "plots" / "weight_distributions.png").is_file()


@pytest.mark.slow
def test_a_damaged_checkpoint_model_says_what_to_delete(failed: Path, tmp_path: Path) -> None:
    run_dir = copy_run(failed, tmp_path)
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    truncate(run_dir / "checkpoint" / state["model"])
    result = invoke("resume", str(run_dir))
    assert result.exit_code == 1
    assert f"{state['model']} is damaged" in result.output
    assert f"delete the folder {run_dir / 'checkpoint'}" in result.output
    shutil.rmtree(run_dir / "checkpoint")  # what the message says to do
    resumed = invoke("resume", str(run_dir), "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert manifest(run_dir)["status"] == "completed" and manifest(run_dir)["epochs_done"] == 3


def test_a_damaged_weights_file_reads_back_with_its_gaps(tmp_path: Path) -> None:
    path = tmp_path / "weights.npz"
    write_weights_npz(path, [{}, {}, {"dense": np.ones(3)}, {"dense": np.zeros(3)}])
    read = read_weights_npz(path)
    assert [sorted(s) for s in read] == [[], [], ["dense"], ["dense"]]  # epochs keep their places


# -- item 5: the lock holder ---------------------------------------------------------------------


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def hold_lock(run_dir: Path) -> subprocess.Popen[str]:
    code = ("import sys, time; from pathlib import Path; from zoo_core.runs import RunLock; "
            f"RunLock(Path({str(run_dir)!r})).acquire('export'); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=subprocess_env())
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize("kernel_table", [True, False])
def test_busy_names_the_real_lock_holder_not_the_dead_trainer(tmp_path: Path, kernel_table: bool,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_core.runs.lock as lock

    if not kernel_table:  # without /proc/locks: the pid the holder wrote into the lock file
        monkeypatch.setattr(lock, "_kernel_holder", lambda device, inode: None)
    run_dir = tmp_path / "mnist-mlp-20260101-000000-abcdef"
    run_dir.mkdir()
    trainer = dead_pid()
    (run_dir / "manifest.json").write_text(json.dumps({"status": "running", "pid": trainer,
                                                       "host": os.uname().nodename}))
    holder = hold_lock(run_dir)
    try:
        with pytest.raises(RunBusy) as error:
            RunLock(run_dir).acquire("resume")
    finally:
        holder.kill()
        holder.wait()
    assert f"another zoo process (pid {holder.pid})" in str(error.value)
    assert not re.search(rf"(?<!\d){trainer}(?!\d)", str(error.value))  # the number alone: it may be in the date
    RunLock(run_dir).acquire("resume").release()  # the holder is gone: the lock is free


def test_a_lock_file_naming_a_dead_process_names_no_one(tmp_path: Path) -> None:
    from zoo_core.runs.lock import lock_holder

    path = tmp_path / LOCK_FILE
    path.write_text(f"{dead_pid()} {os.uname().nodename}\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert lock_holder(fd, path) is None
    finally:
        os.close(fd)


# -- item 6: state.json is checked against the run ----------------------------------------------


def write_state(directory: Path, **changes: Any) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "model-0002.keras").write_bytes(b"model")
    (directory / "weights-0002.npz").write_bytes(b"weights")
    state = {"format": 2, "epochs_done": 2, "model": "model-0002.keras", "weights": "weights-0002.npz",
             "optimizer_iterations": 38, "history": [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}]}
    state.update(changes)
    (directory / "state.json").write_text(json.dumps(state))


@pytest.mark.parametrize("changes, message", [
    ({"epochs_done": 99, "history": [{"epoch": n, "loss": 1.0} for n in range(1, 100)]},
     "says 99 epochs are done, but the run has 4"),
    ({"model": "/elsewhere/run/checkpoint/model-0002.keras"}, "'model' must name a file in"),
    ({"model": "../../other-run/checkpoint/model-0002.keras"}, "'model' must name a file in"),
    ({"weights": "/etc/passwd"}, "'weights' must name a file in"),
    ({"weights": ".."}, "'weights' must name a file in"),
    ({"history": [{"epoch": 1, "loss": 1.0}, {"epoch": 7, "loss": 0.5}]}, "history row 2 is for epoch 7, not 2"),
    ({"history": [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": "x"}]}, "history row 2 has loss='x'"),
    ({"history": [{"epoch": 1}]}, "one row per completed epoch"),
    ({"epochs_done": True}, "no valid 'epochs_done'"),
    ({"optimizer_iterations": -5}, "'optimizer_iterations' must be a count"),
])
def test_state_json_is_checked_against_the_run(tmp_path: Path, changes: dict, message: str) -> None:
    write_state(tmp_path / "checkpoint", **changes)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_checkpoint(tmp_path / "checkpoint", epochs=4)


def test_a_sound_state_json_is_accepted(tmp_path: Path) -> None:
    write_state(tmp_path / "checkpoint")
    state = read_checkpoint(tmp_path / "checkpoint", epochs=2)
    assert state is not None and state["epochs_done"] == 2 and state["model"] == "model-0002.keras"


@pytest.mark.slow
def test_resume_refuses_a_state_json_beyond_the_run(failed: Path, tmp_path: Path) -> None:
    run_dir = copy_run(failed, tmp_path)
    path = run_dir / "checkpoint" / "state.json"
    state = json.loads(path.read_text())
    state["epochs_done"], state["history"] = 99, [dict(state["history"][0], epoch=n) for n in range(1, 100)]
    path.write_text(json.dumps(state))
    result = invoke("resume", str(run_dir))
    assert result.exit_code == 1
    assert "says 99 epochs are done, but the run has 3" in result.output
    assert manifest(run_dir)["status"] == "failed"  # untouched: not 'completed 99/3'


# -- item 7: a read-only run directory ----------------------------------------------------------


@pytest.mark.slow
def test_evaluate_on_a_read_only_run_says_so_before_any_work(finished: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_core.runs.directory as directory
    import zoo_core.training.finished_runs as finished_runs

    run_dir = copy_run(finished, tmp_path)

    def read_only(path: Any, *args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system")

    loaded: list[Any] = []
    monkeypatch.setattr(directory, "open", read_only, raising=False)  # the write probe
    monkeypatch.setattr(finished_runs, "load_dataset", lambda config: loaded.append(config))
    for command in (["evaluate", str(run_dir)], ["export", str(run_dir), "-f", "tflite"]):
        result = invoke(*command)
        assert result.exit_code == 1
        assert f"cannot write to the run directory '{run_dir}': Read-only file system" in result.output
    assert loaded == []  # refused before the data or the model were loaded


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """``folder`` really read-only while inside: a read-only bind mount over itself, else (not root) mode 555.

    Root writes through mode 555, not through a read-only mount; a process
    that may not mount (no CAP_SYS_ADMIN) is seldom root, and then mode 555
    does it. Yields how. Skips only when neither works (root without mounts).
    """
    mount = shutil.which("mount")
    mounted = mount is not None and subprocess.run(
        [mount, "--bind", str(folder), str(folder)], capture_output=True).returncode == 0
    try:
        if mounted:
            remounted = subprocess.run([mount, "-o", "remount,bind,ro", str(folder)], capture_output=True)
            assert remounted.returncode == 0, remounted.stderr
            how = "read-only bind mount"
        elif os.geteuid() != 0:
            folder.chmod(0o555)
            how = "mode 555"
        else:
            pytest.skip("running as root and cannot mount: no way to make a folder read-only for root")
        with pytest.raises(OSError) as refused:
            (folder / "probe").write_text("x")
        assert refused.value.errno in (errno.EROFS, errno.EACCES), refused.value  # it really is read-only
        yield how
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def test_evaluate_on_a_really_read_only_run(finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_core.training.finished_runs as finished_runs

    run_dir = copy_run(finished, tmp_path)
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    loaded: list[Any] = []
    monkeypatch.setattr(finished_runs, "load_dataset", lambda config: loaded.append(config))
    with read_only(run_dir):
        results = [invoke(*command) for command in (["evaluate", str(run_dir)],
                                                    ["export", str(run_dir), "-f", "tflite"])]
    for result in results:
        assert result.exit_code == 1, result.output
        assert f"cannot write to the run directory '{run_dir}'" in result.output
    assert loaded == []  # refused before the data or the model were loaded
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before


# -- item 10: signals outside training ------------------------------------------------------------


@pytest.mark.parametrize("sig, code, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP"),
                                             (signal.SIGINT, 130, "Ctrl-C (SIGINT)")])
def test_a_stop_outside_training_exits_128_plus_the_signal(sig: int, code: int, name: str) -> None:
    from zoo_core.training import RunInterrupted
    from zoo_core.training.signals import StopRequests

    with pytest.raises(RunInterrupted) as error:
        with StopRequests("the export of run 'x'"):
            os.kill(os.getpid(), sig)
            time.sleep(1)  # the handler raises here
    assert error.value.exit_code == code
    assert str(error.value).startswith(f"stopped by {name} during the export of run 'x'")


def tensorflow_loading(pid: int) -> bool:
    try:
        return "tensorflow" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see TensorFlow load")
@pytest.mark.parametrize("command", ["run", "export"])
def test_sigterm_during_set_up_or_export_exits_143(finished: Path, tmp_path: Path, command: str) -> None:
    args = (["run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), *TINY] if command == "run"
            else ["export", str(copy_run(finished, tmp_path)), "-f", "tflite"])
    process = subprocess.Popen([ZOO, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=subprocess_env())
    deadline = time.monotonic() + 60
    while not tensorflow_loading(process.pid) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, out + err
    assert "stopped by SIGTERM during" in err and "Traceback" not in err and "interrupted" not in err
    if command == "run":
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# -- item 11: a killed process's temporaries ----------------------------------------------------

ZOO_TEMPORARIES = ["checkpoint/.model-0002.keras.0123456789ab.tmp.keras",
                   "checkpoint/.state.json.0123456789ab.tmp.json",
                   "exports/mnist-mlp/.1.89abcdef.tmp/saved_model.pb",
                   "exports/.mnist-mlp-float32.tflite.89abcdef.tmp.tflite",
                   "exports/.mnist-mlp-tflite-scratch.0badcafe.tmp/savedmodel/saved_model.pb", ".manifest.reserve",
                   "plots/.curves.png.0123456789ab.tmp.png", ".zoo-write-test-0a1b2c3d"]
USER_FILES = [".notes.tmp", "notes.tmp", "exports/.keep", ".model.keras.tmp", "plots/.curves.png.backup.tmp.png"]


def plant(run_dir: Path, names: list[str]) -> None:
    for name in names:
        path = run_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


@pytest.mark.slow
def test_the_next_export_removes_a_killed_processs_temporaries_only(finished: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_core.export.savedmodel_io as savedmodel_io

    run_dir = copy_run(finished, tmp_path)
    plant(run_dir, ZOO_TEMPORARIES + USER_FILES)
    scratch: list[Path] = []
    real = savedmodel_io.write_savedmodel

    def spy(model: Any, folder: Path, *args: Any, **kwargs: Any) -> None:
        scratch.append(Path(folder))
        real(model, folder, *args, **kwargs)

    monkeypatch.setattr(savedmodel_io, "write_savedmodel", spy)
    result = invoke("export", str(run_dir), "-f", "tflite")
    assert result.exit_code == 0, result.output
    for name in ZOO_TEMPORARIES:
        assert not (run_dir / name).exists(), name
    assert not (run_dir / "exports" / "mnist-mlp" / ".1.89abcdef.tmp").exists()
    for name in USER_FILES:
        assert (run_dir / name).is_file(), name
    # TFLite's intermediate SavedModel was in the run's export folder, hidden, and is gone
    (folder,) = scratch
    assert folder.parent.parent == run_dir / "exports" and folder.parent.name.startswith(".")
    assert not folder.parent.exists()


def test_temporaries_stay_while_a_live_process_holds_the_lock(tmp_path: Path) -> None:
    from zoo_core.training.finished_runs import tidy

    run_dir = tmp_path / "mnist-mlp-20260101-000000-abcdef"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text(json.dumps({"status": "completed"}))
    plant(run_dir, ZOO_TEMPORARIES)
    holder = hold_lock(run_dir)
    try:
        assert tidy(Run(run_dir)) == []
        assert all((run_dir / name).exists() for name in ZOO_TEMPORARIES)
    finally:
        holder.kill()
        holder.wait()
    assert len(tidy(Run(run_dir))) == len(ZOO_TEMPORARIES)
    assert not any((run_dir / name).exists() for name in ZOO_TEMPORARIES)


# -- item 13: the hint for data too big for memory, and long recipe names -----------------------


def test_data_too_big_for_memory_says_the_truth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_plugins.datasets.mnist as mnist

    def too_big(path: Path) -> dict:
        raise MemoryError("Unable to allocate 400. GiB")

    monkeypatch.setattr(mnist, "read_npz", too_big)
    result = invoke("run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), *TINY)
    assert result.exit_code == 2
    assert "not enough memory to load the data" in result.output
    assert "applied afterwards, so they do not lower the memory needed" in result.output
    assert "use --set max_train_samples" not in result.output


def test_a_long_recipe_name_gives_a_short_directory_name(tmp_path: Path) -> None:
    long_a, long_b = "r" * 400, "r" * 399 + "s"
    assert len(safe_name(long_a)) <= 80 and safe_name(long_a) != safe_name(long_b)
    assert safe_name("mnist-mlp") == "mnist-mlp"
    directory = create_run_dir(tmp_path, long_a)
    assert directory.is_dir() and len(directory.name) < 120 and directory.name.startswith("r" * 60)


@pytest.mark.slow
def test_a_run_with_a_400_character_recipe_name_completes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "r" * 400
    (tmp_path / "registry.toml").write_text(
        f'[runs.{name}]\ndataset = "mnist"\narchitecture = "mlp"\noptimizer = "adam"\n'
        'loss = "sparse-categorical-crossentropy"\nexporters = ["tflite"]\nepochs = 1\n'
        "max_train_samples = 300\nmax_test_samples = 100\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("run", name, "--runs-dir", str(tmp_path / "runs"), "--quiet")
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert manifest(run_dir)["recipe"] == name and manifest(run_dir)["status"] == "completed"
    assert [Path(e["path"]).name for e in manifest(run_dir)["exports"]] == [f"{safe_name(name)}-float32.tflite"]


# -- item 15: a disk that fills up mid-run, --out FILE, a hostile model.keras -------------------


@pytest.mark.slow
def test_a_full_disk_still_records_failed_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up: the checkpoint write fails, and so does every manifest write until space is freed."""
    import zoo_core.runs.checkpoint as checkpoint
    import zoo_core.runs.manifest as manifest_module

    full = {"now": False}
    real_weights, real_json = checkpoint.write_weights_npz, manifest_module.write_json_atomic

    def fills_up(path: Path, snapshots: list) -> None:
        if "0002" in path.name:
            full["now"] = True
            raise OSError(errno.ENOSPC, "No space left on device")
        real_weights(path, snapshots)

    def needs_space(path: Path, data: Any) -> Path:
        if full["now"] and (path.parent / RESERVE_FILE).exists():  # nothing was freed: no room for a new file
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_json(path, data)

    monkeypatch.setattr(checkpoint, "write_weights_npz", fills_up)
    monkeypatch.setattr(manifest_module, "write_json_atomic", needs_space)
    result = invoke("run", "mnist-mlp", "--runs-dir", str(tmp_path), *TINY)
    assert result.exit_code == 1
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    record = manifest(run_dir)
    assert record["status"] == "failed" and "no space left on the device" in record["error"]
    assert Run(run_dir).status() == "failed"  # not 'interrupted'
    assert not (run_dir / RESERVE_FILE).exists() and not (run_dir / LOCK_FILE).exists()


def test_the_manifest_reserve_makes_room_only_when_needed(tmp_path: Path) -> None:
    record = Manifest(tmp_path / "manifest.json", {"status": "running"}, reserve=True)
    assert (tmp_path / RESERVE_FILE).stat().st_size == 1 << 20
    assert record.record(status="failed") and (tmp_path / RESERVE_FILE).exists()  # room enough: kept
    assert record.free_reserve() and not (tmp_path / RESERVE_FILE).exists()
    assert not record.free_reserve()


@pytest.mark.slow
def test_export_out_pointing_at_a_file_is_a_usage_mistake(finished: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for out, message in ((blocker, "is a file, not a folder"), (blocker / "sub", f"is under '{blocker}'")):
        result = invoke("export", str(finished), "-f", "tflite", "--out", str(out))
        assert result.exit_code == 2
        assert f"--out '{out}' {message}" in result.output
    assert blocker.read_text() == "not a folder"


def hostile_models(folder: Path) -> dict[str, Path]:
    """A model.keras that is not a zip, one with code in it, and one with 3 classes for 10-class MNIST."""
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    garbage = folder / "garbage.keras"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    code = folder / "code.keras"
    keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Lambda(lambda x: x * 2),
                      keras.layers.Dense(10, activation="softmax")]).save(code)
    classes = folder / "classes.keras"
    keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                      keras.layers.Dense(3, activation="softmax")]).save(classes)
    return {"garbage": garbage, "code": code, "classes": classes}


@pytest.mark.slow
def test_a_hostile_model_keras_exits_2_from_evaluate_export_and_predict(finished: Path, tmp_path: Path) -> None:
    models = hostile_models(tmp_path / "models")
    sample = tmp_path / "digit.npy"
    np.save(sample, np.zeros((28, 28), np.float32))
    for kind, model in models.items():
        run_dir = copy_run(finished, tmp_path / kind)
        shutil.copyfile(model, run_dir / "model.keras")
        before = snapshot_files(run_dir)
        commands = [["evaluate", str(run_dir)], ["export", str(run_dir), "-f", "tflite"]]
        if kind != "classes":  # predict on a wrong class count is another part of the issue (item 8)
            commands.append(["predict", str(run_dir), str(sample)])
        for command in commands:
            result = invoke(*command)
            assert result.exit_code == 2, (kind, command, result.output)
            assert f"'{run_dir / 'model.keras'}'" in result.output
        assert snapshot_files(run_dir) == before
        assert not list((run_dir / "exports").glob("*")) if (run_dir / "exports").exists() else True
