"""Names that stay bound and failures that stay local, with real installed plugins.

zoo-fixture-clash (tests/fixtures/plugin_packages) holds two plugins: one
registers names the built-ins and zoo-fixture-good already use (mnist, adam,
sparse-categorical-crossentropy, fixture-tiny), each of whose factories raises
if used; its sibling fails to import. Installing them must change nothing
for zoo's own recipes and defaults, or for a run made before; naming the
failed sibling's components in ./registry.toml makes only those entries
unavailable.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import PLUGIN_PACKAGES, _pip_install, run_cli
from zoo_core.errors import AmbiguousNameError, UnknownNameError
from zoo_core.plugins import load_catalog
from zoo_core.registry import Registry, load_registry
from zoo_core.runs import Run
from zoo_core.training.prepare import run_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FAILED_SIBLING = ("plugin 'fixture-clash-extras' failed to load: ModuleNotFoundError: "
                  "No module named 'zoo_fixture_clash_wine_reader_not_installed'")
TINY_RUN = ["--set", "epochs=1", "--set", "max_train_samples=500", "--set", "max_test_samples=200",
            "--set", "exporters=[]", "--set", "progress=none"]


@pytest.fixture(scope="module")
def clash_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """zoo-fixture-clash installed with pip into a folder of its own."""
    pytest.importorskip("setuptools", reason="the fixture plugin packages build with setuptools")
    root = tmp_path_factory.mktemp("clash-site")
    source = shutil.copytree(PLUGIN_PACKAGES / "zoo-fixture-clash", root / "src")
    output, _ = (job := _pip_install(source, root / "site")).communicate(timeout=300)
    if job.returncode != 0:
        pytest.fail(f"pip could not install zoo-fixture-clash:\n{output}")
    return root / "site"


@pytest.fixture
def install_clash(clash_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """``install_clash()`` puts zoo-fixture-clash on sys.path from then on in this test."""
    yield lambda: monkeypatch.syspath_prepend(str(clash_site))
    for module in [m for m in sys.modules if m.startswith("zoo_fixture_")]:
        del sys.modules[module]


def registry_here(folder: Path) -> Registry:
    return load_registry(load_catalog(warn=lambda line: None), cwd=folder)


# -- zoo's own recipes and defaults ------------------------------------------------------


def test_zoo_recipes_and_defaults_bind_to_the_builtins(install_clash: Callable[[], None], in_tmp_cwd: Path) -> None:
    install_clash()
    registry = registry_here(in_tmp_cwd)
    config = registry.resolve_recipe("mnist-mlp")
    assert [(c.kind, c.component.plugin) for c in config.choices()[:4]] == [
        ("dataset", "mnist"), ("architecture", "mlp"), ("optimizer", "keras-optimizers"), ("loss", "keras-losses")]
    assert config.optimizer.params["learning_rate"] == 0.001  # zoo's adam, not the clash's 0.5

    composed = registry.compose("mnist:mnist", "mlp")  # zoo train without --optimizer/--loss
    assert (composed.optimizer.component.qualified_name, composed.loss.component.qualified_name) == (
        "keras-optimizers:adam", "keras-losses:sparse-categorical-crossentropy")

    with pytest.raises(AmbiguousNameError) as caught:  # the user's own bare name stays an error listing both
        registry.resolve_recipe("mnist-mlp", ["optimizer=adam"])
    assert "optimizer 'adam' is ambiguous: registered by plugins keras-optimizers (zoo" in str(caught.value)
    assert "'fixture-clash:adam'" in str(caught.value)
    with pytest.raises(AmbiguousNameError, match="command line: optimizer 'adam' is ambiguous"):
        registry.compose("mnist:mnist", "mlp", "adam")
    assert registry.resolve_recipe("mnist-mlp", ["optimizer=fixture-clash:adam"]).optimizer.params == \
        {"learning_rate": 0.5}

    result = run_cli("show", "mnist-mlp", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config"]["optimizer"]["component"] == "keras-optimizers:adam"


@pytest.mark.slow
def test_zoo_train_defaults_bind_to_the_builtins(install_clash: Callable[[], None], in_tmp_cwd: Path) -> None:
    install_clash()  # its adam and sparse-categorical-crossentropy raise if they are ever built
    result = run_cli("train", "-d", "mnist:mnist", "-a", "mlp", "--runs-dir", str(in_tmp_cwd / "runs"), "--quiet",
                     "--set", "epochs=1", "--set", "max_train_samples=300", "--set", "max_test_samples=100")
    assert result.exit_code == 0, result.output
    (run,) = (in_tmp_cwd / "runs").iterdir()
    plugins = {c["kind"]: c["plugin"] for c in json.loads((run / "manifest.json").read_text())["components"]}
    assert (plugins["optimizer"], plugins["loss"]) == ("keras-optimizers", "keras-losses")


def test_a_users_preset_binds_like_the_user_wrote_it(install_clash: Callable[[], None], in_tmp_cwd: Path) -> None:
    install_clash()
    (in_tmp_cwd / "registry.toml").write_text(textwrap.dedent("""
        [optimizers.slow]
        component = "adam"
        learning_rate = 0.0001
        [optimizers.slow-zoo]
        component = "keras-optimizers:adam"
        learning_rate = 0.0001
    """), encoding="utf-8")
    registry = registry_here(in_tmp_cwd)
    with pytest.raises(AmbiguousNameError, match=r"\[optimizers.slow\]: optimizer 'adam' is ambiguous"):
        registry.resolve_recipe("mnist-mlp", ["optimizer=slow"])
    (in_tmp_cwd / "registry.toml").write_text('[datasets.fixture-tiny]\ncomponent = "mnist:mnist"\n', encoding="utf-8")
    with pytest.raises(AmbiguousNameError) as caught:  # a user's preset and a plugin's component of one name
        registry_here(in_tmp_cwd).run("mnist-mlp", ["dataset=fixture-tiny"])
    assert "dataset 'fixture-tiny' is ambiguous: a preset (" in str(caught.value)
    assert "registry.toml:1) and a dataset of plugin 'fixture-clash'" in str(caught.value)
    assert "write 'fixture-clash:fixture-tiny' for a plugin's, or rename the preset" in str(caught.value)
    chosen = registry.resolve_recipe("mnist-mlp", ["optimizer=slow-zoo"]).optimizer
    assert (chosen.component.plugin, chosen.chain) == ("keras-optimizers", ["slow-zoo", "keras-optimizers:adam"])


# -- a failed plugin ----------------------------------------------------------------------


WINE_REGISTRY = """
[datasets.wine-seed7]
summary = "wine, shuffled with seed 7"
component = "wine"

[runs.wine-run]
dataset = "wine-seed7"
architecture = "mlp"
optimizer = "keras-optimizers:adam"
loss = "keras-losses:sparse-categorical-crossentropy"

[runs.wine-qualified]
dataset = "fixture-clash-extras:wine"
architecture = "mlp"
optimizer = "sgd"
loss = "keras-losses:sparse-categorical-crossentropy"

[runs.mnist-sgd]
dataset = "mnist:mnist"
architecture = "mlp-128-64-10"
optimizer = "sgd"
loss = "keras-losses:sparse-categorical-crossentropy"
"""


def test_a_failed_plugin_makes_only_the_entries_that_need_it_unavailable(
        install_clash: Callable[[], None], in_tmp_cwd: Path) -> None:
    install_clash()
    (in_tmp_cwd / "registry.toml").write_text(WINE_REGISTRY, encoding="utf-8")
    listing = run_cli("list")
    assert listing.exit_code == 0, listing.output
    lines = {line.split()[0]: line for line in listing.stdout.splitlines() if line.strip()}
    for name in ("wine-seed7", "wine-run", "wine-qualified"):
        assert lines[name].split()[1:3] == ["unavailable:", "unknown" if name != "wine-run" else "preset"], name
    assert "unavailable" not in lines["mnist-sgd"] + lines["mnist-mlp"] + lines["mlp-128-64-10"]

    rows = {row["name"]: row for row in json.loads(run_cli("list", "--json").stdout)}
    assert rows["wine-seed7"]["unavailable"] == f"unknown dataset 'wine' ({FAILED_SIBLING})"
    assert rows["wine-run"]["unavailable"] == \
        f"preset 'wine-seed7' (registry.toml:2): unknown dataset 'wine' ({FAILED_SIBLING})"
    assert rows["wine-qualified"]["unavailable"] == f"unknown dataset 'fixture-clash-extras:wine' ({FAILED_SIBLING})"
    assert rows["mnist-sgd"]["unavailable"] == "" and rows["mnist-mlp"]["unavailable"] == ""

    for command in (["show", "mnist"], ["show", "mnist-mlp"], ["show", "mnist-sgd"], ["list", "runs"]):
        assert run_cli(*command).exit_code == 0, command
    for command in (["show", "wine-seed7"], ["run", "wine-run"], ["run", "wine-qualified"]):
        result = run_cli(*command)
        assert result.exit_code == 2, command
        message = " ".join(result.stderr.split())
        assert "unknown dataset" in message and FAILED_SIBLING in message and "Traceback" not in message
    assert "registry.toml:4 [datasets.wine-seed7]: unknown dataset 'wine'" in " ".join(
        run_cli("show", "wine-seed7").stderr.split())  # the line of `component = "wine"`


def test_a_type_error_in_the_registry_stays_fatal_with_a_failed_plugin(
        install_clash: Callable[[], None], in_tmp_cwd: Path) -> None:
    install_clash()
    (in_tmp_cwd / "registry.toml").write_text(WINE_REGISTRY + 'epochs = "ten"\n', encoding="utf-8")
    result = run_cli("list")
    assert result.exit_code == 2
    assert "registry.toml:23 [runs.mnist-sgd]: setting 'epochs' must be an integer" in " ".join(result.stderr.split())


# -- runs made before a clashing plugin was installed ---------------------------------------


def make_run(folder: Path, dataset: str, plugin: str, qualified: bool) -> Path:
    """A run directory written by hand: config.toml (bare names unless ``qualified``) and manifest.json."""
    run = folder / "runs" / "old-run"
    run.mkdir(parents=True)
    name = f"{plugin}:{dataset}" if qualified else dataset
    (run / "config.toml").write_text(textwrap.dedent(f"""
        recipe = "old"
        epochs = 1
        exporters = []
        [dataset]
        component = "{name}"
        size = 4
        [architecture]
        component = "mlp"
        [optimizer]
        component = "adam"
        [loss]
        component = "sparse-categorical-crossentropy"
    """), encoding="utf-8")
    components = [{"kind": "dataset", "name": dataset, "component": dataset, "plugin": plugin},
                  {"kind": "optimizer", "name": "adam", "component": "adam", "plugin": "keras-optimizers"},
                  {"kind": "loss", "name": "sparse-categorical-crossentropy",
                   "component": "sparse-categorical-crossentropy", "plugin": "keras-losses"}]
    (run / "manifest.json").write_text(json.dumps({"recipe": "old", "status": "completed",
                                                   "components": components}), encoding="utf-8")
    return run


def test_an_old_runs_bare_names_bind_to_the_plugins_its_manifest_recorded(
        use_plugins: Callable[..., list[Path]], install_clash: Callable[[], None], in_tmp_cwd: Path) -> None:
    use_plugins("zoo-fixture-good")
    install_clash()  # registers fixture-tiny, adam and sparse-categorical-crossentropy again
    run = make_run(in_tmp_cwd, "fixture-tiny", "fixture-good", qualified=False)
    registry = registry_here(in_tmp_cwd)
    config = run_config(Run(run), registry)
    assert [c.component.qualified_name for c in config.choices()] == [
        "fixture-good:fixture-tiny", "mlp:mlp", "keras-optimizers:adam", "keras-losses:sparse-categorical-crossentropy"]
    assert config.dataset.params == {"size": 4, "noise": 0.1}
    # zoo run --config RUN/config.toml reads the same manifest (cli.run_commands passes the file's path)
    table = tomllib.loads((run / "config.toml").read_text(encoding="utf-8"))
    again = registry.run_from_table(table, "old", str(run / "config.toml"))
    assert again.to_dict() == config.to_dict()
    assert again.to_dict()["dataset"]["component"] == "fixture-good:fixture-tiny"

    (run / "manifest.json").unlink()  # without its record, the bare name is ambiguous, as any user's
    with pytest.raises(AmbiguousNameError, match="dataset 'fixture-tiny' is ambiguous"):
        registry.run_from_table(table, "old", str(run / "config.toml"))


def test_a_run_whose_plugin_is_gone_says_so(use_plugins: Callable[..., list[Path]], in_tmp_cwd: Path) -> None:
    run = make_run(in_tmp_cwd, "fixture-tiny", "fixture-good", qualified=True)  # fixture-good is not installed
    with pytest.raises(UnknownNameError, match="unknown dataset 'fixture-good:fixture-tiny' "
                                               r"\(no plugin 'fixture-good' is installed\)"):
        run_config(Run(run), registry_here(in_tmp_cwd))


def test_a_run_made_before_a_clash_keeps_working(install_clash: Callable[[], None], in_tmp_cwd: Path) -> None:
    """Train a tiny real run, install the clashing plugins, then evaluate, export and repeat it."""
    runs = in_tmp_cwd / "runs"
    result = run_cli("run", "mnist-mlp", "--runs-dir", str(runs), "--quiet", *TINY_RUN)
    assert result.exit_code == 0, result.output
    [run] = [path for path in runs.iterdir() if path.is_dir()]
    config = tomllib.loads((run / "config.toml").read_text(encoding="utf-8"))
    assert [config[k]["component"] for k in ("dataset", "architecture", "optimizer", "loss")] == [
        "mnist:mnist", "mlp:mlp", "keras-optimizers:adam", "keras-losses:sparse-categorical-crossentropy"]
    records = {r["kind"]: r for r in json.loads((run / "manifest.json").read_text())["components"]}
    assert records["architecture"]["chain"] == ["mlp-128-64-10", "mlp"]
    assert {k: records["architecture"][k] for k in ("name", "component", "plugin", "distribution")} == {
        "name": "mlp-128-64-10", "component": "mlp", "plugin": "mlp", "distribution": "zoo"}

    old = runs / "written-by-an-older-zoo"  # the same run as an older zoo wrote it: bare names in config.toml
    shutil.copytree(run, old)
    for kind in ("dataset", "architecture", "optimizer", "loss"):
        config[kind]["component"] = config[kind]["component"].rpartition(":")[2]
    import tomli_w
    (old / "config.toml").write_text(tomli_w.dumps(config), encoding="utf-8")

    install_clash()
    for target in (run, old):
        evaluated = run_cli("evaluate", str(target), "--json")
        assert evaluated.exit_code == 0, evaluated.output
        assert 0.0 <= json.loads(evaluated.stdout)["accuracy"] <= 1.0
        exported = run_cli("export", str(target), "--format", "savedmodel", "--out", str(in_tmp_cwd / target.name))
        assert exported.exit_code == 0, exported.output
    repeated = run_cli("run", "--config", str(old / "config.toml"), "--runs-dir", str(in_tmp_cwd / "again"), "--quiet")
    assert repeated.exit_code == 0, repeated.output
    [new] = (in_tmp_cwd / "again").iterdir()
    assert tomllib.loads((new / "config.toml").read_text())["optimizer"]["component"] == "keras-optimizers:adam"
