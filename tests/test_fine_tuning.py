"""Starting from trained weights: init_from loads exactly the layers that fit, freeze keeps weights and BatchNorm
statistics still, the fine-tune callback unfreezes and scales the rate at its epoch and resumes exactly after
SIGKILL, the mnist dataset's classes and per_class, and the mistakes stopped before any work."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import run_cli, subprocess_env
from test_callbacks import KILLER, history, manifest
from zoo_core.errors import ConfigError
from zoo_core.runs.checkpoint import read_variables_npz
from zoo_core.training.freezing import freeze_layers
from zoo_core.training.initial_weights import Source, find_source, load_matching

ZOO = str(Path(sys.executable).with_name("zoo"))
BACKBONE = ["block1_1_conv", "block1_1_bn", "dense"]  #: the tiny cnn's layers with weights, but its head

#: A base on digits 0-2 and its fine-tuning on digits 3-4 (another class count: the head is trained anew), as
#: recipes of a registry.toml in the working directory; tiny, so that a run is mostly TensorFlow's start-up.
RECIPES = """
[architectures.tiny-cnn]
component = "cnn"
filters = [4]
dense = 8
batch_norm = true
dropout = 0.0

[runs.tiny-base]
dataset = { component = "mnist", classes = [0, 1, 2], per_class = 100 }
architecture = "tiny-cnn"
optimizer = "adam"
loss = "sparse-categorical-crossentropy"
exporters = []
epochs = 1
batch_size = 50
max_test_samples = 200
progress = "none"

[runs.tiny-tuned]
dataset = { component = "mnist", classes = [3, 4], per_class = 60 }
architecture = "tiny-cnn"
optimizer = { component = "adam", learning_rate = 0.01 }
loss = "sparse-categorical-crossentropy"
init_from = "tiny-base"
freeze = "backbone"
callbacks = [{ component = "fine-tune", epoch = 3, factor = 0.5 }]
exporters = []
epochs = 4
batch_size = 20
max_test_samples = 200
progress = "none"
"""


FINE_TUNE = '{component="fine-tune", epoch=3, factor=0.5}'


def zoo(*args: str, cwd: Path, plugins_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--plugins-dir", str(plugins_dir)] if plugins_dir else []
    return subprocess.run([ZOO, *extra, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=subprocess_env())


def runs_of(root: Path, recipe: str) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and manifest(p).get("recipe") == recipe) if root.is_dir() \
        else []


# -- init_from and freeze, in-process ------------------------------------------------------------


def tiny_cnn(classes: int, seed: int = 0) -> Any:
    import keras

    from zoo_plugins.architectures.cnn import cnn

    keras.utils.set_random_seed(seed)
    return cnn((28, 28), classes, filters=[4], dense=8, batch_norm=True, dropout=0.0)


def weights_of(model: Any, name: str) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.get_layer(name).get_weights()]


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_init_from_loads_exactly_the_layers_that_fit(tmp_path: Path, suffix: str) -> None:
    source_model = tiny_cnn(3, seed=1)
    file = tmp_path / f"base{suffix}"
    source_model.save(file) if suffix == ".keras" else source_model.save_weights(file)
    model = tiny_cnn(2, seed=2)
    head_before = weights_of(model, "probabilities")
    record = load_matching(model, find_source(str(file), tmp_path), ["a", "b"])
    assert record["loaded"] == BACKBONE
    assert [s["layer"] for s in record["skipped"]] == ["probabilities"]
    assert record["skipped"][0]["why"] == "shape differs: (8, 3), (3,) in the source, (8, 2), (2,) here"
    assert record["file"] == str(file) and len(record["sha256"]) == 64 and "run_id" not in record
    for name in BACKBONE:  # every weight, BatchNorm's moving statistics too
        assert all(np.array_equal(a, b) for a, b in zip(weights_of(model, name), weights_of(source_model, name)))
    assert all(np.array_equal(a, b) for a, b in zip(weights_of(model, "probabilities"), head_before))


def test_a_run_s_head_of_other_classes_is_trained_anew_even_with_the_same_count(tmp_path: Path) -> None:
    source_model = tiny_cnn(2, seed=1)
    source_model.save(tmp_path / "model.keras")
    source = Source("base", tmp_path / "model.keras", "base-1", ["0", "1"])
    record = load_matching(tiny_cnn(2, seed=2), source, ["3", "4"])
    assert record["loaded"] == BACKBONE and record["run_id"] == "base-1"
    assert record["skipped"] == [{"layer": "probabilities",
                                  "why": "the head of other classes: [0, 1] in the source, [3, 4] here"}]
    same = load_matching(tiny_cnn(2, seed=2), source, ["0", "1"])
    assert same["loaded"] == [*BACKBONE, "probabilities"] and same["skipped"] == []


def test_init_from_refuses_another_architecture_a_corrupt_file_and_a_missing_one(tmp_path: Path) -> None:
    import keras

    from zoo_plugins.architectures.mlp import mlp

    keras.utils.set_random_seed(0)
    mlp((28, 28), 5, hidden=[16]).save(tmp_path / "mlp.keras")
    with pytest.raises(ConfigError, match="no layer of the model fits the weights in .*mlp.keras.*another "
                                          "architecture"):
        load_matching(tiny_cnn(2), find_source(str(tmp_path / "mlp.keras"), tmp_path), ["a", "b"])
    for name, text in [("broken.keras", b"PK\x03\x04 not really a zip"), ("broken.weights.h5", b"\x89HDF nope")]:
        (tmp_path / name).write_bytes(text)
        with pytest.raises(ConfigError, match=f"init_from: cannot read '.*{name}'") as caught:
            load_matching(tiny_cnn(2), find_source(str(tmp_path / name), tmp_path), ["a", "b"])
        assert "damaged or not a Keras model" in caught.value.hint
    with pytest.raises(ConfigError, match="init_from: the file 'gone.keras' does not exist"):
        find_source("gone.keras", tmp_path)
    assert find_source("", tmp_path) is None


def test_freeze_names_layers_by_pattern_and_refuses_one_that_matches_none() -> None:
    model = tiny_cnn(2)
    assert freeze_layers(model, ["block1_*"]) == ["block1_1_conv", "block1_1_bn"]
    assert [w.path for w in model.trainable_weights] == ["dense/kernel", "dense/bias", "probabilities/kernel",
                                                          "probabilities/bias"]
    with pytest.raises(ConfigError, match="setting freeze: no layer of the model is named 'conv9'") as caught:
        freeze_layers(tiny_cnn(2), ["conv9"])
    assert "block1_1_conv" in caught.value.hint and "probabilities" in caught.value.hint
    with pytest.raises(ConfigError, match="leaves no weight to train"):
        freeze_layers(tiny_cnn(2), ["*"])


def test_the_fine_tune_callback_refuses_an_epoch_past_the_run_and_a_run_with_nothing_frozen(tmp_path: Path) -> None:
    from zoo_core.training.callbacks import CallbackContext
    from zoo_plugins.callbacks import fine_tune

    def context(freeze: str) -> Any:
        return CallbackContext(tmp_path, "r", None, {}, {"epochs": 4, "freeze": freeze}, None, name="fine-tune")

    with pytest.raises(ConfigError, match="epoch 5 is after the run's last epoch \\(4\\)"):
        fine_tune(context("backbone"), epoch=5)
    with pytest.raises(ConfigError, match="nothing to unfreeze") as caught:
        fine_tune(context("none"), epoch=3)
    assert "--set freeze=backbone" in caught.value.hint
    assert fine_tune(context("none"), epoch=3, layers=["dense"]).layers == ["dense"]


def test_mnist_keeps_the_digits_asked_for_relabelled_and_per_class() -> None:
    from zoo_plugins.datasets.mnist import mnist

    data = mnist(classes=[7, 2], per_class=5)
    assert data.info.num_classes == 2 and data.info.class_names == ["7", "2"]
    assert sorted(np.bincount(data.y_train).tolist()) == [5, 5] and set(data.y_test.tolist()) == {0, 1}
    every = mnist()
    assert len(data.y_test) == int(np.isin(every.y_test, [2, 7]).sum())  # every test image of those digits
    sevens = every.x_train[every.y_train == 7][:5]  # the first five in the file's order
    assert np.array_equal(data.x_train[data.y_train == 0], sevens)
    with pytest.raises(ConfigError, match="classes names digit 2 more than once"):
        mnist(classes=[2, 2])


# -- whole runs ------------------------------------------------------------------------------------


def test_init_from_a_recipe_never_run_says_to_run_it_and_creates_no_run(tmp_path: Path) -> None:
    (tmp_path / "registry.toml").write_text(RECIPES, encoding="utf-8")
    result = zoo("run", "tiny-tuned", "--runs-dir", "runs", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "init_from: no run 'tiny-base'" in result.stderr and "zoo run tiny-base" in result.stderr
    assert "Traceback" not in result.stderr and not runs_of(tmp_path / "runs", "tiny-tuned")
    missing = zoo("run", "tiny-base", "--runs-dir", "runs", "--set", "init_from=nowhere/model.keras", cwd=tmp_path)
    assert missing.returncode == 2 and "init_from: the file 'nowhere/model.keras' does not exist" in missing.stderr


def checkpoint_weights(run_dir: Path) -> dict[str, np.ndarray]:
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text(encoding="utf-8"))
    return dict(read_variables_npz(run_dir / "checkpoint" / state["model"])["model"])


def model_weights(run_dir: Path) -> dict[str, np.ndarray]:
    """model.keras's weights by path; it loads with its optimizer (no layer left frozen in it, no warning)."""
    import warnings

    import keras

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(run_dir / "model.keras")
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert all(layer.trainable for layer in model.layers)
    return {w.path: np.asarray(w) for w in model.weights}


@pytest.mark.slow
def test_fine_tuning_freezes_then_unfreezes_and_resumes_exactly_after_sigkill(in_tmp_cwd: Path) -> None:
    tmp_path = in_tmp_cwd
    (tmp_path / "registry.toml").write_text(RECIPES, encoding="utf-8")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "killer.py").write_text(KILLER, encoding="utf-8")
    runs = tmp_path / "runs"
    base_run = run_cli("run", "tiny-base", "--runs-dir", "runs")  # in-process: the base only provides weights
    assert base_run.exit_code == 0, base_run.output
    base_dir = runs_of(runs, "tiny-base")[0]
    base = model_weights(base_dir)
    # killed after the checkpoint of epoch 2 (still frozen), then of epoch 3 (unfrozen): both resume
    killers = ["--set", f'callbacks=[{FINE_TUNE}, {{component="killer", at=2}}, {{component="killer", at=3}}]']
    killed = zoo("run", "tiny-tuned", "--runs-dir", "runs", *killers, cwd=tmp_path, plugins_dir=tmp_path / "plugins")
    assert killed.returncode == -9, killed.stderr
    run_dir = runs_of(runs, "tiny-tuned")[0]
    record = manifest(run_dir)["init_from"]
    assert (record["run_id"], record["loaded"]) == (base_dir.name, BACKBONE)
    assert record["skipped"][0]["layer"] == "probabilities" and manifest(run_dir)["frozen"] == BACKBONE
    frozen = checkpoint_weights(run_dir)  # after 2 epochs on a frozen backbone: not one weight or statistic moved
    for name in ["block1_1_conv/kernel", "block1_1_bn/gamma", "block1_1_bn/moving_mean", "block1_1_bn/moving_variance",
                 "dense/kernel"]:
        assert np.array_equal(frozen[name], base[name]), name
    assert "zoo: init_from run" in killed.stderr and "loaded 3 layer(s)" in killed.stderr
    again = zoo("resume", str(run_dir), plugins_dir=tmp_path / "plugins", cwd=tmp_path)
    assert again.returncode == -9, again.stderr
    assert "unfroze 2 layer(s), learning rate 0.01 -> 0.005" in again.stderr  # BatchNorm stays frozen
    assert json.loads((run_dir / "checkpoint" / "state.json").read_text())["callbacks"]["fine-tune"]["unfrozen"] == [
        "block1_1_conv", "dense"]
    done = zoo("resume", str(run_dir), plugins_dir=tmp_path / "plugins", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "init_from" not in done.stderr  # a resume never loads init_from over its checkpoint
    rates = [float(row["learning_rate"]) for row in history(run_dir)]
    assert rates == pytest.approx([0.01, 0.01, 0.005, 0.005])
    tuned = model_weights(run_dir)
    assert not np.array_equal(tuned["block1_1_conv/kernel"], base["block1_1_conv/kernel"])  # unfrozen at epoch 3
    assert np.array_equal(tuned["block1_1_bn/moving_mean"], base["block1_1_bn/moving_mean"])
    # the same run uninterrupted, from its config.toml (which records init_from): the very same weights
    twin = zoo("run", "--config", str(run_dir / "config.toml"), "--runs-dir", "runs", "--set",
               f"callbacks=[{FINE_TUNE}]", cwd=tmp_path)
    assert twin.returncode == 0, twin.stderr
    assert 'init_from = "tiny-base"' in (run_dir / "config.toml").read_text(encoding="utf-8")
    twin_weights = model_weights(next(p for p in runs_of(runs, "tiny-tuned") if p != run_dir))
    assert all(np.array_equal(tuned[name], twin_weights[name]) for name in tuned)
