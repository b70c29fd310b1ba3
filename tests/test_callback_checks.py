"""early-stopping and reduce-lr-on-plateau refuse a monitor the run does not log, or a mode against it, before
any work (issue 27, item 7): the metrics are one list, zoo_core.runs.history.EPOCH_METRICS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import subprocess_env
from zoo_core.errors import ConfigError
from zoo_core.registry import load_registry
from zoo_core.training.parameter_checks import check_callbacks

ZOO = str(Path(sys.executable).with_name("zoo"))
SMALL = ["--set", "max_train_samples=500", "--set", "max_test_samples=200", "--set", "exporters=[]",
         "--set", "progress=none"]


def checked(builtin_catalog: Any, tmp_path: Path, *overrides: str) -> None:
    """The dry run of mnist-mlp's callbacks with ``overrides`` (what a run does before any work)."""
    config = load_registry(builtin_catalog, cwd=tmp_path).resolve_recipe("mnist-mlp", list(overrides))
    check_callbacks(config, None)


def refused(builtin_catalog: Any, tmp_path: Path, *overrides: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        checked(builtin_catalog, tmp_path, *overrides)
    return caught.value


# -- the monitor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("component", ["early-stopping", "reduce-lr-on-plateau"])
def test_a_monitor_the_run_does_not_log_is_refused_with_the_metrics_it_does(builtin_catalog: Any, tmp_path: Path,
                                                                            component: str) -> None:
    error = refused(builtin_catalog, tmp_path, f'callbacks=["{component}"]', f"callbacks.{component}.monitor=val_acc")
    assert f"callback {component}: monitor 'val_acc' is not a metric the run logs" in error.message
    assert f"--set callbacks.{component}.monitor=val_loss" in error.hint
    assert "did you mean 'val_accuracy'?" in error.hint and "accuracy, loss, val_accuracy, val_loss" in error.hint
    error = refused(builtin_catalog, tmp_path, f'callbacks=["{component}"]',
                    f"callbacks.{component}.monitor=learning_rate")
    assert "monitor 'learning_rate' is logged but does not measure the model" in error.message


@pytest.mark.parametrize(("monitor", "mode", "worse"), [("val_accuracy", "min", "lower"), ("accuracy", "min", "lower"),
                                                        ("val_loss", "max", "higher"), ("loss", "max", "higher")])
def test_a_mode_against_the_metric_is_refused(builtin_catalog: Any, tmp_path: Path, monitor: str, mode: str,
                                              worse: str) -> None:
    for component in ("early-stopping", "reduce-lr-on-plateau"):
        error = refused(builtin_catalog, tmp_path, f'callbacks=["{component}"]',
                        f"callbacks.{component}.monitor={monitor}", f"callbacks.{component}.mode={mode}")
        assert f"mode '{mode}' counts a {worse} {monitor} as an improvement, but a {worse} {monitor} is worse" \
               in error.message
        assert error.hint.startswith(f"--set callbacks.{component}.mode=auto")


def test_a_monitor_the_run_logs_with_its_mode_is_accepted(builtin_catalog: Any, tmp_path: Path) -> None:
    for monitor, mode in (("val_accuracy", "max"), ("val_loss", "min"), ("accuracy", "auto"), ("loss", "min")):
        checked(builtin_catalog, tmp_path, 'callbacks=["early-stopping", "reduce-lr-on-plateau"]',
                f"callbacks.early-stopping.monitor={monitor}", f"callbacks.early-stopping.mode={mode}",
                f"callbacks.reduce-lr-on-plateau.monitor={monitor}", f"callbacks.reduce-lr-on-plateau.mode={mode}")


@pytest.mark.slow
def test_a_monitor_mistake_exits_2_before_any_run_directory(tmp_path: Path) -> None:
    result = subprocess.run([ZOO, "run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), *SMALL,
                             "--set", 'callbacks=["early-stopping"]',
                             "--set", "callbacks.early-stopping.monitor=val_acc"],
                            capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert result.returncode == 2, result.stderr
    assert "monitor 'val_acc' is not a metric the run logs" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
