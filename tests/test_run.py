"""End-to-end runs on small slices of MNIST: the run directory, its files, and the run commands."""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zoo_core.cli import app

pytestmark = pytest.mark.slow

SMALL = ["--set", "max_train_samples=3000", "--set", "max_test_samples=1000", "--set", "epochs=2",
         "--set", "exporters=[]", "--quiet"]
METRIC_KEYS = {"accuracy", "loss", "precision_macro", "recall_macro", "f1_macro", "per_class", "confusion_matrix"}
PLOTS = {"samples", "curves", "confusion_matrix", "weights", "weight_distributions", "predictions"}


def zoo(*args: str) -> "object":
    """Run the CLI in-process; return the result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def finished_run(runs_dir: Path) -> Path:
    result = zoo("run", "mnist-mlp", "--runs-dir", str(runs_dir), *SMALL)
    assert result.exit_code == 0, result.output
    (run,) = [p for p in runs_dir.iterdir() if p.is_dir()]
    return run


def test_run_directory_holds_every_artifact(finished_run: Path) -> None:
    for name in ("config.toml", "manifest.json", "history.csv", "metrics.json", "model.keras", "report.md"):
        assert (finished_run / name).is_file(), name
        assert (finished_run / name).stat().st_size > 0, name
    leftovers = [p.name for p in finished_run.rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_manifest_records_status_versions_and_fingerprint(finished_run: Path) -> None:
    manifest = json.loads((finished_run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["recipe"] == "mnist-mlp"
    assert manifest["seed"] == 42
    assert set(manifest["versions"]) >= {"python", "tensorflow", "keras", "zoo"}
    assert manifest["plugins"]["zoo"] == manifest["versions"]["zoo"]
    assert len(manifest["data_fingerprint"]["train_sha256"]) == 64
    assert manifest["started"] <= manifest["finished"]
    assert manifest["samples"] == {"train": 3000, "test": 1000}
    kinds = [c["kind"] for c in manifest["components"]]
    assert kinds == ["dataset", "architecture", "optimizer", "loss"]


def test_history_has_one_row_per_epoch(finished_run: Path) -> None:
    with open(finished_run / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert float(rows[1]["loss"]) < float(rows[0]["loss"])


def test_metrics_schema_and_figures(finished_run: Path) -> None:
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert METRIC_KEYS <= set(metrics)
    assert 0.8 < metrics["accuracy"] <= 1.0  # 2 epochs on 2,700 images
    assert len(metrics["per_class"]) == 10
    matrix = metrics["confusion_matrix"]
    assert len(matrix) == 10 and all(len(row) == 10 for row in matrix)
    assert sum(map(sum, matrix)) == 1000
    diagonal = sum(matrix[i][i] for i in range(10))
    assert diagonal / 1000 == pytest.approx(metrics["accuracy"])


def test_plots_are_pngs(finished_run: Path) -> None:
    plots = {p.stem: p for p in (finished_run / "plots").glob("*.png")}
    assert PLOTS <= set(plots)
    for path in plots.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_links_plots_and_metrics(finished_run: Path) -> None:
    report = (finished_run / "report.md").read_text()
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert f"{metrics['accuracy']:.4f}" in report
    for name in PLOTS:
        assert f"plots/{name}.png" in report


def test_config_toml_reruns_to_the_same_resolved_config(finished_run: Path, runs_dir: Path) -> None:
    from zoo_core.plugins import load_catalog
    from zoo_core.registry import load_registry

    registry = load_registry(load_catalog())
    table = tomllib.loads((finished_run / "config.toml").read_text())
    again = registry.run_from_table(table, table["recipe"], "config.toml")
    assert again.to_dict() == table
    assert table["epochs"] == 2 and table["architecture"]["hidden"] == [128, 64]


def history_but_seconds(run_dir: Path) -> list[dict[str, str]]:
    """history.csv as written (every digit), without the wall-time column."""
    with open(run_dir / "history.csv", newline="") as handle:
        return [{key: value for key, value in row.items() if key != "seconds"} for row in csv.DictReader(handle)]


def test_same_seed_same_metrics(finished_run: Path, runs_dir: Path) -> None:
    """README: 'zoo run --config runs/ID/config.toml' repeats a run exactly (no tolerance)."""
    before = set(runs_dir.iterdir())
    result = zoo("run", "--config", str(finished_run / "config.toml"), "--runs-dir", str(runs_dir), "--quiet")
    assert result.exit_code == 0, result.output
    (again,) = set(runs_dir.iterdir()) - before
    assert json.loads((again / "metrics.json").read_text()) == json.loads((finished_run / "metrics.json").read_text())
    assert history_but_seconds(again) == history_but_seconds(finished_run)
    assert (again / "config.toml").read_text() == (finished_run / "config.toml").read_text()


def test_runs_lists_the_run(finished_run: Path, runs_dir: Path) -> None:
    result = zoo("runs", "--runs-dir", str(runs_dir), "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    row = next(r for r in rows if r["id"] == finished_run.name)
    assert row["status"] == "completed" and row["recipe"] == "mnist-mlp" and row["accuracy"] > 0.8


def set_manifest(run_dir: Path, **fields: object) -> None:
    path = run_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def test_evaluate_by_recipe_name_uses_latest_completed_run(finished_run: Path, tmp_path: Path) -> None:
    """Three runs of mnist-mlp: an older completed one, a newer completed one, and a newest failed one."""
    import shutil

    root = tmp_path / "runs"
    older = shutil.copytree(finished_run, root / "mnist-mlp-older")
    set_manifest(older, run_id=older.name, started="2026-01-01T00:00:00+00:00")
    result = zoo("run", "mnist-mlp", "--runs-dir", str(root), *SMALL, "--set", "epochs=1")
    assert result.exit_code == 0, result.output
    (newer,) = [p for p in root.iterdir() if p != older]
    failed = shutil.copytree(older, root / "mnist-mlp-failed")
    set_manifest(failed, run_id=failed.name, status="failed", started="2099-01-01T00:00:00+00:00")
    recorded = json.loads((newer / "metrics.json").read_text())
    assert recorded["accuracy"] != json.loads((older / "metrics.json").read_text())["accuracy"]  # tell them apart

    result = zoo("evaluate", "mnist-mlp", "--runs-dir", str(root), "--json")
    assert result.exit_code == 0, result.output
    evaluated = json.loads(result.stdout)
    assert METRIC_KEYS <= set(evaluated)
    assert evaluated["accuracy"] == recorded["accuracy"]  # the 1-epoch run, evaluated again
    assert evaluated["confusion_matrix"] == recorded["confusion_matrix"]
    assert evaluated["per_class"] == recorded["per_class"]
    assert evaluated["loss"] == pytest.approx(recorded["loss"], rel=1e-6)
    text = zoo("evaluate", "mnist-mlp", "--runs-dir", str(root))
    assert text.exit_code == 0 and newer.name in text.stdout and f"{recorded['accuracy']:.4f}" in text.stdout


def test_train_ad_hoc_with_overrides(runs_dir: Path, tmp_path: Path) -> None:
    result = zoo("train", "--dataset", "mnist", "--architecture", "mlp", "--optimizer", "sgd",
                 "--loss", "categorical-crossentropy", "--runs-dir", str(tmp_path),
                 "--set", "architecture.hidden=[32]", "--set", "optimizer.learning_rate=0.05",
                 "--set", "validation_split=0.0", *SMALL)
    assert result.exit_code == 0, result.output
    (run,) = list(tmp_path.iterdir())
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["recipe"] == "adhoc"
    assert config["optimizer"] == {"component": "keras-optimizers:sgd", "learning_rate": 0.05, "momentum": 0.0, "nesterov": False,
                                   "weight_decay": 0.0, "clipnorm": 0.0}
    assert json.loads((run / "metrics.json").read_text())["accuracy"] > 0.6


def test_invalid_parameter_fails_before_any_run_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(tmp_path), "--set", "epochs=0"])
    assert result.exit_code == 2
    assert "epochs" in result.output and "at least 1" in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir())


def test_unknown_run_reference_is_a_clear_error(runs_dir: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", "no-such-run", "--runs-dir", str(runs_dir)])
    assert result.exit_code != 0
    assert "no run 'no-such-run'" in result.output and "Traceback" not in result.output


def test_the_installed_command_runs_in_a_subprocess(tmp_path: Path) -> None:
    import subprocess

    zoo_script = Path(sys.executable).with_name("zoo")
    process = subprocess.run([str(zoo_script), "train", "-d", "mnist", "-a", "mlp", "--runs-dir", str(tmp_path),
                              "--set", "max_train_samples=500", "--set", "max_test_samples=200",
                              "--set", "epochs=1"], capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    assert "epoch 1/1" in process.stderr  # line-per-epoch progress when not a terminal
    assert "test accuracy" in process.stdout


def seeded_run(root: Path, seed: int) -> dict[str, object]:
    """A tiny run (500 images, 1 epoch) with ``seed``: its history, metrics, first weights and trained weights."""
    import keras

    from zoo_core.runs.checkpoint import read_checkpoint, read_weights_npz

    result = zoo("run", "mnist-mlp", "--runs-dir", str(root), "--set", "max_train_samples=500",
                 "--set", "max_test_samples=200", "--set", "epochs=1", "--set", "exporters=[]",
                 "--set", f"seed={seed}", "--quiet")
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in root.iterdir() if p.is_dir()]
    state = read_checkpoint(run_dir / "checkpoint")
    first = read_weights_npz(run_dir / "checkpoint" / state["weights"])[0]  # the sample taken before any step
    return {"history": history_but_seconds(run_dir), "metrics": json.loads((run_dir / "metrics.json").read_text()),
            "first": first, "trained": keras.saving.load_model(run_dir / "model.keras").get_weights()}


def same_arrays(one: object, other: object) -> bool:
    """Whether two lists (or dicts) of arrays hold the same values, bit for bit."""
    import numpy as np

    if isinstance(one, dict) and isinstance(other, dict):
        return one.keys() == other.keys() and all(np.array_equal(one[key], other[key]) for key in one)
    return len(one) == len(other) and all(np.array_equal(a, b) for a, b in zip(one, other))  # type: ignore[arg-type]


def test_another_seed_makes_another_run_and_the_same_seed_the_same(tmp_path: Path) -> None:
    """The seed reaches the run: 0 and 1 start from other weights and end elsewhere; 0 twice is one run."""
    zero, again, one = (seeded_run(tmp_path / name, seed) for name, seed in (("a", 0), ("b", 0), ("c", 1)))
    assert zero["history"] == again["history"] and zero["metrics"] == again["metrics"]
    assert same_arrays(zero["first"], again["first"]) and same_arrays(zero["trained"], again["trained"])
    assert zero["first"], "no initial weight snapshot"
    assert not same_arrays(zero["first"], one["first"]), "seeds 0 and 1 started from the same weights"
    assert not same_arrays(zero["trained"], one["trained"]), "seeds 0 and 1 trained the same weights"
    assert zero["history"] != one["history"]  # the loss of epoch 1 differs
