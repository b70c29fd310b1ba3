"""zoo sweep end to end on small MNIST slices: trials are ordinary runs, the best config repeats its trial,
pruned and failed trials are recorded as such, two processes split one study, and a killed sweep continues."""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from conftest import run_cli, subprocess_env, zoo_executable

optuna = pytest.importorskip("optuna")

pytestmark = pytest.mark.slow

SLICE = 'max_train_samples = 1000, max_test_samples = 500, "architecture.hidden" = [16], exporters = []'


def registry(folder: Path, text: str) -> None:
    (folder / "registry.toml").write_text(textwrap.dedent(text), encoding="utf-8")


def study_of(root: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{root / 'sweeps' / 'sweeps.db'}")


def states(study: optuna.Study) -> list[str]:
    return [trial.state.name for trial in sorted(study.trials, key=lambda t: t.number)]


def manifest(root: Path, run: str) -> dict:
    return json.loads((root / run / "manifest.json").read_text(encoding="utf-8"))


def test_a_sweep_over_architecture_and_learning_rate_ends_with_a_best_config_that_repeats(in_tmp_cwd: Path) -> None:
    registry(in_tmp_cwd, f"""
        [sweeps.arch-lr]
        run = "mnist-mlp"
        trials = 3
        sampler = "random"
        seed = 1
        set = {{ epochs = 2, {SLICE} }}
        [sweeps.arch-lr.space]
        architecture = ["mlp-128-64-10", "mlp"]
        "optimizer.learning_rate" = {{ low = 1e-3, high = 1e-2, log = true }}
    """)
    root = in_tmp_cwd / "runs"
    result = run_cli("sweep", "arch-lr", "--runs-dir", str(root))
    assert result.exit_code == 0, result.output
    study = study_of(root, "arch-lr")
    assert states(study) == ["COMPLETE"] * 3
    assert "3 of 3 trial(s) finished (done); 0 failed" in result.stdout
    assert result.stdout.count(" complete ") >= 6  # a line per trial, then the table

    # every trial is an ordinary run that records its sweep and trial number; zoo runs shows them
    runs = {trial.number: trial.user_attrs["run"] for trial in study.trials}
    assert len(set(runs.values())) == 3
    for number, run in runs.items():
        record = manifest(root, run)
        assert record["status"] == "completed"
        assert record["sweep"]["name"] == "arch-lr" and record["sweep"]["trial"] == number
        lr = record["components"][2]["params"]["learning_rate"]
        assert lr == pytest.approx(study.trials[number].params["optimizer.learning_rate"])
    listed = json.loads(run_cli("runs", "--runs-dir", str(root), "--json").stdout)
    assert sorted(row["sweep"] for row in listed) == ["arch-lr#0", "arch-lr#1", "arch-lr#2"]

    folder = root / "sweeps" / "arch-lr"
    for plot in ("history.png", "importances.png", "parallel.png"):
        assert (folder / plot).stat().st_size > 10_000, plot
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert f"run `{study.best_trial.user_attrs['run']}`" in report and "![Parameter importances]" in report

    # best.toml repeats the best trial to the same metrics
    best = study.best_trial
    repeated = run_cli("run", "--config", str(folder / "best.toml"), "--runs-dir", str(root / "again"), "--quiet")
    assert repeated.exit_code == 0, repeated.output
    [again] = list((root / "again").iterdir())
    original = json.loads((root / best.user_attrs["run"] / "metrics.json").read_text())
    assert json.loads((again / "metrics.json").read_text()) == original
    assert manifest(root / "again", again.name)["metrics"]["accuracy"] == original["accuracy"]


def test_pruned_and_failed_trials_are_recorded_and_the_sweep_goes_on(in_tmp_cwd: Path) -> None:
    # the grid's order: (sgd, 0.05) completes; (sgd, 1e-7) is far behind after epoch 1: pruned;
    # adam has no momentum: both its points fail with that reason, and the sweep still ends normally
    registry(in_tmp_cwd, f"""
        [sweeps.faults]
        run = "mnist-mlp"
        sampler = "grid"
        seed = 4                        # the grid's order, drawn from the seed
        pruner = {{ kind = "median", startup_trials = 1 }}
        set = {{ epochs = 3, {SLICE} }}
        [sweeps.faults.space]
        optimizer = ["sgd", "adam"]
        "optimizer.learning_rate" = [0.05, 1e-7]
        "optimizer.momentum" = [0.0]
    """)
    root = in_tmp_cwd / "runs"
    result = run_cli("sweep", "faults", "--runs-dir", str(root))
    assert result.exit_code == 0, result.output
    study = study_of(root, "faults")
    assert states(study) == ["COMPLETE", "PRUNED", "FAIL", "FAIL"]
    pruned = study.trials[1]
    assert pruned.params == {"optimizer": "sgd", "optimizer.learning_rate": 1e-7, "optimizer.momentum": 0.0}
    assert manifest(root, pruned.user_attrs["run"])["status"] == "pruned"
    assert "pruned after epoch" in pruned.user_attrs["pruned"]
    for failed in study.trials[2:]:
        assert "momentum" in failed.user_attrs["error"] and "run" not in failed.user_attrs  # failed before a run
    rows = {row["sweep"]: row for row in json.loads(run_cli("runs", "--runs-dir", str(root), "--json").stdout)}
    assert rows["faults#1"]["status"] == "pruned" and rows["faults#0"]["status"] == "completed"
    assert "trial 1 pruned" in result.stdout and "trial 2 fail" in result.stdout
    assert (root / "sweeps" / "faults" / "best.toml").is_file()


def _start(cwd: Path, root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([zoo_executable(), "sweep", "shared", "--runs-dir", str(root), *args], cwd=cwd,
                            env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


SHARED = f"""
    [sweeps.shared]
    run = "mnist-mlp"
    trials = 4
    sampler = "random"
    set = {{ epochs = 2, {SLICE} }}
    [sweeps.shared.space]
    "optimizer.learning_rate" = {{ low = 1e-3, high = 1e-2, log = true }}
"""


def test_two_processes_split_one_study_without_losing_or_repeating_a_trial(tmp_path: Path) -> None:
    registry(tmp_path, SHARED)
    root = tmp_path / "runs"
    (root / "sweeps").mkdir(parents=True)
    processes = [_start(tmp_path, root), _start(tmp_path, root)]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err
    study = study_of(root, "shared")
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 4  # the target, counted over both processes
    assert all(str(t.user_attrs.get("error")).startswith("not needed") for t in study.trials if t not in complete)
    assert len({t.user_attrs["run"] for t in complete}) == 4 and len({t.number for t in complete}) == 4
    assert len({t.user_attrs["pid"] for t in complete}) == 2  # both processes did some of the work
    assert all(" complete " in out for out, _ in outputs)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_sweep_continues_and_counts_the_killed_trial_once(tmp_path: Path, signum: int,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    registry(tmp_path, SHARED.replace("trials = 4", "trials = 2").replace("epochs = 2", "epochs = 40"))
    root = tmp_path / "runs"
    first = _start(tmp_path, root)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until trial 0 trains, then kill the process without warning
        runs = [p for p in root.glob("mnist-mlp-*/manifest.json")]
        if runs and json.loads(runs[0].read_text()).get("epochs_done", 0) >= 1:
            break
        time.sleep(0.05)
    first.send_signal(signum)  # SIGKILL: no warning at all; SIGTERM: the run stops at a safe point
    first.communicate(timeout=60)
    killed_run = runs[0].parent.name
    assert first.returncode == (-signal.SIGKILL if signum == signal.SIGKILL else 143)
    assert states(study_of(root, "shared")) == (["RUNNING"] if signum == signal.SIGKILL else ["FAIL", "WAITING"])

    # --set for every trial: the study goes on (in-process: the killed process is what the test is about)
    monkeypatch.chdir(tmp_path)
    second = run_cli("sweep", "shared", "--runs-dir", str(root), "--set", "epochs=2")
    assert second.exit_code == 0, second.output
    out = second.stdout
    study = study_of(root, "shared")
    assert states(study) == ["FAIL", "COMPLETE", "COMPLETE"]  # the killed one failed, queued again, counted once
    killed, retried = study.trials[0], study.trials[1]
    assert ("died" if signum == signal.SIGKILL else "interrupted (SIGTERM)") in killed.user_attrs["error"]
    assert retried.params == killed.params and retried.user_attrs["run"] != killed_run
    rows = {row["id"]: row for row in json.loads(run_cli("runs", "--runs-dir", str(root), "--json").stdout)}
    assert rows[killed_run]["status"] == "interrupted" and rows[killed_run]["sweep"] == "shared#0"
    assert "2 of 2 trial(s) finished (done)" in out
