"""A link in a run directory is refused, never written through (issue 27, item 1).

``ln -s OTHER_FILE runs/X/.lock; zoo evaluate X`` used to exit 0 with OTHER_FILE
holding "PID host". Every command that takes a run now refuses a run that holds
a symbolic link anywhere (exit code 2, the link named, how to fix it), the lock
and the manifest's reserve are opened without following links, and nothing
outside the run directory changes. The runs here are fakes: nothing trains,
and no command gets as far as TensorFlow.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from conftest import run_cli
from zoo_core.files import write_text_atomic
from zoo_core.plugins import Catalog
from zoo_core.registry import load_registry
from zoo_core.runs import LOCK_FILE, LinkInRun, Manifest, RunLock, find_link, find_run, list_runs
from zoo_core.runs.lock import lock_held
from zoo_core.runs.manifest import RESERVE_BYTES, RESERVE_FILE

PRECIOUS = "a file outside the run directory\n"
RUN_ID = "mnist-mlp-20260101-000000-abcdef"


@pytest.fixture
def run_dir(tmp_path: Path, builtin_catalog: Catalog) -> Path:
    """A completed run of mnist-mlp under ``tmp_path/runs`` (a real config.toml; model.keras is not a model)."""
    run = tmp_path / "runs" / RUN_ID
    run.mkdir(parents=True)
    config = load_registry(builtin_catalog, cwd=tmp_path).resolve_recipe("mnist-mlp", ["exporters=[]"])
    (run / "config.toml").write_text(config.to_toml(), encoding="utf-8")
    (run / "manifest.json").write_text(json.dumps({"run_id": RUN_ID, "recipe": "mnist-mlp", "status": "completed",
                                                   "started": "2026-01-01T00:00:00+00:00", "exports": []}))
    (run / "model.keras").write_bytes(b"not a model")
    (run / "plots").mkdir()
    return run


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the run directory that a link will point at."""
    path = tmp_path / "outside.txt"
    path.write_text(PRECIOUS)
    return path


def refused(error: LinkInRun, link: Path) -> None:
    """The error says what is wrong, at which path, and how to fix it."""
    text = str(error)
    assert error.exit_code == 2
    assert f"'{link}'" in text and "link" in text and f"rm '{link}'" in text, text


# -- every command that takes a run ---------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["evaluate", RUN_ID], ["evaluate", RUN_ID, "--other-data"], ["export", RUN_ID, "-f", "savedmodel"],
    ["resume", RUN_ID], ["bench", RUN_ID], ["compare", RUN_ID, RUN_ID], ["predict", RUN_ID, "input.npy"],
    ["evaluate", "mnist-mlp"],  # a recipe name: its latest completed run
    ["serve", RUN_ID],
])
def test_every_command_refuses_a_run_whose_lock_is_a_link(in_tmp_cwd: Path, run_dir: Path, outside: Path,
                                                           command: list[str]) -> None:
    (run_dir / LOCK_FILE).symlink_to(outside)
    result = run_cli(*command, "--runs-dir", str(run_dir.parent))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"cannot use run '{RUN_ID}'" in result.stderr and "is a symbolic link to" in result.stderr, result.stderr
    assert f"rm '{run_dir / LOCK_FILE}'" in result.stderr
    assert outside.read_text() == PRECIOUS  # nothing outside the run directory changed
    assert (run_dir / LOCK_FILE).is_symlink()  # and the user's link is left for the user to remove


def test_zoo_runs_lists_such_a_run_and_names_its_link(in_tmp_cwd: Path, run_dir: Path, outside: Path) -> None:
    (run_dir / LOCK_FILE).symlink_to(outside)
    listed = run_cli("runs", "--runs-dir", str(run_dir.parent))
    assert listed.exit_code == 0, listed.output
    assert RUN_ID in listed.stdout and "holds a symbolic link" in listed.stdout and LOCK_FILE in listed.stdout
    as_json = run_cli("runs", "--runs-dir", str(run_dir.parent), "--json")
    assert json.loads(as_json.stdout)[0]["link"] == str(run_dir / LOCK_FILE)
    assert outside.read_text() == PRECIOUS


@pytest.mark.parametrize("planted", [LOCK_FILE, RESERVE_FILE, "metrics.json", "checkpoint/state.json",
                                     "exports/mnist-mlp/1/saved_model.pb"])
def test_a_link_anywhere_in_the_run_is_refused(run_dir: Path, outside: Path, planted: str) -> None:
    link = run_dir / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    with pytest.raises(LinkInRun) as caught:
        find_run(RUN_ID, run_dir.parent)
    refused(caught.value, link)
    assert find_link(run_dir) == link
    assert [run.id for run in list_runs(run_dir.parent)] == [RUN_ID]  # still listed, with the link named
    with pytest.raises(LinkInRun):
        RunLock(run_dir).acquire("export")
    assert outside.read_text() == PRECIOUS


@pytest.fixture
def planted_plots(run_dir: Path) -> Path:
    (run_dir / "plots").rmdir()
    return run_dir / "plots"


def test_a_linked_folder_is_refused(run_dir: Path, planted_plots: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    planted_plots.symlink_to(elsewhere)
    with pytest.raises(LinkInRun) as caught:
        find_run(RUN_ID, run_dir.parent)
    refused(caught.value, planted_plots)
    assert list(elsewhere.iterdir()) == []


# -- the files zoo writes in place: never through a link, even without the check above ----------------


@pytest.mark.parametrize("checked", [True, False])
def test_the_lock_is_never_written_through_a_link(run_dir: Path, outside: Path, tmp_path: Path, checked: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if not checked:  # without the look for links: the lock's own open does not follow one either
        monkeypatch.setattr("zoo_core.runs.lock.check_no_links", lambda *args, **kwargs: None)
    (run_dir / LOCK_FILE).symlink_to(outside)
    with pytest.raises(LinkInRun) as caught:
        RunLock(run_dir).acquire("evaluate")
    refused(caught.value, run_dir / LOCK_FILE)
    assert "cannot evaluate run" in str(caught.value)
    assert outside.read_text() == PRECIOUS
    (run_dir / LOCK_FILE).unlink()
    (run_dir / LOCK_FILE).symlink_to(tmp_path / "absent")  # a dangling link: the file would be created outside
    with pytest.raises(LinkInRun):
        RunLock(run_dir).acquire("evaluate")
    assert not (tmp_path / "absent").exists()


def test_a_lock_that_is_a_hard_link_is_refused(run_dir: Path, outside: Path) -> None:
    os.link(outside, run_dir / LOCK_FILE)  # root may hard-link any file: the link is the same file
    with pytest.raises(LinkInRun) as caught:
        RunLock(run_dir).acquire("resume")
    refused(caught.value, run_dir / LOCK_FILE)
    assert "hard link" in str(caught.value)
    assert outside.read_text() == PRECIOUS


def test_the_reserve_is_never_written_through_a_link(run_dir: Path, outside: Path) -> None:
    reserve = run_dir / RESERVE_FILE
    reserve.symlink_to(outside)
    Manifest(run_dir / "manifest.json", {"status": "running"}, reserve=True)
    assert outside.read_text() == PRECIOUS
    assert not reserve.is_symlink() and reserve.stat().st_size == RESERVE_BYTES  # its own file, in the run


def test_looking_whether_a_run_is_alive_does_not_follow_a_linked_lock(run_dir: Path, outside: Path) -> None:
    (run_dir / LOCK_FILE).symlink_to(outside)
    with open(outside) as held:  # another process's lock on the file outside: not the run's
        fcntl.flock(held, fcntl.LOCK_EX)
        assert lock_held(run_dir / LOCK_FILE) is None  # unknown: the run's status then comes from its pid


def test_an_atomic_write_replaces_a_link_at_its_name_and_leaves_the_target(tmp_path: Path, outside: Path) -> None:
    final = tmp_path / "metrics.json"
    final.symlink_to(outside)
    write_text_atomic(final, "{}\n")
    assert outside.read_text() == PRECIOUS
    assert not final.is_symlink() and final.read_text() == "{}\n"
