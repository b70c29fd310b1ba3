"""Issue 27, item 11: commands and hints. Each answer names what is wrong and a fix that the same command accepts.

One tiny run of a recipe named ``a/b`` is trained once, under the default *relative* runs root ``./runs``
(as most users have it); the other cases need no training.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import run_cli
from zoo_core import Component
from zoo_core.errors import ConfigError
from zoo_core.plugins import Catalog
from zoo_core.registry import apply_exporter_overrides, load_registry
from zoo_core.runs import Run, RunLock, RunNotFound

TINY_RECIPE = """
[runs."a/b"]
summary = "a recipe whose name holds a slash"
dataset = "mnist"
architecture = { component = "mlp", hidden = [16] }
optimizer = "adam"
loss = "sparse-categorical-crossentropy"
exporters = ["tflite"]
epochs = 1
max_train_samples = 500
max_test_samples = 200
"""


@pytest.fixture(scope="module")
def relative_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A completed run of recipe 'a/b' under ./runs, a relative runs root; the tests run in that folder."""
    folder = tmp_path_factory.mktemp("relative")
    (folder / "registry.toml").write_text(textwrap.dedent(TINY_RECIPE), encoding="utf-8")
    before = Path.cwd()
    os.chdir(folder)
    try:
        result = run_cli("run", "a/b", "--quiet")
        assert result.exit_code == 0, result.output
        (run,) = Path("runs").iterdir()
        yield run
    finally:
        os.chdir(before)


@pytest.fixture
def in_run_folder(relative_run: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(relative_run.parent.parent.resolve())
    return relative_run


def test_bench_reuses_an_export_recorded_under_a_relative_runs_root(in_run_folder: Path) -> None:
    """The manifest records 'runs/ID/exports/...' (relative to the working directory): bench must find it."""
    from zoo_core.bench.artifacts import verified_exports

    run = Run(in_run_folder)
    recorded = [e["path"] for e in run.manifest()["exports"]]
    assert recorded[0].startswith(f"runs/{run.id}/exports/"), recorded  # what the exporter returned
    found = verified_exports(run)
    assert [Path(e["path"]).name for e in found] == [Path(recorded[0]).name], found
    assert Path(found[0]["path"]).is_file()


def test_a_recipe_whose_name_holds_a_slash_is_found_by_bench_and_compare(in_run_folder: Path,
                                                                        builtin_catalog: Catalog) -> None:
    from zoo_core.bench.targets import find_target

    registry = load_registry(builtin_catalog, cwd=Path.cwd())
    assert find_target("a/b", Path("runs"), registry).dir == in_run_folder
    with pytest.raises(RunNotFound, match="the path does not exist"):  # a path that is no recipe: as before
        find_target("c/d", Path("runs"), registry)


def test_bench_on_a_running_run_does_not_hint_at_resume(in_run_folder: Path, builtin_catalog: Catalog) -> None:
    """zoo resume refuses a run another process trains in: the hint says to wait instead."""
    from zoo_core.bench.targets import find_target

    busy = in_run_folder.parent / "a-b-running"
    shutil.copytree(in_run_folder, busy)
    manifest = json.loads((busy / "manifest.json").read_text())
    manifest.update(status="running", pid=os.getpid())
    (busy / "manifest.json").write_text(json.dumps(manifest))
    lock = RunLock(busy).acquire("test")
    try:
        registry = load_registry(builtin_catalog, cwd=Path.cwd())
        with pytest.raises(RunNotFound) as caught:
            find_target(busy.name, Path("runs"), registry)
        assert "status: running" in caught.value.message
        assert "zoo resume" not in caught.value.hint and "still training" in caught.value.hint, caught.value.hint
        resumed = run_cli("resume", busy.name)
        assert resumed.exit_code != 0 and "zoo resume" not in resumed.stderr.partition("hint:")[2]
    finally:
        lock.release()
        shutil.rmtree(busy)


def test_resume_with_an_unknown_key_says_unknown_key(in_run_folder: Path) -> None:
    result = run_cli("resume", in_run_folder.name, "--set", "nosuch=1")
    assert result.exit_code == 2, result.output
    assert "unknown key 'nosuch'" in result.stderr and "cannot change" not in result.stderr, result.stderr
    assert "on resume, --set can change: strategy" in result.stderr
    typo = run_cli("resume", in_run_folder.name, "--set", "epoch=3")
    assert typo.exit_code == 2 and "did you mean 'epochs'?" in typo.stderr, typo.stderr
    fixed = run_cli("resume", in_run_folder.name, "--set", "seed=3")  # a real key that is fixed: as before
    assert fixed.exit_code == 2 and "'seed' cannot change" in fixed.stderr


def test_resume_of_a_completed_run_is_a_command_mistake_exit_2(in_run_folder: Path) -> None:
    result = run_cli("resume", in_run_folder.name)
    assert result.exit_code == 2, result.output
    assert "already completed; nothing to resume" in result.stderr and "zoo run --config" in result.stderr


def hinted_set(message: str) -> str:
    """The KEY=VALUE of 'hint: e.g. --set KEY=VALUE ...'."""
    return message.split("e.g. --set ", 1)[1].split()[0]


@pytest.mark.parametrize("given", ["calibration_samples=abc", "tflite.calibration_samples=abc"])
def test_zoo_export_hints_a_set_that_zoo_export_accepts(in_run_folder: Path, builtin_catalog: Catalog,
                                                        given: str) -> None:
    result = run_cli("export", in_run_folder.name, "-f", "tflite", "--set", given)
    assert result.exit_code == 2, result.output
    hint = hinted_set(result.stderr)
    assert hint == given.replace("abc", "500"), result.stderr  # as the user wrote it, never exporters.NAME.
    registry = load_registry(builtin_catalog, cwd=Path.cwd())
    choice = registry.resolve("exporter", "tflite", "--format tflite")
    apply_exporter_overrides([choice], [hint])  # what the hint says is accepted
    assert choice.params["calibration_samples"] == 500


@pytest.mark.parametrize("table, hint", [
    ('[optimizers.slow]\ncomponent = "adam"\nlearning_rate = -1\n', "hint: e.g. learning_rate = 0.001 (the default)"),
    ('[runs.r]\ndataset = "mnist"\narchitecture = "mlp"\noptimizer = "adam"\n'
     'loss = "sparse-categorical-crossentropy"\nepochs = 0\n', "hint: e.g. epochs = 10"),
    ('[runs.r]\ndataset = "mnist"\narchitecture = "mlp"\noptimizer = { component = "adam", amsgrad = 3 }\n'
     'loss = "sparse-categorical-crossentropy"\n', "hint: e.g. amsgrad = false (the default)"),
])
def test_a_registry_file_error_hints_at_the_file_s_key_not_a_set_option(builtin_catalog: Catalog, tmp_path: Path,
                                                                        table: str, hint: str) -> None:
    (tmp_path / "registry.toml").write_text(table, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        registry = load_registry(builtin_catalog, cwd=tmp_path)
        registry.resolve_recipe("r")
    message = str(caught.value)
    assert "registry.toml:" in message and hint in message and "--set" not in message, message


def test_set_errors_still_hint_in_set_form(builtin_catalog: Catalog, tmp_path: Path) -> None:
    registry = load_registry(builtin_catalog, cwd=tmp_path)
    for given, hint in (("epochs=0", "e.g. --set epochs=10"),
                        ("optimizer.learning_rate=-1", "e.g. --set optimizer.learning_rate=0.001 (the default)")):
        with pytest.raises(ConfigError) as caught:
            registry.resolve_recipe("mnist-mlp", [given])
        assert caught.value.hint.startswith(hint), caught.value.hint


def sized(size: int = 3) -> Any:
    """A parameter with a default.

    Args:
        size: how big.
    """
    return size


def test_the_conformance_kit_refuses_a_bad_value_it_was_given_instead_of_blaming_the_defaults() -> None:
    from zoo_core.testing import check_parameters

    with pytest.raises(ConfigError) as caught:
        check_parameters("loss", Component("sized", sized), {"size": "big"})
    message = str(caught.value)
    assert "params for loss 'sized': parameter 'size' must be an integer" in message, message
    assert "give the kit a value that 'size' accepts (int)" in message
    results = check_parameters("loss", Component("sized", sized), {"size": 5})  # a good value: every check passes
    assert all(r.status == "passed" for r in results), results


def fake_run(root: Path, name: str, settings: str) -> Run:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"run_id": name, "recipe": "r", "status": "completed"}))
    (folder / "config.toml").write_text(textwrap.dedent(settings), encoding="utf-8")
    return Run(folder)


def test_compare_shows_callbacks_short_and_ignores_progress(builtin_catalog: Catalog, tmp_path: Path) -> None:
    from zoo_core.bench.compare import setting_differences, settings_of

    registry = load_registry(builtin_catalog, cwd=tmp_path)
    one = fake_run(tmp_path, "one", """
        epochs = 2
        progress = "none"
        callbacks = [{ component = "callbacks:early-stopping", monitor = "val_loss", patience = 1 }]
    """)
    two = fake_run(tmp_path, "two", """
        epochs = 2
        progress = "bar"
        callbacks = [{ component = "callbacks:early-stopping", monitor = "val_loss", patience = 3 },
                     { component = "callbacks:reduce-lr-on-plateau" }]
    """)
    differ, same = setting_differences([settings_of(one, registry), settings_of(two, registry)])
    assert dict(differ) == {"callbacks": ["early-stopping(patience=1)", "early-stopping, reduce-lr-on-plateau"]}, differ
    assert ("epochs", "2") in same and "progress" not in dict(same)
