"""Callbacks, the sixth kind of component: in runs and registry files, under --set, in zoo list and show; the
built-ins (early stopping, the cosine schedule) train as they say and resume; a third-party callback (the
guide's, from --plugins-dir) registers, passes the kit and runs."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import Result

from conftest import run_cli, subprocess_env
from zoo_core.errors import ConfigError
from zoo_core.plugins import Catalog, load_catalog
from zoo_core.registry import load_registry

ROOT = Path(__file__).resolve().parent.parent
ZOO = str(Path(sys.executable).with_name("zoo"))
TINY = ["--set", "max_train_samples=600", "--set", "max_test_samples=200", "--set", "exporters=[]",
        "--set", "progress=none"]


def registry_with(tmp_path: Path, text: str, catalog: Catalog | None = None) -> Any:
    (tmp_path / "registry.toml").write_text(text, encoding="utf-8")
    return load_registry(catalog or load_catalog(allowlist=[], warn=lambda line: None), cwd=tmp_path)


RECIPE = """
[runs.tracked]
dataset = "mnist"
architecture = "mlp"
optimizer = "adam"
loss = "sparse-categorical-crossentropy"
callbacks = ["early-stopping", { component = "cosine-warmup", warmup_epochs = 2 }]
"""


# -- the registry, --set, list and show ----------------------------------------------------------


def test_a_recipe_lists_callbacks_by_name_or_inline_table(tmp_path: Path) -> None:
    config = registry_with(tmp_path, RECIPE).run("tracked")
    assert [(c.ref, c.component.qualified_name) for c in config.callbacks] == [
        ("early-stopping", "callbacks:early-stopping"), ("cosine-warmup", "callbacks:cosine-warmup")]
    assert config.callbacks[0].params["patience"] == 3 and config.callbacks[1].params["warmup_epochs"] == 2
    table = config.to_dict()["callbacks"]
    assert table[1] == {"component": "callbacks:cosine-warmup", "warmup_epochs": 2, "min_lr": 0.0, "by": "epoch",
                        "learning_rate": 0.0}
    records = [(c.kind, c.ref) for c in config.choices()]
    assert ("callback", "early-stopping") in records and ("callback", "cosine-warmup") in records


def test_set_reaches_a_callback_s_parameters_and_swaps_the_list(tmp_path: Path) -> None:
    registry = registry_with(tmp_path, RECIPE)
    config = registry.resolve_recipe("tracked", ["callbacks.early-stopping.patience=7",
                                                 "callbacks.cosine-warmup.by=step"])
    assert config.callbacks[0].params["patience"] == 7 and config.callbacks[1].params["by"] == "step"
    swapped = registry.resolve_recipe("tracked", ['callbacks=["reduce-lr-on-plateau"]',
                                                  "callbacks.reduce-lr-on-plateau.factor=0.5"])
    assert [(c.ref, c.params["factor"]) for c in swapped.callbacks] == [("reduce-lr-on-plateau", 0.5)]
    with pytest.raises(ConfigError, match="this run has no callback 'early-stop'") as caught:
        registry.resolve_recipe("tracked", ["callbacks.early-stop.patience=3"])
    assert "did you mean 'early-stopping'?" in caught.value.hint
    with pytest.raises(ConfigError, match="patience"):
        registry.resolve_recipe("tracked", ["callbacks.early-stopping.patience=-1"])
    with pytest.raises(ConfigError, match="has no parameter 'patiense'") as caught:
        registry.resolve_recipe("tracked", ["callbacks.early-stopping.patiense=3"])
    assert "did you mean 'patience'?" in caught.value.hint
    with pytest.raises(ConfigError, match="say which callback"):
        registry.resolve_recipe("tracked", ["callbacks.patience=3"])


def test_callbacks_must_be_an_array_and_name_callbacks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'callbacks' must be an array of names") as caught:
        registry_with(tmp_path, RECIPE.replace('callbacks = ["early-stopping", { component = "cosine-warmup", '
                                               'warmup_epochs = 2 }]', 'callbacks = "early-stopping"'))
    assert "registry.toml:7" in str(caught.value)  # the line of callbacks =
    registry = registry_with(tmp_path, RECIPE.replace('"early-stopping"', '"mlp"'))
    assert "unknown callback 'mlp' (it is an architecture)" in registry.recipes["tracked"].unavailable


def test_the_tensorboard_setting_of_earlier_configs_becomes_the_callback(tmp_path: Path) -> None:
    registry = registry_with(tmp_path, RECIPE)
    table = {**registry.resolve_recipe("mnist-mlp").to_dict(), "tensorboard": True}
    table.pop("callbacks")  # a config.toml from before callbacks existed
    config = registry.run_from_table(table, "mnist-mlp", "config.toml")
    assert [c.component.qualified_name for c in config.callbacks] == ["callbacks:tensorboard"]
    assert config.settings["tensorboard"] is False and config.to_dict()["callbacks"][0]["update_freq"] == "epoch"
    again = registry.run_from_table({**table, "callbacks": ["tensorboard"]}, "mnist-mlp", "config.toml")
    assert len(again.callbacks) == 1  # not twice


def test_zoo_list_and_show_callbacks(in_tmp_cwd: Path) -> None:
    listed = run_cli("list", "callbacks", "--json")
    assert listed.exit_code == 0, listed.output
    assert [row["name"] for row in json.loads(listed.stdout)] == [
        "cosine-warmup", "early-stopping", "fine-tune", "mlflow", "reduce-lr-on-plateau", "tensorboard"]
    shown = json.loads(run_cli("show", "early-stopping", "--json").stdout)
    assert shown["kind"] == "callback" and shown["plugin"] == "callbacks"
    assert [(p["name"], p["default"]) for p in shown["parameters"]][:3] == [
        ("monitor", "val_loss"), ("patience", 3), ("min_delta", 0.0)]
    (in_tmp_cwd / "registry.toml").write_text(RECIPE, encoding="utf-8")
    run = run_cli("show", "tracked")
    assert run.exit_code == 0 and re.search(r"callback\s+early-stopping\s+monitor=\"val_loss\", patience=3", run.stdout)
    assert re.search(r"callback\s+cosine-warmup\s+warmup_epochs=2", run.stdout)


def test_the_cosine_schedule_s_rates() -> None:
    from zoo_plugins.callbacks._cosine_warmup import cosine_warmup_rate

    rates = [cosine_warmup_rate(n, 1, 5, 0.01, 0.0) for n in range(1, 6)]
    assert rates == pytest.approx([0.005, 0.01, 0.005 * (1 + math.cos(math.pi / 4)), 0.005,
                                   0.005 * (1 + math.cos(3 * math.pi / 4))])
    steps = [cosine_warmup_rate(n, 10, 40, 1.0, 0.1) for n in (1, 5, 10, 11, 40)]
    assert steps[:3] == pytest.approx([1 / 11, 5 / 11, 10 / 11]) and steps[3] == 1.0 and 0.1 < steps[4] < 0.11


def test_a_checkpoint_s_callback_state_is_checked(tmp_path: Path) -> None:
    from zoo_core.runs.checkpoint import commit_checkpoint, read_checkpoint

    def save(path: Path) -> None:
        path.write_bytes(b"model")

    commit_checkpoint(tmp_path, 0, save, [], [], 0, [], {"callbacks": {"early-stopping": {"wait": 1}}})
    assert read_checkpoint(tmp_path)["callbacks"] == {"early-stopping": {"wait": 1}}
    commit_checkpoint(tmp_path, 0, save, [], [], 0, [], {"callbacks": ["wait"]})
    with pytest.raises(ValueError, match="'callbacks' must map each callback to its state"):
        read_checkpoint(tmp_path)


@pytest.mark.slow
def test_a_callback_s_parameter_mistake_is_a_usage_error_before_any_work(tmp_path: Path) -> None:
    result = subprocess.run([ZOO, "run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), *TINY,
                             "--set", "validation_split=0", "--set", 'callbacks=["early-stopping"]'],
                            capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert result.returncode == 2, result.stderr
    assert "callback 'early-stopping' refuses its parameters: callback early-stopping: monitor 'val_loss' needs " \
           "validation data, but validation_split is 0" in result.stderr
    assert "--set callbacks.early-stopping.monitor=loss" in result.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


# -- training with them ------------------------------------------------------------------------


def zoo(*args: str, plugins_dir: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    extra = ["--plugins-dir", str(plugins_dir)] if plugins_dir else []
    return subprocess.run([ZOO, *extra, *args], capture_output=True, text=True, timeout=timeout, env=subprocess_env())


def only_run(root: Path) -> Path:
    runs = [p for p in root.iterdir() if p.is_dir() and (p / "manifest.json").exists()]
    assert len(runs) == 1, runs
    return runs[0]


def manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))


def history(run_dir: Path) -> list[dict[str, str]]:
    import csv

    with open(run_dir / "history.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


#: Never improves after epoch 1 (an improvement must be > 10 in val_loss): stops after 1 + patience epochs.
NEVER_IMPROVES = ["--set", 'callbacks=["early-stopping"]', "--set", "callbacks.early-stopping.min_delta=10.0"]


@pytest.fixture(scope="module")
def stopped_early(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    """One run of 6 epochs that early stopping (patience 1, never improving) ends after epoch 2, and its output.

    Trained in-process and read by the two tests below; the one that changes the run works on a copy of it."""
    root = tmp_path_factory.mktemp("stopped-early")
    result = run_cli("run", "mnist-mlp", "--runs-dir", str(root), *TINY, "--set", "epochs=6", *NEVER_IMPROVES,
                     "--set", "callbacks.early-stopping.patience=1")
    assert result.exit_code == 0, result.output
    return result, only_run(root)


@pytest.mark.slow
def test_early_stopping_stops_and_the_run_is_completed_and_says_why(
        stopped_early: tuple[Result, Path]) -> None:
    result, run_dir = stopped_early
    assert re.search(r"stopped early\s+after epoch 2 of 6 by early-stopping: val_loss did not improve", result.stdout)
    data = manifest(run_dir)
    assert data["status"] == "completed" and data["epochs_done"] == 2
    stopped = data["stopped_early"]
    assert (stopped["epoch"], stopped["epochs"], stopped["by"]) == (2, 6, "early-stopping")
    assert stopped["reason"].startswith("val_loss did not improve by more than 10 for 1 epochs (best ")
    assert stopped["reason"].endswith("at epoch 1); restored the weights of epoch 1")
    assert [row["epoch"] for row in history(run_dir)] == ["1", "2"]
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "Stopped early after epoch 2 of 6 by early-stopping: val_loss did not improve" in report
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text(encoding="utf-8"))
    assert state["epochs_done"] == 2 and state["stopped_early"] == stopped
    assert state["callbacks"]["early-stopping"]["best_epoch"] == 0
    # the run's model holds epoch 1's weights (the best), as saved beside the run
    import keras

    best = np.load(run_dir / "callbacks" / "early-stopping" / "best-epoch-0001.npz")
    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    assert all(np.array_equal(a, best[f"arr_{i}"]) for i, a in enumerate(model.get_weights()))
    again = zoo("resume", str(run_dir))
    assert again.returncode == 2 and "already completed" in again.stderr
    listed = zoo("runs", "--runs-dir", str(run_dir.parent))
    assert "completed" in listed.stdout and "interrupted" not in listed.stdout


@pytest.mark.slow
def test_a_run_killed_after_its_early_stop_resumes_to_completion_without_training(
        stopped_early: tuple[Result, Path], tmp_path: Path) -> None:
    run_dir = Path(shutil.copytree(stopped_early[1], tmp_path / stopped_early[1].name))  # the shared run stays as is
    assert manifest(run_dir)["status"] == "completed" and manifest(run_dir)["stopped_early"]["epoch"] == 2
    data = manifest(run_dir)
    data.update(status="interrupted", finished=None)  # as if killed while evaluating or exporting
    (run_dir / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    (run_dir / "metrics.json").unlink()
    resumed = run_cli("resume", str(run_dir))  # in-process: the kill is only simulated
    assert resumed.exit_code == 0, resumed.output
    after = manifest(run_dir)
    assert after["status"] == "completed" and after["epochs_done"] == 2 and after["stopped_early"]["epoch"] == 2
    assert len(history(run_dir)) == 2
    assert json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["accuracy"] == metrics["accuracy"]


KILLER = '''
"""A callback that kills its own process (SIGKILL) at the end of one epoch, before or after its checkpoint,
once per run (a marker file in the run directory remembers it)."""
import os
import signal
from typing import Any, Literal

from zoo_core import Component, hookimpl


def killer(context: Any, at: int = 2, when: Literal["before", "after"] = "after") -> Any:
    """Kill the process at the end of epoch `at`.

    Args:
        at: the epoch (from 1) whose end kills the process.
        when: before or after that epoch's checkpoint is committed.
    """
    import keras

    class Killer(keras.callbacks.Callback):
        zoo_after_checkpoint = when == "after"

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            marker = context.run_dir / f"killed-at-{at}-{when}"
            if epoch + 1 == at and not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)

    return Killer()


@hookimpl
def register_callbacks() -> list:
    return [Component("killer", killer)]
'''


def killer_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "killer.py").write_text(KILLER, encoding="utf-8")
    return folder


@pytest.mark.slow
def test_a_killed_run_resumes_with_its_early_stopping_state(tmp_path: Path) -> None:
    plugins = killer_dir(tmp_path)
    runs = tmp_path / "runs"
    # patience 2: without its saved wait (1 after epoch 2) the resumed run would stop at epoch 5, not 3
    result = zoo("run", "mnist-mlp", "--runs-dir", str(runs), *TINY, "--set", "epochs=8",
                 "--set", 'callbacks=["early-stopping", "killer"]', "--set", "callbacks.early-stopping.min_delta=10.0",
                 "--set", "callbacks.early-stopping.patience=2", plugins_dir=plugins)
    assert result.returncode == -9, result.stderr
    run_dir = only_run(runs)
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text(encoding="utf-8"))
    assert state["epochs_done"] == 2 and state["callbacks"]["early-stopping"]["wait"] == 1
    resumed = run_cli("--plugins-dir", str(plugins), "resume", str(run_dir))  # in-process, after the real kill
    assert resumed.exit_code == 0, resumed.output
    data = manifest(run_dir)
    assert data["status"] == "completed" and data["epochs_done"] == 3 and data["stopped_early"]["epoch"] == 3
    assert [row["epoch"] for row in history(run_dir)] == ["1", "2", "3"]


@pytest.mark.slow
def test_the_cosine_schedule_sets_each_epoch_s_rate_and_history_records_it(tmp_path: Path) -> None:
    result = run_cli("run", "mnist-mlp", "--runs-dir", str(tmp_path), *TINY, "--set", "epochs=4",
                     "--set", 'callbacks=["cosine-warmup"]', "--set", "callbacks.cosine-warmup.min_lr=0.0001")
    assert result.exit_code == 0, result.output
    rates = [float(row["learning_rate"]) for row in history(only_run(tmp_path))]
    peak, low = 0.001, 0.0001
    expected = [peak / 2, peak, low + (peak - low) * 0.75, low + (peak - low) * 0.25]  # cos(pi/3) = 0.5
    assert rates == pytest.approx(expected, rel=1e-6)


# -- a third-party callback: the guide's, exactly as written -------------------------------------------


def guide_callback(tmp_path: Path) -> Path:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    block = re.search(r"^```python\n(# my_callbacks\.py\n.*?)^```", text, flags=re.M | re.S)
    assert block, "docs/plugins.md has no '# my_callbacks.py' block"
    folder = tmp_path / "my_plugins"
    folder.mkdir()
    (folder / "my_callbacks.py").write_text(block.group(1), encoding="utf-8")
    return folder


def test_the_guide_s_callback_registers_from_a_plugins_dir(tmp_path: Path) -> None:
    folder = guide_callback(tmp_path)
    listed = zoo("list", "callbacks", "--json", plugins_dir=folder, timeout=60)
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "epoch-log")
    assert row["plugin"] == "my_callbacks" and row["kind"] == "callback"


@pytest.mark.slow
def test_the_guide_s_callback_passes_the_kit_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo_core.testing import assert_conforms

    folder = guide_callback(tmp_path)
    # in-process: test_the_guide_s_callback_registers_from_a_plugins_dir loads it in a zoo process
    wrong = run_cli("--plugins-dir", str(folder), "run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), *TINY,
                    "--set", 'callbacks=["epoch-log"]', "--set", "callbacks.epoch-log.file=../x")
    assert wrong.exit_code == 2 and "file must be a plain file name" in wrong.stderr
    catalog = load_catalog(plugins_dir=folder, allowlist=["my_callbacks"], strict=True)
    checks = {r.check: r.status for r in assert_conforms("callback", "my_callbacks:epoch-log", catalog=catalog)}
    assert checks["state_is_json"] == checks["resumes_from_state"] == checks["run_end_accepted"] == "passed"
    result = run_cli("--plugins-dir", str(folder), "run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), *TINY,
                     "--set", "epochs=2", "--set", 'callbacks=["epoch-log"]')
    assert result.exit_code == 0, result.output
    run_dir = only_run(tmp_path / "runs")
    lines = [json.loads(line) for line in (run_dir / "epoch-log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line.get("epoch") for line in lines] == [1, 2, None]
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert lines[-1] == {"status": "completed", "accuracy": metrics["accuracy"]}
    assert lines[0]["val_loss"] == pytest.approx(float(history(run_dir)[0]["val_loss"]))
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text(encoding="utf-8"))
    assert state["callbacks"] == {"epoch-log": {"lines": 1}}  # taken at epoch 2's commit, before its line


# -- the kit says which contract a broken callback breaks -------------------------------------------


def not_a_callback(context: Any) -> Any:
    """Returns a plain object."""
    return object()


def numpy_state(context: Any) -> Any:
    """Keeps its state as numpy numbers."""
    import keras

    class Numpy(keras.callbacks.Callback):
        def zoo_state(self) -> dict:
            return {"best": np.float32(0.5)}

    return Numpy()


def forgets_nothing(context: Any, start: int = 0) -> Any:
    """Counts epochs, resumably.

    Args:
        start: where the count starts.
    """
    import keras

    class Counter(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.count = int(context.state.get("count", start))
            self.seen = context.initial_epoch

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.count += 1

        def zoo_state(self) -> dict:
            return {"count": self.count}

    return Counter()


def test_the_kit_names_the_broken_callback_contract() -> None:
    from zoo_core import Component
    from zoo_core.testing import check_component

    def failed(factory: Any) -> dict[str, str]:
        results = check_component("callback", Component("broken", factory), light_import=False)
        return {r.check: r.message for r in results if r.status == "failed"}

    assert "must return a new keras.callbacks.Callback" in failed(not_a_callback)["builds"]
    assert "is not JSON" in failed(numpy_state)["state_is_json"]
    good = check_component("callback", Component("counter", forgets_nothing), light_import=False)
    assert {r.check: r.status for r in good}["resumes_from_state"] == "passed"
    assert {r.check: r.status for r in good}["run_end_accepted"] == "skipped"
