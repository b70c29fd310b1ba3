"""[sweeps.NAME] in registry.toml: what a sweep means, and one test per class of mistake, each checking that the
message says what is wrong, at which line, and how to fix it; all before any trial, without TensorFlow or Optuna."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli, subprocess_env
from zoo_core.errors import ConfigError, UnknownNameError
from zoo_core.plugins import Catalog
from zoo_core.registry import load_registry
from zoo_core.sweeps.definition import Choice, Range, load_sweep, toml_value

GOOD = """
[sweeps.s]
summary = "architecture x learning rate"
run = "mnist-mlp"
trials = 4
sampler = "random"
seed = 3
set = { epochs = 2, exporters = [], "architecture.hidden" = [16] }

[sweeps.s.space]
architecture = ["mlp-128-64-10", "mlp"]
"optimizer.learning_rate" = { low = 1e-4, high = 1e-2, log = true }
"architecture.dropout" = { low = 0.0, high = 0.4, step = 0.1 }
batch_size = { low = 16, high = 64, step = 16 }
"""


def sweep_of(catalog: Catalog, folder: Path, text: str, name: str = "s", overrides: list[str] | None = None):
    (folder / "registry.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    return load_sweep(load_registry(catalog, cwd=folder), name, overrides)


def error_of(catalog: Catalog, folder: Path, text: str, overrides: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        sweep_of(catalog, folder, text, overrides=overrides)
    return str(caught.value)


def test_a_sweep_reads_every_kind_of_dimension(builtin_catalog: Catalog, tmp_path: Path) -> None:
    sweep = sweep_of(builtin_catalog, tmp_path, GOOD)
    assert (sweep.recipe, sweep.trials, sweep.sampler, sweep.seed) == ("mnist-mlp", 4, "random", 3)
    assert (sweep.metric, sweep.direction, sweep.pruner.kind) == ("val_accuracy", "maximize", "none")
    assert sweep.fixed == ["epochs=2", "exporters=[]", "architecture.hidden=[16]"]
    assert sweep.space["architecture"] == Choice(("mlp-128-64-10", "mlp"))
    rate = sweep.space["optimizer.learning_rate"]
    assert isinstance(rate, Range) and rate.log and not rate.integer
    batch = sweep.space["batch_size"]
    assert batch.integer and batch.grid() == [16, 32, 48, 64]
    assert sweep.space["architecture.dropout"].grid() == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_unquoted_dotted_keys_and_loss_metrics(builtin_catalog: Catalog, tmp_path: Path) -> None:
    sweep = sweep_of(builtin_catalog, tmp_path, """
        [sweeps.s]
        run = "mnist-mlp"
        metric = "val_loss"
        pruner = { kind = "median", startup_trials = 1, warmup_epochs = 1 }
        [sweeps.s.space]
        optimizer.learning_rate = [0.001, 0.01]
        architecture.hidden = [[16], [32, 16]]
    """)
    assert set(sweep.space) == {"optimizer.learning_rate", "architecture.hidden"}
    assert sweep.direction == "minimize"  # a loss is minimised unless the sweep says otherwise
    assert (sweep.pruner.kind, sweep.pruner.startup_trials, sweep.pruner.warmup_epochs) == ("median", 1, 1)
    assert not sweep.space["architecture.hidden"].scalar  # sampled as TOML text, parsed back
    assert [toml_value(v) for v in sweep.space["architecture.hidden"].values] == ["[16]", "[32, 16]"]


@pytest.mark.parametrize("table, expected", [
    ('trails = 3', ["registry.toml:3", "unknown key 'trails'", "did you mean 'trials'"]),
    ('run = "mnist-mpl"', ["registry.toml:3", "unknown run 'mnist-mpl'", "did you mean 'mnist-mlp'"]),
    ('sampler = "tpr"', ["registry.toml:3", "unknown sampler 'tpr'", "did you mean 'tpe'"]),
    ('pruner = "medain"', ["registry.toml:3", "unknown pruner 'medain'", "did you mean 'median'"]),
    ('metric = "val_acc"', ["registry.toml:3", "unknown metric 'val_acc'", "val_accuracy"]),
    ('direction = "max"', ["registry.toml:3", "direction must be one of maximize, minimize"]),
    ('trials = 0', ["registry.toml:3", "'trials' must be an integer >= 1"]),
])
def test_mistakes_in_the_sweep_table(builtin_catalog: Catalog, tmp_path: Path, table: str,
                                     expected: list[str]) -> None:
    run = "" if table.startswith("run") else 'run = "mnist-mlp"\n'
    text = f'[sweeps.s]\n{run}{table}\n[sweeps.s.space]\nepochs = [1, 2]\n'
    if table.startswith("run"):
        text = f'\n[sweeps.s]\n{table}\n[sweeps.s.space]\nepochs = [1, 2]\n'
    message = error_of(builtin_catalog, tmp_path, text)
    for part in expected:
        assert part in message, message


@pytest.mark.parametrize("space, expected", [
    ('architecture = ["mlp-128-64-10", "mlp-wide"]',
     ["registry.toml:5", 'space.architecture = "mlp-wide"', "unknown architecture 'mlp-wide'"]),
    ('"optimizer.learnig_rate" = { low = 1e-4, high = 1e-2 }',
     ["registry.toml:5", "space.optimizer.learnig_rate", "learning_rate"]),
    ('epocs = [1, 2]', ["registry.toml:5", "unknown key 'epocs'", "did you mean 'epochs'"]),
    ('"optimizer.learning_rate" = { low = 1e-2, high = 1e-4 }', ["registry.toml:5", "low (0.01) is above high (0.0001)"]),
    ('"optimizer.learning_rate" = { low = 0.0, high = 1e-2, log = true }', ["a log range needs low > 0"]),
    ('"optimizer.learning_rate" = { lo = 1e-4, high = 1e-2 }', ["unknown key 'lo' in a range", "did you mean 'low'"]),
    ('"optimizer.learning_rate" = { low = 1e-4, high = 1e-2, log = true, step = 1e-4 }', ["both 'log' and 'step'"]),
    ('epochs = 3', ["space.epochs must be a list of choices or a range", 'set = { "epochs" = 3 }']),
    ('epochs = []', ["an empty list of choices"]),
    ('epochs = { low = 0, high = 3 }', ["space.epochs = 0", "epochs"]),
])
def test_mistakes_in_the_space(builtin_catalog: Catalog, tmp_path: Path, space: str, expected: list[str]) -> None:
    message = error_of(builtin_catalog, tmp_path, f'[sweeps.s]\nrun = "mnist-mlp"\n\n[sweeps.s.space]\n{space}\n')
    for part in expected:
        assert part in message, message


def test_grid_needs_steps_and_the_command_may_not_set_a_swept_key(builtin_catalog: Catalog, tmp_path: Path) -> None:
    grid = '[sweeps.s]\nrun = "mnist-mlp"\nsampler = "grid"\n[sweeps.s.space]\n"optimizer.learning_rate" = { low = 1e-4, high = 1e-2 }\n'
    message = error_of(builtin_catalog, tmp_path, grid)
    assert "registry.toml:5" in message and "the grid sampler needs a step or a list" in message
    message = error_of(builtin_catalog, tmp_path, GOOD, overrides=["architecture=mlp"])
    assert "'architecture' is a parameter of sweep 's'" in message
    message = error_of(builtin_catalog, tmp_path, GOOD, overrides=["epochs=0"])
    assert "the base run 'mnist-mlp'" in message and "epochs" in message


def test_a_validation_metric_needs_a_validation_part(builtin_catalog: Catalog, tmp_path: Path) -> None:
    text = '[sweeps.s]\nrun = "mnist-mlp"\nset = { validation_split = 0.0 }\n[sweeps.s.space]\nepochs = [1, 2]\n'
    message = error_of(builtin_catalog, tmp_path, text)
    assert "needs a validation part" in message and 'metric = "accuracy"' in message


def test_an_unknown_sweep_is_a_did_you_mean(builtin_catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "registry.toml").write_text(textwrap.dedent(GOOD), encoding="utf-8")
    with pytest.raises(UnknownNameError, match="unknown sweep 'ss'") as caught:
        load_sweep(load_registry(builtin_catalog, cwd=tmp_path), "ss")
    assert "did you mean 's'" in str(caught.value)


@pytest.mark.parametrize("name", ["/tmp/x", "../../x", "a/b", "..", ".hidden", "-x", "a b", "x" * 81])
def test_a_sweep_name_that_is_not_one_plain_folder_name_is_refused_at_its_line(builtin_catalog: Catalog,
                                                                               tmp_path: Path, name: str) -> None:
    """A sweep's name is its report's folder (<runs root>/sweeps/NAME): a path would write outside the runs root."""
    text = f'[sweeps."{name}"]\nrun = "mnist-mlp"\n[sweeps."{name}".space]\nepochs = [1, 2]\n'
    (tmp_path / "registry.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_sweep(load_registry(builtin_catalog, cwd=tmp_path), name)
    message = str(caught.value)
    assert "registry.toml:1 [sweeps." in message and f"'{name}' cannot name a sweep" in message, message
    assert "cannot name a sweep" in message and "only letters, digits, '.', '_' and '-'" in message
    assert "hint: rename the sweep, e.g. [sweeps." in message
    from zoo_core.sweeps.report import sweep_folder

    with pytest.raises(ConfigError, match="cannot name a sweep"):  # a Sweep made in Python is refused too
        sweep_folder(tmp_path / "runs", name)


def test_zoo_sweep_never_writes_outside_the_runs_root(in_tmp_cwd: Path) -> None:
    escaping = '"../../escaped"'
    (in_tmp_cwd / "registry.toml").write_text(textwrap.dedent(f"""
        [sweeps.{escaping}]
        run = "mnist-mlp"
        trials = 1
        set = {{ epochs = 1, max_train_samples = 500, max_test_samples = 100, exporters = [] }}
        [sweeps.{escaping}.space]
        "optimizer.learning_rate" = [0.01]
    """), encoding="utf-8")
    result = run_cli("sweep", "../../escaped", "--runs-dir", str(in_tmp_cwd / "runs"))
    assert result.exit_code == 2, result.output
    assert 'registry.toml:2 [sweeps."../../escaped"]' in result.stderr and "cannot name a sweep" in result.stderr
    assert not (in_tmp_cwd / "escaped").exists() and not (in_tmp_cwd / "runs").exists()
    table = run_cli("sweeps")
    assert table.exit_code == 0, table.output
    assert re.search(r"^\.\./\.\./escaped\s+-\s+-\s+invalid: .*cannot name a sweep", table.stdout, re.M), table.stdout
    listed = run_cli("list", "sweeps")
    assert listed.exit_code == 0 and re.search(r"^\.\./\.\./escaped\s+invalid: .*cannot name", listed.stdout, re.M)
    assert re.search(r"^mnist-arch-lr\s+MLP or CNN", listed.stdout, re.M)  # the others as before


def test_the_cli_shows_lists_and_refuses_bad_sweeps(in_tmp_cwd: Path) -> None:
    (in_tmp_cwd / "registry.toml").write_text(textwrap.dedent(GOOD) + '\n[sweeps.broken]\nrun = "nope"\n',
                                             encoding="utf-8")
    shown = run_cli("show", "s")
    assert shown.exit_code == 0, shown.output
    assert "optimizer.learning_rate  float from 0.0001 to 0.01, log scale" in shown.stdout
    assert 'one of: "mlp-128-64-10", "mlp"' in shown.stdout and "sampler: random" in shown.stdout
    listed = run_cli("list", "sweeps")
    names = [line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()]
    assert listed.exit_code == 0 and names == ["broken", "mnist-arch-lr", "mnist-mlp-search", "s"], listed.stdout
    table = run_cli("sweeps")
    assert table.exit_code == 0, table.output
    assert re.search(r"^s\s+mnist-mlp\s+val_accuracy\s+not started\s+0/4\s+-", table.stdout, re.M), table.stdout
    assert re.search(r"^broken\s+-\s+-\s+invalid: .*a sweep needs a space", table.stdout, re.M)  # broken: says why, others still listed
    bad = run_cli("sweep", "broken")
    assert bad.exit_code == 2 and "a sweep needs a space" in bad.stderr


def test_definitions_never_import_tensorflow_or_optuna(tmp_path: Path) -> None:
    """zoo show SWEEP and the whole check before trials run without TensorFlow (and without Optuna)."""
    (tmp_path / "registry.toml").write_text(textwrap.dedent(GOOD), encoding="utf-8")
    code = ("import sys; from zoo_core.cli import app; from typer.testing import CliRunner\n"
            "from zoo_core.workspace import Workspace; from zoo_core.sweeps.definition import load_sweep\n"
            "load_sweep(Workspace().registry(), 's')\n"
            "r = CliRunner().invoke(app, ['show', 's']); assert r.exit_code == 0, r.output\n"
            "r = CliRunner().invoke(app, ['sweeps']); assert r.exit_code == 0, r.output\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'optuna') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=subprocess_env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_optuna_zoo_sweep_says_how_to_install_it(in_tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (in_tmp_cwd / "registry.toml").write_text(textwrap.dedent(GOOD), encoding="utf-8")
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    result = run_cli("sweep", "s", "--runs-dir", str(in_tmp_cwd / "runs"))
    assert result.exit_code == 2
    assert "zoo sweep needs Optuna" in result.stderr and "pip install 'zoo[sweeps]'" in result.stderr
    assert not (in_tmp_cwd / "runs").exists()  # nothing was started
