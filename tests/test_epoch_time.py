"""history.csv's ``seconds``: an epoch's time holds everything the loop does per epoch, checkpoint included.

The checkpoint is made slow on purpose (half a second more per commit); the
epochs after the first must show it, since benchmarks/run.py reads these
figures as zoo's epoch time.

An epoch's time runs from the previous epoch's end to its own, so epoch N
holds epoch N-1's checkpoint and the last epoch's checkpoint is in no row
(the row is inside that checkpoint's state.json: it cannot hold the
checkpoint's own time). That last checkpoint is counted in manifest.json's
``timings["training"]``, which ends after it; it is not lost. Measured on
this 2-core machine: a commit of the tutorial's MLP takes 17-50 ms, a full
MNIST epoch 2-5 s, so the checkpoint outside the rows is about 1 % of one
epoch and under 0.5 % of a 3-epoch run's training.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from zoo_core.cli import app

pytestmark = pytest.mark.slow

DELAY = 0.5


EPOCHS = 3
#: The last epoch's checkpoint is made slower still, to tell it apart from the others.
LAST_DELAY = 2.0


def timed_run(tmp_path: Path) -> tuple[list[float], dict[str, Any]]:
    """history.csv's ``seconds`` of a tiny 3-epoch run, and its manifest.json ``timings``."""
    result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(tmp_path), "--set", "max_train_samples=600",
                                      "--set", "max_test_samples=100", "--set", f"epochs={EPOCHS}",
                                      "--set", "exporters=[]", "--quiet"])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    with open(run_dir / "history.csv", newline="") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle)]
    return seconds, json.loads((run_dir / "manifest.json").read_text())["timings"]


def slow_commit(real: Any) -> Any:
    """``real`` commit_checkpoint made DELAY slower after epochs 1 .. EPOCHS-1, and LAST_DELAY after the last."""

    def commit(directory: Path, epochs_done: int, *args: Any, **kwargs: Any) -> Any:
        time.sleep(LAST_DELAY if epochs_done == EPOCHS else DELAY if epochs_done else 0)
        return real(directory, epochs_done, *args, **kwargs)

    return commit


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[float], dict[str, Any]]:
    """The tiny run as it is."""
    return timed_run(tmp_path_factory.mktemp("fast"))


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[float], dict[str, Any]]:
    """The same run with slow checkpoint commits (see :func:`slow_commit`); both tests below read it."""
    import zoo_core.training.checkpointing as callbacks

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(callbacks, "commit_checkpoint", slow_commit(callbacks.commit_checkpoint))
        return timed_run(tmp_path_factory.mktemp("slow"))


def test_an_epoch_s_time_includes_the_checkpoint(fast: tuple[list[float], dict[str, Any]],
                                                 slow: tuple[list[float], dict[str, Any]]) -> None:
    """Epochs 2 and 3 each hold one earlier checkpoint, made DELAY slower: their times grow by it."""
    fast_seconds, slow_seconds = fast[0], slow[0]
    assert max(fast_seconds[1:]) < DELAY  # 540 images: well under the delay without it
    for before, after in zip(fast_seconds[1:], slow_seconds[1:], strict=True):
        assert after >= DELAY and after - before >= 0.8 * DELAY, (fast_seconds, slow_seconds)


def test_the_last_epoch_s_checkpoint_is_counted_in_the_training_phase(slow: tuple[list[float], dict[str, Any]]) -> None:
    """The last checkpoint is in no epoch's row (epoch 3 holds epoch 2's), but in timings["training"]: not lost."""
    seconds, timings = slow
    assert len(seconds) == EPOCHS
    for after in seconds[1:]:  # epochs 2 and 3 each hold one earlier checkpoint, at DELAY, not the last one
        assert DELAY <= after < LAST_DELAY, seconds
    # The training phase ends after the last checkpoint: what the rows leave out is at least that checkpoint.
    assert timings["training"] - sum(seconds) >= LAST_DELAY, (timings, seconds)
