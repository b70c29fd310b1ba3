"""The run settings that change how a run trains or what it shows: deterministic, threads, tensorboard, progress.

Deterministic and threads run zoo's Python API in fresh processes, since
TensorFlow's thread pools and op determinism are process-wide and cannot be
changed once its runtime has started; progress runs the real ``zoo`` on a
pseudo-terminal; tensorboard, which needs neither, runs in-process.
"""

from __future__ import annotations

import csv
import json
import os
import pty
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import run_cli, subprocess_env

pytestmark = pytest.mark.slow

ZOO = str(Path(sys.executable).with_name("zoo"))
TINY = ["--set", "max_train_samples=1000", "--set", "max_test_samples=300", "--set", "epochs=2",
        "--set", "exporters=[]"]

#: Trains through the Python API, then reports what TensorFlow was set to in that process.
PROBE = textwrap.dedent("""
    import json, sys
    from zoo_core import training
    from zoo_core.workspace import Workspace

    registry = Workspace().registry()
    outcome = training.train(registry.resolve_recipe("mnist-mlp", sys.argv[2:]), root=sys.argv[1], progress="none")
    import tensorflow as tf
    from tensorflow.python.framework import config

    print(json.dumps({"run_dir": str(outcome.run.dir), "op_determinism": config.is_op_determinism_enabled(),
                      "intra": tf.config.threading.get_intra_op_parallelism_threads(),
                      "inter": tf.config.threading.get_inter_op_parallelism_threads()}))
""")
SETTINGS = ["max_train_samples=1000", "max_test_samples=300", "epochs=2", "exporters=[]"]


def start_probe(root: Path, *settings: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", PROBE, str(root), *SETTINGS, *settings], env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_probe(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    report["run_dir"] = Path(report["run_dir"])
    return report


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Two deterministic runs on two threads (at once), and one run with the defaults."""
    root = tmp_path_factory.mktemp("settings")
    started = {"deterministic-a": start_probe(root / "a", "deterministic=true", "threads=2"),
               "deterministic-b": start_probe(root / "b", "deterministic=true", "threads=2")}
    reports = {name: finish_probe(process) for name, process in started.items()}
    reports["default"] = finish_probe(start_probe(root / "c"))
    return reports


def model_weights(run_dir: Path) -> list[np.ndarray]:
    import keras

    return keras.models.load_model(run_dir / "model.keras", safe_mode=True).get_weights()


def manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "manifest.json").read_text())


def test_deterministic_turns_on_op_determinism_and_two_runs_give_identical_weights(
        probes: dict[str, dict[str, Any]]) -> None:
    a, b = probes["deterministic-a"], probes["deterministic-b"]
    assert a["op_determinism"] is True and b["op_determinism"] is True
    assert probes["default"]["op_determinism"] is False  # the setting, not zoo, turned it on
    assert manifest(a["run_dir"])["settings"]["deterministic"] is True
    for first, second in zip(model_weights(a["run_dir"]), model_weights(b["run_dir"]), strict=True):
        np.testing.assert_array_equal(first, second)
    assert (json.loads((a["run_dir"] / "metrics.json").read_text())
            == json.loads((b["run_dir"] / "metrics.json").read_text()))


def test_threads_sets_both_tensorflow_pools_and_the_manifest_says_so(probes: dict[str, dict[str, Any]]) -> None:
    chosen = probes["deterministic-a"]
    assert (chosen["intra"], chosen["inter"]) == (2, 2)
    assert manifest(chosen["run_dir"])["engine"]["threads"] == 2
    default = probes["default"]  # a small model: one thread per pool (benchmarks/NOTES.md)
    assert (default["intra"], default["inter"]) == (1, 1)
    assert manifest(default["run_dir"])["engine"]["threads"] == 1


def test_tensorboard_writes_the_epoch_losses_of_history_csv(tmp_path: Path) -> None:
    import tensorflow as tf

    result = run_cli("run", "mnist-mlp", "--runs-dir", str(tmp_path), *TINY, "--set", "tensorboard=true", "--quiet")
    assert result.exit_code == 0, result.output[-3000:]
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    events = sorted((run_dir / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert events, sorted(str(p.relative_to(run_dir)) for p in (run_dir / "tensorboard").rglob("*"))
    losses = {}
    for record in tf.data.TFRecordDataset([str(path) for path in events]):
        event = tf.compat.v1.Event.FromString(record.numpy())
        for value in event.summary.value:
            if value.tag == "epoch_loss":
                losses[event.step] = float(tf.make_ndarray(value.tensor))
    with open(run_dir / "history.csv", newline="") as handle:
        history = {int(row["epoch"]) - 1: float(row["loss"]) for row in csv.DictReader(handle)}
    assert sorted(losses) == [0, 1]
    assert losses == pytest.approx(history, rel=1e-6)
    assert list((run_dir / "tensorboard" / "validation").glob("events.out.tfevents.*"))


def on_a_terminal(*args: str, timeout: float = 300) -> tuple[int, str]:
    """Run ``zoo ARGS`` with stdout and stderr on a pseudo-terminal; return its exit code and all it wrote."""
    controller, terminal = pty.openpty()
    env = subprocess_env(TERM="xterm-256color", COLUMNS="100", LINES="30")
    process = subprocess.Popen([ZOO, *args], stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=env)
    os.close(terminal)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1.0)
        if ready:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(controller)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_draws_a_live_bar_on_a_terminal(tmp_path: Path) -> None:
    code, screen = on_a_terminal("run", "mnist-mlp", "--runs-dir", str(tmp_path), *TINY, "--set", "progress=bar")
    assert code == 0, screen[-3000:]
    assert "━" in screen  # rich's bar
    assert "\x1b[?25l" in screen  # a live display hides the cursor while it redraws
    assert "epoch 1/2" in screen and "epoch 2/2" in screen
    steps = manifest(next(p for p in tmp_path.iterdir() if p.is_dir()))["engine"]["steps_per_epoch"]
    assert f"{steps}/{steps}" in screen  # the step counter reached the end of the epoch


def test_progress_lines_draws_no_bar_even_on_a_terminal(tmp_path: Path) -> None:
    """The control: the bar above comes from the setting, not from the terminal alone."""
    code, screen = on_a_terminal("run", "mnist-mlp", "--runs-dir", str(tmp_path), *TINY, "--set", "progress=lines")
    assert code == 0, screen[-3000:]
    assert "━" not in screen and "\x1b[?25l" not in screen
    assert "epoch 1/2" in screen and "epoch 2/2" in screen


def test_tensorboard_without_the_package_is_a_clear_error_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from zoo_core.errors import ConfigError
    from zoo_core.plugins import load_catalog
    from zoo_core.registry import load_registry
    from zoo_core.training.prepare import check_requirements

    registry = load_registry(load_catalog(allowlist=[], warn=lambda line: None))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    check_requirements(registry.resolve_recipe("mnist-mlp"))  # not asked for: nothing to check
    config = registry.resolve_recipe("mnist-mlp", ["tensorboard=true"])  # the setting of earlier configs: the callback
    assert [c.component.qualified_name for c in config.callbacks] == ["callbacks:tensorboard"]
    with pytest.raises(ConfigError, match="callback 'tensorboard' needs tensorboard, which is not installed"
                       ) as caught:
        check_requirements(config)
    assert "pip install 'zoo[tensorboard]'" in str(caught.value)
