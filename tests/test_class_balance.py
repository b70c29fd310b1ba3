"""Class-sorted training data: the validation split warns with the class counts, or is stratified.

The data comes from a loose plugin file (``--plugins-dir``): a small tabular dataset whose training
examples are sorted by class (100 of class 'low', then 100 'mid', then 100 'high'), as a dataset read
from files sorted by label would be.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow

SORTED_PLUGIN = '''
    """A loose plugin file: three Gaussian blobs in 4 features, training examples sorted by class."""

    from typing import Any

    from zoo_core import Component, hookimpl


    def sorted_blobs(shuffled: bool = False) -> Any:
        """Three blobs of 4 features; the training examples come sorted by class unless shuffled.

        Args:
            shuffled: shuffle the training examples (with a fixed seed).
        """
        import numpy as np

        from zoo_core.data import Dataset, DatasetInfo

        rng = np.random.default_rng(0)
        centres = np.array([[0, 0, 0, 0], [3, 3, 0, 0], [0, 3, 3, 3]], dtype=np.float32)

        def blobs(per_class: int) -> tuple[Any, Any]:
            y = np.repeat(np.arange(3), per_class)
            x = centres[y] + rng.normal(0, 0.5, (len(y), 4)).astype(np.float32)
            return x.astype(np.float32), y.astype(np.int64)

        x_train, y_train = blobs(100)
        if shuffled:
            order = rng.permutation(len(y_train))
            x_train, y_train = x_train[order], y_train[order]
        x_test, y_test = blobs(20)
        info = DatasetInfo(name="sorted-blobs", input_shape=(4,), num_classes=3, class_names=["low", "mid", "high"],
                           value_range=(-10.0, 10.0), raw_value_range=(-10.0, 10.0), scale=1.0, image=False)
        return Dataset(x_train, y_train, x_test, y_test, info)


    @hookimpl
    def register_datasets() -> list[Component]:
        return [Component("sorted-blobs", sorted_blobs)]
'''
QUICK = ["--set", "epochs=1", "--set", "exporters=[]", "--set", "architecture.hidden=[8]", "--quiet"]


@pytest.fixture(scope="module")
def plugins_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("loose")
    (folder / "sorted_blobs.py").write_text(textwrap.dedent(SORTED_PLUGIN), encoding="utf-8")
    return folder


def train(plugins_dir: Path, runs: Path, *settings: str) -> tuple[str, dict]:
    """Train on sorted-blobs; return stderr and the run's manifest."""
    result = run_cli("--plugins-dir", str(plugins_dir), "train", "--dataset", "sorted-blobs", "--architecture", "mlp",
                     "--runs-dir", str(runs), *QUICK, *settings)
    assert result.exit_code == 0, result.output
    (run_dir,) = [path for path in runs.iterdir() if path.is_dir()]
    return result.stderr, json.loads((run_dir / "manifest.json").read_text())


def warnings_in(stderr: str) -> list[str]:
    return [line.removeprefix("zoo: warning: ") for line in stderr.splitlines() if line.startswith("zoo: warning: ")]


def test_sorted_data_warns_once_with_the_class_counts_and_records_it(plugins_dir: Path, tmp_path: Path) -> None:
    stderr, manifest = train(plugins_dir, tmp_path)
    found = warnings_in(stderr)
    assert len(found) == 2, stderr  # once each, not per epoch or per step
    assert found[0].startswith("the training data is sorted by class (one block per class): "
                               'validation = "last" holds out the last part, i.e. the last class(es) only')
    assert found[1] == ('the validation part (30 examples, validation = "last") has no examples of 2 class(es): '
                        "low: 0, mid: 0, high: 30; use --set validation=stratified")
    assert manifest["data_warnings"] == found
    assert manifest["settings"]["validation"] == "last"


def test_a_stratified_split_validates_on_every_class(plugins_dir: Path, tmp_path: Path) -> None:
    stderr, manifest = train(plugins_dir, tmp_path, "--set", "validation=stratified")
    found = warnings_in(stderr)
    assert len(found) == 1 and "sorted by class" in found[0] and "the validation part is stratified" in found[0]
    assert manifest["data_warnings"] == found and manifest["samples"]["train"] == 300


def test_shuffled_data_gives_no_warning(plugins_dir: Path, tmp_path: Path) -> None:
    stderr, manifest = train(plugins_dir, tmp_path, "--set", "dataset.shuffled=true")
    assert warnings_in(stderr) == [] and manifest["data_warnings"] == []


def test_a_training_part_cut_to_one_class_is_warned_about(plugins_dir: Path, tmp_path: Path) -> None:
    stderr, _ = train(plugins_dir, tmp_path, "--set", "max_train_samples=50", "--set", "validation_split=0.2")
    assert "the training part has no examples of 2 class(es): low: 40, mid: 0, high: 0" in stderr
