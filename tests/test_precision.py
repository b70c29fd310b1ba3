"""The ``precision`` setting: checked, recorded, trained under Keras' mixed policy and undone afterwards.

A tiny ``mixed_bfloat16`` run of the MLP recipe (through the Python API, in
a fresh process: TensorFlow is process-wide) must export float32 and int8
models that pass their verification, record the setting, leave Keras'
global policy as it was, and leave a following float32 run in the same
process untouched; killed after its first epoch and resumed, it must give
the uninterrupted run's figures to the last digit.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli, subprocess_env
from test_callbacks import killer_dir
from zoo_core.training.precision import BF16_FLAGS, cpu_flags, usable_precision

ZOO = str(Path(sys.executable).with_name("zoo"))
SETTINGS = ["max_train_samples=3000", "max_test_samples=500", "epochs=2", "precision=mixed_bfloat16"]

#: Trains a mixed bfloat16 run with its exports, then a float32 run, in one process; prints what it found.
PROBE = textwrap.dedent("""
    import json, sys
    from zoo_core import training
    from zoo_core.workspace import Workspace

    registry = Workspace().registry()
    mixed = training.train(registry.resolve_recipe("mnist-mlp", sys.argv[2:]), root=sys.argv[1], progress="none")
    import keras

    policy_after = keras.mixed_precision.dtype_policy().name
    plain = training.train(registry.resolve_recipe("mnist-mlp", ["epochs=1", "max_train_samples=500",
                                                                 "max_test_samples=100", "exporters=[]"]),
                           root=sys.argv[1] + "-float32", progress="none")

    def policies(run):
        model = keras.saving.load_model(run.dir / "model.keras", compile=False)
        return sorted({layer.dtype_policy.name for layer in model.layers})

    print(json.dumps({"run_dir": str(mixed.run.dir), "policy_after": policy_after,
                      "exports": [[e.variant, e.status] for e in mixed.exports],
                      "mixed_model": policies(mixed.run), "plain_model": policies(plain.run),
                      "plain_dir": str(plain.run.dir)}))
""")


def test_the_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t: fpu\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx512f", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") is None


def test_bfloat16_without_the_instructions_falls_back_to_float32_with_a_warning() -> None:
    used, warning = usable_precision("mixed_bfloat16", has_gpu=False, flags={"avx2", "fma"})
    assert used == "float32" and "mixed_bfloat16" in warning and "float32 instead" in warning
    assert usable_precision("mixed_bfloat16", has_gpu=False, flags={"avx512_bf16"}) == ("mixed_bfloat16", None)
    assert usable_precision("mixed_bfloat16", has_gpu=True, flags=set()) == ("mixed_bfloat16", None)
    assert usable_precision("mixed_bfloat16", has_gpu=False, flags=None) == ("mixed_bfloat16", None)  # not Linux
    assert usable_precision("float32", has_gpu=False, flags=set()) == ("float32", None)
    assert "amx_bf16" in BF16_FLAGS


def test_float16_without_a_gpu_trains_but_warns_that_it_is_slow() -> None:
    used, warning = usable_precision("mixed_float16", has_gpu=False, flags={"avx512_bf16"})
    assert used == "mixed_float16" and "slower" in warning and "mixed_bfloat16" in warning
    assert usable_precision("mixed_float16", has_gpu=True, flags=None) == ("mixed_float16", None)


def test_a_bad_precision_is_exit_2_naming_the_setting_and_its_values() -> None:
    result = run_cli("run", "mnist-mlp", "--set", "precision=half")
    assert result.exit_code == 2
    assert "precision" in result.stderr and "mixed_bfloat16" in result.stderr and "Traceback" not in result.stderr


def history_figures(run_dir: Path) -> list[dict[str, str]]:
    """history.csv without the epochs' seconds."""
    with open(run_dir / "history.csv", newline="", encoding="utf-8") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("precision") / "runs"
    process = subprocess.run([sys.executable, "-c", PROBE, str(root), *SETTINGS], env=subprocess_env(),
                             capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    report = json.loads(process.stdout.strip().splitlines()[-1])
    return {**report, "run_dir": Path(report["run_dir"]), "plain_dir": Path(report["plain_dir"])}


@pytest.mark.slow
def test_a_mixed_bfloat16_run_exports_float32_and_int8_models_that_verify(probe: dict[str, Any]) -> None:
    assert probe["exports"] == [["float32", "ok"], ["float32", "ok"], ["int8", "ok"]]
    assert probe["mixed_model"] == ["float32"]  # model.keras (zoo predict, zoo bench) computes in float32
    metrics = json.loads((probe["run_dir"] / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["accuracy"] > 0.85


@pytest.mark.slow
def test_the_precision_is_recorded(probe: dict[str, Any]) -> None:
    assert 'precision = "mixed_bfloat16"' in (probe["run_dir"] / "config.toml").read_text(encoding="utf-8")
    manifest = json.loads((probe["run_dir"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["engine"]["precision"] == "mixed_bfloat16"
    plain = json.loads((probe["plain_dir"] / "manifest.json").read_text(encoding="utf-8"))
    assert plain["engine"]["precision"] == "float32"


@pytest.mark.slow
def test_the_global_policy_is_restored_and_the_next_run_is_float32(probe: dict[str, Any]) -> None:
    assert probe["policy_after"] == "float32"
    assert probe["plain_model"] == ["float32"]


@pytest.mark.slow
def test_a_mixed_bfloat16_run_killed_after_epoch_1_resumes_exactly(probe: dict[str, Any], tmp_path: Path) -> None:
    plugins = killer_dir(tmp_path)
    runs = tmp_path / "runs"
    overrides = [item for setting in SETTINGS for item in ("--set", setting)]
    killed = subprocess.run([ZOO, "--plugins-dir", str(plugins), "run", "mnist-mlp", "--runs-dir", str(runs),
                             *overrides, "--set", "exporters=[]", "--set", "progress=none",
                             "--set", 'callbacks=[{component = "killer", at = 1}]'],
                            capture_output=True, text=True, timeout=600, env=subprocess_env())
    assert killed.returncode == -9, killed.stderr[-3000:]
    (run_dir,) = [p for p in runs.iterdir() if (p / "manifest.json").exists()]
    resumed = subprocess.run([ZOO, "--plugins-dir", str(plugins), "resume", str(run_dir)], capture_output=True,
                             text=True, timeout=600, env=subprocess_env())
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert history_figures(run_dir) == history_figures(probe["run_dir"])
    got, want = (json.loads((d / "metrics.json").read_text(encoding="utf-8")) for d in (run_dir, probe["run_dir"]))
    assert (got["accuracy"], got["loss"]) == (want["accuracy"], want["loss"])


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_under_a_mixed_policy_the_weights_stay_float32_and_adam_keeps_its_fused_kernel(
        precision: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import keras
    import numpy as np

    from zoo_core.training.precision import compute_in_float32, dtype_policy
    from zoo_plugins.optimizers import _fused_adam
    from zoo_plugins.optimizers.keras_optimizers import adam

    fused: list[bool] = []
    original = _fused_adam._fusable
    monkeypatch.setattr(_fused_adam, "_fusable", lambda *args: fused.append(original(*args)) or fused[-1])
    before = keras.mixed_precision.dtype_policy().name
    with dtype_policy(precision):
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(3, activation="softmax", dtype="float32")])
    assert keras.mixed_precision.dtype_policy().name == before
    assert model.layers[0].compute_dtype == precision.removeprefix("mixed_")
    model.compile(optimizer=adam(), loss="sparse_categorical_crossentropy")
    assert (type(model.optimizer).__name__ == "LossScaleOptimizer") == (precision == "mixed_float16")
    x, y = np.random.default_rng(0).random((32, 6), dtype=np.float32), np.arange(32) % 3
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert fused and all(fused)
    assert {str(weight.dtype) for weight in model.weights} == {"float32"}
    compute_in_float32(model)
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
    assert model.predict(x[:2], verbose=0).dtype == np.float32
