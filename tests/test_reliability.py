"""Reliability: killed runs resume, Ctrl-C and SIGTERM stop cleanly, NaN stops a run, simultaneous
runs stay apart, an unwritable or full disk is a clear error, and nothing is left half-written.

The signal tests run the real ``zoo`` console script in a subprocess on a small MNIST slice
(6,000 training images at batch 32, about a quarter second per epoch), watch manifest.json
until two epochs are committed and then send the signal, so that it lands in epoch 3 of 5.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from zoo_core.cli import app
from zoo_core.runs import LOCK_FILE, Run, RunBusy, RunLock, RunNotFound, find_run, list_runs

from conftest import subprocess_env

ZOO = str(Path(sys.executable).with_name("zoo"))
#: Big enough that accuracy means something (about 0.9 after 5 epochs), small enough to be quick.
SLICE = ["--set", "max_train_samples=6000", "--set", "max_test_samples=2000", "--set", "batch_size=32",
         "--set", "epochs=5", "--set", "exporters=[]", "--set", "progress=lines"]
#: The smallest real run: for tests about files and statuses, not accuracy.
TINY = ["--set", "max_train_samples=600", "--set", "max_test_samples=200", "--set", "epochs=2",
        "--set", "exporters=[]", "--quiet"]


def tiny(**settings: Any) -> list[str]:
    """TINY with some settings replaced, e.g. tiny(epochs=3, exporters='["savedmodel"]')."""
    values = dict(item.split("=", 1) for item in TINY[1::2] if "=" in item)
    values.update({key: str(value) for key, value in settings.items()})
    return [part for key, value in values.items() for part in ("--set", f"{key}={value}")] + ["--quiet"]
TIMEOUT = 180


# -- helpers ------------------------------------------------------------------------------


def zoo(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ZOO, *args], capture_output=True, text=True, timeout=timeout, env=subprocess_env())


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([ZOO, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=subprocess_env())


def manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "manifest.json").read_text())


def wait_for_epochs(process: subprocess.Popen[str], root: Path, epochs: int, timeout: float = TIMEOUT) -> Path:
    """Poll until the run under ``root`` has committed ``epochs`` epochs; return its directory."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in root.glob("*/manifest.json"):
            try:
                if json.loads(path.read_text()).get("epochs_done", 0) >= epochs:
                    return path.parent
            except ValueError:
                pytest.fail(f"{path} was read half-written")
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"zoo exited with {process.returncode} before epoch {epochs}:\n{out}\n{err}")
        time.sleep(0.01)
    process.kill()
    pytest.fail(f"no epoch {epochs} within {timeout} s")


def history_epochs(run_dir: Path) -> list[int]:
    with open(run_dir / "history.csv", newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def assert_clean(result: Any) -> None:
    """No traceback and no temporary file anywhere."""
    text = (result.stdout or "") + (result.stderr or "")
    assert "Traceback" not in text, text


def leftovers(directory: Path) -> list[str]:
    return [str(p.relative_to(directory)) for p in directory.rglob("*") if ".tmp" in p.name]


def history_but_seconds(run_dir: Path) -> list[dict[str, str]]:
    """history.csv as written (text, every digit), without the wall-time column."""
    with open(run_dir / "history.csv", newline="") as handle:
        return [{key: value for key, value in row.items() if key != "seconds"} for row in csv.DictReader(handle)]


def assert_same_results(run_dir: Path, reference: Path) -> None:
    """metrics.json identical, and every history.csv column but ``seconds``, to the last digit."""
    assert (json.loads((run_dir / "metrics.json").read_text())
            == json.loads((reference / "metrics.json").read_text())), f"{run_dir.name} vs {reference.name}"
    assert history_but_seconds(run_dir) == history_but_seconds(reference)


# -- kill, interrupt, resume ---------------------------------------------------------------


@pytest.fixture(scope="module")
def simultaneous(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Two runs of the same recipe started at the same moment (also the uninterrupted reference)."""
    root = tmp_path_factory.mktemp("simultaneous")
    processes = [start("run", "mnist-mlp", "--runs-dir", str(root), *SLICE, "--quiet") for _ in range(2)]
    results = [p.communicate(timeout=TIMEOUT) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], results
    return root, sorted(p for p in root.iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def uninterrupted(simultaneous: tuple[Path, list[Path]]) -> Path:
    return simultaneous[1][0]


def interrupt_in_epoch_3(root: Path, sig: int) -> tuple[Path, subprocess.CompletedProcess[str]]:
    process = start("run", "mnist-mlp", "--runs-dir", str(root), *SLICE)
    run_dir = wait_for_epochs(process, root, 2)
    process.send_signal(sig)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"zoo did not stop within 60 s of {signal.Signals(sig).name}")
    return run_dir, subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.slow
def test_sigkill_in_epoch_3_then_resume_completes_like_an_uninterrupted_run(tmp_path: Path,
                                                                         uninterrupted: Path) -> None:
    run_dir, result = interrupt_in_epoch_3(tmp_path, signal.SIGKILL)
    assert result.returncode == -signal.SIGKILL
    assert manifest(run_dir)["status"] == "running"  # as the killed process left it ...
    assert Run(run_dir).status() == "interrupted"  # ... but nobody holds its lock: it reads as interrupted
    assert 2 <= json.loads((run_dir / "checkpoint" / "state.json").read_text())["epochs_done"] < 5
    assert not (run_dir / "model.keras").exists()

    listing = zoo("runs", "--runs-dir", str(tmp_path))
    assert listing.returncode == 0
    assert "interrupted" in listing.stdout and f"zoo resume {run_dir.name}" in listing.stdout
    rows = json.loads(zoo("runs", "--runs-dir", str(tmp_path), "--json").stdout)
    assert rows[0]["status"] == "interrupted" and rows[0]["resume"] == f"zoo resume {run_dir}"

    resumed = zoo("run", "--resume", run_dir.name, "--runs-dir", str(tmp_path))
    assert resumed.returncode == 0, resumed.stderr
    assert_clean(resumed)
    record = manifest(run_dir)
    assert record["status"] == "completed" and record["epochs_done"] == 5
    assert record["resumed"][0]["epochs_done"] >= 2
    assert history_epochs(run_dir) == [1, 2, 3, 4, 5]
    assert_same_results(run_dir, uninterrupted)  # same batches, same dropout masks: the same run
    assert leftovers(run_dir) == []


@pytest.mark.slow
def test_sigint_exits_130_saves_a_checkpoint_and_resumes(tmp_path: Path, uninterrupted: Path) -> None:
    run_dir, result = interrupt_in_epoch_3(tmp_path, signal.SIGINT)
    assert result.returncode == 130, result.stderr
    assert_clean(result)
    assert "interrupted (Ctrl-C)" in result.stderr and f"zoo resume {run_dir}" in result.stderr
    record = manifest(run_dir)
    assert record["status"] == "interrupted" and record["error"] == "interrupted (Ctrl-C)"
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert state["epochs_done"] == record["epochs_done"] >= 2
    assert (run_dir / "checkpoint" / state["model"]).is_file()
    assert history_epochs(run_dir) == list(range(1, state["epochs_done"] + 1))
    assert leftovers(run_dir) == []

    # 'zoo resume RECIPE' means the recipe's latest interrupted (or failed) run. (In-process, to save
    # a TensorFlow start-up; the SIGKILL test resumes in a fresh process.)
    assert find_run("mnist-mlp", tmp_path, statuses=("interrupted", "failed")).dir == run_dir
    resumed = CliRunner().invoke(app, ["resume", "mnist-mlp", "--runs-dir", str(tmp_path), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert manifest(run_dir)["status"] == "completed"
    assert history_epochs(run_dir) == [1, 2, 3, 4, 5]
    assert_same_results(run_dir, uninterrupted)

    again = zoo("resume", run_dir.name, "--runs-dir", str(tmp_path))
    assert again.returncode == 2 and "already completed; nothing to resume" in again.stderr
    assert_clean(again)


@pytest.mark.slow
def test_sigterm_is_the_same_clean_stop(tmp_path: Path) -> None:
    run_dir, result = interrupt_in_epoch_3(tmp_path, signal.SIGTERM)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert_clean(result)
    record = manifest(run_dir)
    assert record["status"] == "interrupted" and "SIGTERM" in record["error"]
    assert json.loads((run_dir / "checkpoint" / "state.json").read_text())["epochs_done"] >= 2
    assert leftovers(run_dir) == []


# -- NaN ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_diverging_run_stops_within_one_epoch_as_failed(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(tmp_path), *tiny(epochs=3),
                                      "--set", "optimizer=sgd", "--set", "optimizer.learning_rate=1e6"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = " ".join(result.output.split())
    assert "Traceback" not in text
    assert "loss became nan in epoch 1" in text
    assert "learning rate too high" in text and "learning_rate=1000000.0" in text
    (run_dir,) = list(tmp_path.iterdir())
    record = manifest(run_dir)
    assert record["status"] == "failed" and "loss became nan" in record["error"]
    assert record["epochs_done"] == 0
    assert not (run_dir / "model.keras").exists()


# -- concurrency ------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_runs_started_together_get_two_intact_directories(simultaneous: tuple[Path, list[Path]]) -> None:
    root, runs = simultaneous
    assert len(runs) == 2
    pids = set()
    for run_dir in runs:
        record = manifest(run_dir)
        assert record["status"] == "completed" and record["run_id"] == run_dir.name
        pids.add(record["pid"])
        assert history_epochs(run_dir) == [1, 2, 3, 4, 5]
        assert (run_dir / "model.keras").stat().st_size > 0
        json.loads((run_dir / "metrics.json").read_text())
        assert leftovers(run_dir) == []
    assert len(pids) == 2
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no write probes left
    assert_same_results(runs[0], runs[1])  # same seed, same result, to the last digit


def test_a_locked_run_is_running_and_cannot_be_resumed_twice(tmp_path: Path) -> None:
    run_dir = tmp_path / "mnist-mlp-20260101-000000-abcdef"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text(json.dumps({"status": "running", "pid": 999999999, "host": "elsewhere"}))
    (run_dir / "config.toml").write_text("")
    with RunLock(run_dir).acquire():
        assert Run(run_dir).status() == "running"  # the lock wins over an unknown host
        with pytest.raises(RunBusy, match="another zoo process"):
            RunLock(run_dir).acquire("resume")
    assert Run(run_dir).status() == "interrupted"  # lock released: its process is gone
    (run_dir / LOCK_FILE).unlink()
    assert Run(run_dir).status() == "running"  # no lock file, another host: trust the record


def finished_run_dir(tmp_path: Path, status: str = "completed") -> Path:
    run_dir = tmp_path / "mnist-mlp-20260101-000000-abcdef"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text(json.dumps({"status": status, "pid": os.getpid(), "host": "here"}))
    (run_dir / "config.toml").write_text("")
    return run_dir


def test_the_lock_file_goes_when_the_run_is_no_longer_running(tmp_path: Path) -> None:
    run_dir = finished_run_dir(tmp_path)
    with RunLock(run_dir).acquire("export"):
        assert (run_dir / LOCK_FILE).is_file()
        with pytest.raises(RunBusy, match="another zoo process"):  # an export and a second export: one waits
            RunLock(run_dir).acquire("export")
    assert not (run_dir / LOCK_FILE).exists() and Run(run_dir).status() == "completed"
    lock = RunLock(run_dir).acquire("export")  # and the next one takes it afresh
    lock.release()
    assert not (run_dir / LOCK_FILE).exists()


def test_a_running_run_keeps_its_lock_file_as_proof_of_life(tmp_path: Path) -> None:
    run_dir = finished_run_dir(tmp_path, status="running")
    RunLock(run_dir).acquire("resume").release()  # e.g. a resume that failed before it started
    assert (run_dir / LOCK_FILE).is_file() and Run(run_dir).status() == "interrupted"


def test_a_lock_on_a_file_that_was_removed_meanwhile_is_taken_again(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The race of a process opening .lock just before its holder removes it: both must not hold the lock."""
    run_dir = finished_run_dir(tmp_path)
    holder = RunLock(run_dir).acquire("export")
    stale = os.open(run_dir / LOCK_FILE, os.O_RDWR)  # opened before the holder finishes
    holder.release()  # removes the file
    opened: list[int] = []
    real_open = RunLock._open

    def open_stale_first(self: RunLock, path: Path, what: str) -> int:
        opened.append(1)
        return stale if len(opened) == 1 else real_open(self, path, what)

    monkeypatch.setattr(RunLock, "_open", open_stale_first)
    lock = RunLock(run_dir).acquire("export")
    assert len(opened) == 2 and (run_dir / LOCK_FILE).is_file()  # it noticed and locked the file in place
    monkeypatch.undo()
    with pytest.raises(RunBusy):
        RunLock(run_dir).acquire("resume")
    lock.release()


@pytest.mark.slow
def test_a_finished_run_has_no_lock_file(simultaneous: tuple[Path, list[Path]]) -> None:
    """The two runs of ``simultaneous``, each finished by its own ``zoo`` process."""
    root, runs = simultaneous
    for run_dir in runs:
        assert manifest(run_dir)["status"] == "completed" and not (run_dir / LOCK_FILE).exists()
    assert [run.status() for run in list_runs(root)] == ["completed", "completed"]


# -- unwritable root, full disk ------------------------------------------------------------


def test_runs_root_under_a_file_is_a_clear_error_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    started = time.monotonic()
    result = zoo("run", "mnist-mlp", "--runs-dir", str(blocker / "sub"), *TINY)
    assert result.returncode == 1
    assert_clean(result)
    assert f"cannot write to the runs root '{blocker / 'sub'}'" in result.stderr
    assert "--runs-dir" in result.stderr
    assert time.monotonic() - started < 20  # before TensorFlow or the data are loaded
    assert "epoch" not in result.stderr


def test_full_disk_at_the_start_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_core.runs.directory as runs

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs.os, "fsync", no_space)
    result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), *TINY])
    assert result.exit_code == 1
    assert "no space left on the device (the disk is full)" in result.output
    assert "free some disk space" in result.output
    assert "Traceback" not in result.output
    assert list((tmp_path / "runs").iterdir()) == []


@pytest.mark.slow
def test_too_little_free_space_is_refused_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import zoo_core.runs.directory as runs

    monkeypatch.setattr(runs.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 2**20, 2**20))
    result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(tmp_path), *TINY])
    assert result.exit_code == 1
    assert "not enough free disk space" in result.output and "1 MB free" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_disk_full_in_the_middle_fails_cleanly_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_core.runs.checkpoint as checkpoint

    real = checkpoint.write_weights_npz

    def fills_up(path: Path, snapshots: list) -> None:
        if "0002" in path.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, snapshots)

    monkeypatch.setattr(checkpoint, "write_weights_npz", fills_up)
    result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(tmp_path), *tiny(epochs=3)])
    assert result.exit_code == 1, result.output
    assert "no space left on the device" in result.output and "zoo resume" in result.output
    assert "Traceback" not in result.output
    (run_dir,) = list(tmp_path.iterdir())
    record = manifest(run_dir)
    assert record["status"] == "failed" and "no space left" in record["error"]
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert state["epochs_done"] == 1 and (run_dir / "checkpoint" / state["model"]).is_file()
    assert leftovers(run_dir) == []

    monkeypatch.setattr(checkpoint, "write_weights_npz", real)  # space freed
    resumed = CliRunner().invoke(app, ["resume", str(run_dir), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert manifest(run_dir)["status"] == "completed" and history_epochs(run_dir) == [1, 2, 3]


# -- failures after training leave a consistent run ---------------------------------------------


@pytest.mark.slow
def test_a_crashing_exporter_and_failing_plots_are_recorded_not_lost(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_core.export.savedmodel_io as savedmodel
    import zoo_core.reporting.plots as plots

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated exporter bug")

    def no_plots(*args: Any, **kwargs: Any) -> None:
        raise ValueError("simulated plotting bug")

    monkeypatch.setattr(savedmodel, "write_savedmodel", crash)
    monkeypatch.setattr(plots, "write_plots", no_plots)
    result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(tmp_path),
                                      *tiny(exporters='["savedmodel"]')])
    assert result.exit_code == 1
    assert "1 export(s) failed" in result.output and "simulated exporter bug" in result.output
    assert "Traceback" not in result.output
    (run_dir,) = list(tmp_path.iterdir())
    record = manifest(run_dir)
    assert record["status"] == "completed"
    assert record["exports"][0]["status"] == "failed" and "simulated exporter bug" in record["exports"][0]["message"]
    assert record["problems"] == ["plots: ValueError: simulated plotting bug"]
    for name in ("model.keras", "metrics.json", "history.csv", "report.md"):
        assert (run_dir / name).is_file(), name
    assert not any((run_dir / "exports").rglob("*")) if (run_dir / "exports").exists() else True
    assert leftovers(run_dir) == []


# -- the checkpoint commit ------------------------------------------------------------------------


def test_a_checkpoint_interrupted_while_written_keeps_the_previous_one(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    import zoo_core.runs.checkpoint as checkpoint
    import zoo_core.training.checkpointing as cb

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    rows = [{"epoch": 1, "loss": 1.0}]
    cb.save_checkpoint(tmp_path, model, 1, rows, [])

    def killed(path: Path, data: Any) -> None:
        raise KeyboardInterrupt  # a stop just before the commit point

    monkeypatch.setattr(checkpoint, "write_json_atomic", killed)
    with pytest.raises(KeyboardInterrupt):
        cb.save_checkpoint(tmp_path, model, 2, rows + [{"epoch": 2, "loss": 0.5}], [])
    state = checkpoint.read_checkpoint(tmp_path)
    assert state is not None and state["epochs_done"] == 1
    assert (tmp_path / state["model"]).is_file() and (tmp_path / state["weights"]).is_file()
    assert leftovers(tmp_path) == []


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    import zoo_core.runs.checkpoint as cb

    (tmp_path / "state.json").write_text('{"epochs_done": 2, "history": [{}, {}], "model": "model-0002.keras"}')
    with pytest.raises(ValueError, match="names the model file 'model-0002.keras', which is missing"):
        cb.read_checkpoint(tmp_path)
    (tmp_path / "state.json").write_text('{"epochs_do')
    with pytest.raises(ValueError, match="unreadable"):
        cb.read_checkpoint(tmp_path)


# -- run references stay inside the runs root ---------------------------------------------------


def test_run_references_cannot_escape_the_runs_root(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "config.toml").write_text("")
    (root / "link").symlink_to(outside)
    for reference in ("link", "..", "/", "/etc", "../../etc", "a/../..", "./../runs", "", "x\x00y"):
        with pytest.raises(RunNotFound) as error:
            find_run(reference, root)
        assert error.value.exit_code == 2
    assert list_runs(root) == []  # the symlink out of the root is not a run of this root
    # A path is taken only when it is itself a run directory, and a service can refuse paths altogether.
    assert find_run(str(outside), root).dir == outside
    with pytest.raises(RunNotFound, match="give a run id"):
        find_run(str(outside), root, allow_paths=False)


# -- safe by default ------------------------------------------------------------------------------

SOURCES = [p for folder in ("zoo_core", "plugins") for p in (Path(__file__).resolve().parents[1] / folder).rglob("*.py")]


def test_models_and_arrays_are_only_loaded_safely() -> None:
    import re

    for path in SOURCES:
        text = path.read_text()
        for call in re.finditer(r"load_model\(", text):
            statement = text[call.start(): text.find(")", call.start()) + 1]
            assert "safe_mode=True" in statement, f"{path}: {statement}"
        for banned in ("safe_mode=False", "allow_pickle=True", "pickle.load", "yaml.load", "eval(", "exec("):
            # _util/signature.py resolves a plugin's own string annotations (as typing.get_type_hints does):
            # code the plugin ships, never configuration or user input
            allowed = path.name == "signature.py" and banned == "eval(" and text.count("eval(") == 1
            assert banned not in text or allowed, f"{path} uses {banned}"


def test_nothing_in_the_working_directory_is_imported(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    payload = f"open({str(marker)!r}, 'w').write('x')\n"
    for name in ("zoo_plugins_evil.py", "sitecustomize.py", "zoo_core.py", "mnist.py", "plugins.py"):
        (tmp_path / name).write_text(payload)
    (tmp_path / "registry.toml").write_text('[architectures.evil]\ncomponent = "zoo_plugins_evil:thing"\n')
    result = subprocess.run([ZOO, "list", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env=subprocess_env())
    assert result.returncode == 0, result.stderr  # the entry is kept as unavailable, with the reason
    [evil] = [row for row in json.loads(result.stdout) if row["name"] == "evil"]
    assert evil["unavailable"] == "unknown architecture 'zoo_plugins_evil:thing' (no plugin 'zoo_plugins_evil' is installed)"
    result = subprocess.run([ZOO, "show", "evil"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env=subprocess_env())
    assert result.returncode == 2 and "unknown architecture 'zoo_plugins_evil:thing'" in result.stderr
    assert not marker.exists()


@pytest.mark.slow
def test_a_model_file_with_code_in_it_is_refused(tmp_path: Path) -> None:
    import keras

    marker = tmp_path / "ran"
    where = str(marker)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Lambda(lambda x: (open(where, "w"), x)[1]),
                              keras.layers.Dense(10, activation="softmax")])
    marker.unlink(missing_ok=True)  # building the model ran the lambda once
    run_dir = tmp_path / "runs" / "evil"
    run_dir.mkdir(parents=True)
    model.save(run_dir / "model.keras")
    (run_dir / "manifest.json").write_text(json.dumps({"status": "completed", "recipe": "mnist-mlp"}))
    import numpy as np

    np.save(run_dir / "input.npy", np.zeros((28, 28), np.float32))
    result = CliRunner().invoke(app, ["predict", "evil", str(run_dir / "input.npy"), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output  # a model that is not usable: exit 2, as zoo evaluate and zoo export
    assert "cannot be loaded" in result.output and "Traceback" not in result.output
    assert not marker.exists()
