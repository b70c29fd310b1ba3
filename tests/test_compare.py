"""``zoo compare`` on two tiny mnist-mlp runs (trained once for the module): what differs, metrics, curves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from zoo_core.cli import app

pytestmark = pytest.mark.slow

TINY = ["--set", "max_train_samples=2000", "--set", "max_test_samples=500", "--set", "batch_size=64",
        "--set", "exporters=[]", "--quiet"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def zoo(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def runs(runs_dir: Path) -> list[Path]:
    """Run 1: hidden 16, 1 epoch, adam; run 2: hidden 32, 2 epochs, learning rate 0.003."""
    made = []
    for extra in (["--set", "epochs=1", "--set", "architecture.hidden=[16]"],
                  ["--set", "epochs=2", "--set", "architecture.hidden=[32]", "--set", "optimizer.learning_rate=0.003"]):
        before = set(runs_dir.iterdir())
        result = zoo("run", "mnist-mlp", "--runs-dir", str(runs_dir), *TINY, *extra)
        assert result.exit_code == 0, result.output
        (run,) = set(runs_dir.iterdir()) - before
        made.append(run)
    return made


@pytest.fixture(scope="module")
def compared(runs: list[Path], runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("compare") / "out"
    result = zoo("compare", runs[0].name, str(runs[1]), "--runs-dir", str(runs_dir), "--out", str(out))
    return {"result": result, "out": out}


def lines_starting(output: str, word: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(word)]


def test_the_settings_that_differ_are_found(compared: dict) -> None:
    result = compared["result"]
    assert result.exit_code == 0, result.output
    differing = {line.split()[0]: line.split()[1:] for line in result.stdout.split("settings that differ")[1]
                 .split("settings are the same")[0].splitlines()[2:] if line.strip() and not line[0].isdigit()}
    assert differing["architecture.hidden"] == ["[16]", "[32]"]
    assert differing["epochs"] == ["1", "2"]
    assert differing["optimizer.learning_rate"] == ["0.001", "0.003"]
    assert "batch_size" not in differing and "seed" not in differing
    (summary,) = [line for line in result.stdout.splitlines() if "settings are the same in every run:" in line]
    assert "batch_size = 64" in summary and "seed = 42" in summary and "architecture.dropout = 0.2" in summary


def test_metrics_are_side_by_side(compared: dict, runs: list[Path]) -> None:
    stdout = compared["result"].stdout
    for run, column in zip(runs, (1, 2)):
        metrics = json.loads((run / "metrics.json").read_text())
        (accuracy,) = lines_starting(stdout, "test accuracy")
        assert accuracy.split()[1 + column] == f"{metrics['accuracy']:.4f}"
    assert lines_starting(stdout, "epochs")[-1].split()[1:] == ["1/1", "2/2"]  # [0]: the settings table
    for name in ("test loss", "F1 (macro)", "training time", "F1 class 0", "F1 class 9"):
        assert lines_starting(stdout, name), name


def test_curves_plot_and_markdown_are_written(compared: dict, runs: list[Path]) -> None:
    out = compared["out"]
    assert f"written to {out / 'compare.png'} and {out / 'compare.md'}" in compared["result"].stdout
    png = out / "compare.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(png) as image:
        assert image.size[0] >= 1000 and image.size[1] >= 400
        counts = {colour: n for n, colour in image.convert("RGB").getcolors(1 << 20)}
    assert counts.get((31, 119, 180), 0) > 20 and counts.get((255, 127, 14), 0) > 100  # one colour per run
    text = (out / "compare.md").read_text()
    assert "## Settings that differ" in text and "| architecture.hidden | [16] | [32] |" in text
    assert "| epochs | 1/1 | 2/2 |" in text and "![training curves](compare.png)" in text
    assert all(run.name in text for run in runs)


def test_a_recipe_name_means_its_latest_completed_run_and_the_default_folder_is_in_the_runs_root(
        runs: list[Path], runs_dir: Path) -> None:
    result = zoo("compare", runs[0].name, "mnist-mlp", "--runs-dir", str(runs_dir))
    assert result.exit_code == 0, result.output
    (folder,) = (runs_dir / "compare").iterdir()
    assert (folder / "compare.png").is_file() and (folder / "compare.md").is_file()
    assert runs[1].name in (folder / "compare.md").read_text()


@pytest.mark.parametrize("args, message", [
    (["ONE"], "compare needs two runs or more"),
    (["ONE", "ONE"], "compare needs different runs"),
    (["ONE", "mnist-ml"], "did you mean 'mnist-mlp'"),
    (["ONE", "./not/a/run"], "the path does not exist"),
])
def test_bad_input_is_a_clear_error(args: list[str], message: str, runs: list[Path], runs_dir: Path) -> None:
    args = [runs[0].name if arg == "ONE" else arg for arg in args]
    result = zoo("compare", *args, "--runs-dir", str(runs_dir))
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_out_that_is_a_file_is_refused(runs: list[Path], runs_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = zoo("compare", runs[0].name, runs[1].name, "--runs-dir", str(runs_dir), "--out", str(target))
    assert result.exit_code == 2 and "is a file" in result.stderr
