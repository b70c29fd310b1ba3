"""Run files in a format newer than this zoo knows are refused, never read as current (issue 27, item 10).

manifest.json and checkpoint/state.json record their ``format`` and the
``zoo_version`` that wrote them; a missing ``format`` (a run written before
the field existed) is the oldest format, which keeps working. Every command
that reads a run answers a newer format with exit code 2, naming the file,
its format, the zoo that wrote it and the fix. No training here: the runs are
written by hand, and every refusal comes before a model is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from zoo_core import __version__
from zoo_core.plugins import Catalog
from zoo_core.registry import load_registry
from zoo_core.runs import NewerFormat, Run, find_run, write_manifest
from zoo_core.runs.checkpoint import CHECKPOINT_FORMAT, commit_checkpoint, read_checkpoint
from zoo_core.runs.formats import FIRST_FORMAT, check_format
from zoo_core.runs.manifest import MANIFEST_FORMAT


def make_run(root: Path, name: str, status: str, builtin_catalog: Catalog, **manifest: object) -> Path:
    """A run directory written by hand: mnist-mlp's config.toml and a manifest.json (no model, no checkpoint)."""
    config = load_registry(builtin_catalog, cwd=root).run("mnist-mlp")
    run = root / "runs" / name
    run.mkdir(parents=True)
    (run / "config.toml").write_text(config.to_toml(), encoding="utf-8")
    data = {"run_id": name, "recipe": "mnist-mlp", "status": status, "started": "2026-12-01T10:00:00+00:00",
            "epochs_done": 1, "settings": {"epochs": 3}, **manifest}
    (run / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    return run


def write_state(run: Path, **state: object) -> Path:
    """A committed checkpoint of one epoch (the model file is a stand-in: nothing loads it)."""
    folder = run / "checkpoint"
    folder.mkdir()
    (folder / "model-0001.npz").write_bytes(b"not read")
    data = {"epochs_done": 1, "model": "model-0001.npz", "weights": None,
            "history": [{"epoch": 1, "loss": 1.0}], **state}
    (folder / "state.json").write_text(json.dumps(data), encoding="utf-8")
    return folder / "state.json"


def flat(text: str) -> str:
    return " ".join(text.split())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- what is written -----------------------------------------------------------------------


def test_manifests_and_checkpoints_record_their_format_and_the_zoo_that_wrote_them(tmp_path: Path) -> None:
    write_manifest(tmp_path / "manifest.json", {"status": "running"})
    written = json.loads((tmp_path / "manifest.json").read_text())
    assert (written["format"], written["zoo_version"]) == (MANIFEST_FORMAT, __version__)

    def save(path: Path) -> None:
        path.write_bytes(b"model")

    state = commit_checkpoint(tmp_path / "checkpoint", 1, save, [{"epoch": 1, "loss": 1.0}], [{}], 10, [])
    assert (state["format"], state["zoo_version"]) == (CHECKPOINT_FORMAT, __version__)
    assert read_checkpoint(tmp_path / "checkpoint")["zoo_version"] == __version__


def test_a_file_without_a_format_is_the_oldest_format_and_keeps_working(tmp_path: Path,
                                                                       builtin_catalog: Catalog) -> None:
    assert check_format(tmp_path / "state.json", {"epochs_done": 0}, CHECKPOINT_FORMAT) == FIRST_FORMAT == 1
    run = make_run(tmp_path, "old", "interrupted", builtin_catalog)  # no 'format': as every run so far
    write_state(run)
    assert find_run("old", tmp_path / "runs").dir == run
    assert read_checkpoint(run / "checkpoint")["epochs_done"] == 1
    listed = run_cli("runs", "--runs-dir", str(tmp_path / "runs"), "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)[0]["newer_format"] is None


def test_a_damaged_format_is_not_taken_for_a_number(tmp_path: Path) -> None:
    for bad in ("3", 2.5, True, 0, None, [4]):
        with pytest.raises(ValueError, match="'format' must be a whole number from 1") as caught:
            check_format(tmp_path / "state.json", {"format": bad}, CHECKPOINT_FORMAT)
        assert not isinstance(caught.value, NewerFormat)


# -- a newer checkpoint -------------------------------------------------------------------


def test_resume_refuses_a_checkpoint_a_newer_zoo_wrote(tmp_path: Path, builtin_catalog: Catalog) -> None:
    run = make_run(tmp_path, "newer-checkpoint", "interrupted", builtin_catalog, format=1, zoo_version="0.1.0")
    state = write_state(run, format=99, zoo_version="7.2.0")
    (run / ".history.csv.0123abcd.tmp").write_bytes(b"x")  # what resume tidies, had it gone on
    before = snapshot(run)
    with pytest.raises(NewerFormat):
        read_checkpoint(run / "checkpoint")
    result = run_cli("resume", str(run), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2, result.output
    message = flat(result.stderr)
    assert f"error: {state} is in format 99, written by zoo 7.2.0; this zoo ({__version__}) reads formats up to " \
           f"{CHECKPOINT_FORMAT}" in message
    assert "hint: upgrade zoo (to 7.2.0 or later, pip install --upgrade zoo) to work with this run" in message
    assert "damaged" not in message and "Traceback" not in result.output and "internal error" not in result.output
    assert snapshot(run) == before  # refused before anything in the run changed


def test_a_newer_checkpoint_without_a_version_says_so(tmp_path: Path, builtin_catalog: Catalog) -> None:
    run = make_run(tmp_path, "anonymous", "interrupted", builtin_catalog)
    write_state(run, format=4)
    result = run_cli("resume", "anonymous", "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2, result.output
    assert "is in format 4, written by a newer zoo (it did not record its version)" in flat(result.stderr)


# -- a newer manifest ---------------------------------------------------------------------


@pytest.fixture
def newer_runs(tmp_path: Path, builtin_catalog: Catalog) -> Path:
    """A runs root with one run a newer zoo wrote (completed), one it left interrupted, and one of ours."""
    make_run(tmp_path, "ours", "completed", builtin_catalog, format=1, zoo_version=__version__)
    make_run(tmp_path, "newer", "completed", builtin_catalog, format=5, versions={"zoo": "3.0.1"})
    make_run(tmp_path, "newer-stopped", "interrupted", builtin_catalog, format=5, zoo_version="3.0.1")
    return tmp_path / "runs"


NEWER = "manifest.json is in format 5, written by zoo 3.0.1; this zoo ({version}) reads formats up to {known}"


@pytest.mark.parametrize("command", [
    ["evaluate", "newer"], ["export", "newer", "--format", "tflite"], ["bench", "newer"], ["compare", "ours", "newer"],
    ["predict", "newer", "x.npy"], ["predict", "{root}/newer/model.keras", "x.npy"], ["resume", "newer-stopped"],
    ["run", "--resume", "newer-stopped"], ["serve", "newer"]])
def test_every_command_that_reads_a_run_refuses_a_newer_manifest(newer_runs: Path, command: list[str]) -> None:
    (newer_runs / "newer" / "model.keras").write_bytes(b"not read either")
    before = snapshot(newer_runs)
    args = [part.format(root=newer_runs) for part in command]
    result = run_cli(*args, "--runs-dir", str(newer_runs))
    assert result.exit_code == 2, result.output
    message = flat(result.stderr)
    assert NEWER.format(version=__version__, known=MANIFEST_FORMAT) in message, message
    assert "upgrade zoo (to 3.0.1 or later, pip install --upgrade zoo)" in message
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert snapshot(newer_runs) == before


def test_zoo_runs_lists_every_run_then_refuses_the_newer_ones(newer_runs: Path) -> None:
    for extra in ([], ["--json"]):
        result = run_cli("runs", "--runs-dir", str(newer_runs), *extra)
        assert result.exit_code == 2, result.output
        message = flat(result.stderr)
        assert NEWER.format(version=__version__, known=MANIFEST_FORMAT) in message
        assert "(and 1 more run(s) written by a newer zoo)" in message and "upgrade zoo" in message
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"ours", "newer", "newer-stopped"}
    assert rows["ours"]["status"] == "completed" and rows["ours"]["newer_format"] is None
    assert rows["newer"]["status"] == "unknown" and "format 5, written by zoo 3.0.1" in rows["newer"]["newer_format"]


def test_the_python_api_refuses_a_newer_run_too(newer_runs: Path, builtin_catalog: Catalog) -> None:
    from zoo_core.training.prepare import run_config

    registry = load_registry(builtin_catalog, cwd=newer_runs)
    with pytest.raises(NewerFormat, match="format 5, written by zoo 3.0.1"):
        run_config(Run(newer_runs / "newer"), registry)
    assert run_config(Run(newer_runs / "ours"), registry).recipe == "mnist-mlp"
