"""history.csv's ``seconds``: an epoch's time holds everything the loop does per epoch, checkpoint included.

The checkpoint is made slow on purpose (half a second more per commit); the
epochs after the first must show it, since benchmarks/run.py reads these
figures as zoo's epoch time.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from zoo_core.cli import app

pytestmark = pytest.mark.slow

DELAY = 0.5


def epoch_seconds(tmp_path: Path) -> list[float]:
    result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(tmp_path), "--set", "max_train_samples=600",
                                      "--set", "max_test_samples=100", "--set", "epochs=3", "--set", "exporters=[]",
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    with open(run_dir / "history.csv", newline="") as handle:
        return [float(row["seconds"]) for row in csv.DictReader(handle)]


def test_an_epoch_s_time_includes_the_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_core.training.checkpointing as callbacks

    real = callbacks.commit_checkpoint

    def slow_commit(*args: Any, **kwargs: Any) -> Any:
        time.sleep(DELAY)
        return real(*args, **kwargs)

    fast = epoch_seconds(tmp_path / "fast")
    monkeypatch.setattr(callbacks, "commit_checkpoint", slow_commit)
    slow = epoch_seconds(tmp_path / "slow")
    assert max(fast[1:]) < DELAY  # 540 images: well under the delay without it
    for before, after in zip(fast[1:], slow[1:]):
        assert after >= DELAY and after - before >= 0.8 * DELAY, (fast, slow)
