"""Plugin loading: real fixture distributions installed with pip, each failure
isolated to its plugin; collisions; the ZOO_PLUGINS allowlist; strict mode;
loose files from --plugins-dir; and the hookspecs' documentation."""

from __future__ import annotations

import inspect
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from conftest import run_cli, run_zoo
from zoo_core import hookspecs
from zoo_core.components import KINDS
from zoo_core.errors import AmbiguousNameError, PluginError, UnknownNameError
from zoo_core.plugins import Catalog, load_catalog
from zoo_core.registry import load_registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
BUILTIN_PLUGINS = {"mnist", "image-folder", "csv", "mlp", "cnn", "mobilenet", "resnet", "keras-applications",
                   "keras-optimizers", "keras-losses", "savedmodel", "tflite", "onnx", "callbacks", "mlflow"}
#: distribution -> (plugin name, the error `zoo plugins` shows for it)
BROKEN = {
    "zoo-fixture-import-error": (
        "fixture-import-error",
        "ModuleNotFoundError: No module named 'zoo_fixture_dependency_that_is_not_installed'"),
    "zoo-fixture-hook-error": (
        "fixture-hook-error", "hook register_datasets raised ValueError: boom from the fixture hook"),
    "zoo-fixture-malformed": (
        "fixture-malformed", "component name 'Wide Net!' is not valid (use lower-case letters, digits"),
}
UsePlugins = Callable[..., list[Path]]


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def plugins_json(*args: str) -> dict[str, dict]:
    result = run_cli(*args, "plugins", "--json")
    assert result.exit_code == 0, result.output
    return {record["name"]: record for record in json.loads(result.stdout)}


# -- broken distributions -------------------------------------------------------------


@pytest.mark.parametrize("distribution", BROKEN)
def test_a_broken_plugin_costs_one_warning_line_and_nothing_else(use_plugins: UsePlugins, in_tmp_cwd: Path,
                                                                 distribution: str) -> None:
    use_plugins(distribution)
    plugin, error = BROKEN[distribution]
    result = run_cli("list")
    assert result.exit_code == 0, result.output
    assert "mnist-mlp" in result.stdout and "sparse-categorical-crossentropy" in result.stdout
    [warning] = warnings_of(result.stderr)
    assert warning.startswith(f"zoo: warning: plugin '{plugin}' ({distribution} 0.1.0) failed to load: {error}")
    assert f"'pip uninstall {distribution}'" in warning
    assert "ZOO_PLUGINS" in warning and "'zoo plugins'" in warning


@pytest.mark.parametrize("distribution", BROKEN)
def test_zoo_plugins_lists_the_broken_plugin_as_failed(use_plugins: UsePlugins, in_tmp_cwd: Path,
                                                       distribution: str) -> None:
    use_plugins(distribution)
    plugin, error = BROKEN[distribution]
    records = plugins_json()
    assert records[plugin]["status"] == "failed"
    assert records[plugin]["error"].startswith(error)
    assert (records[plugin]["distribution"], records[plugin]["version"]) == (distribution, "0.1.0")
    assert records[plugin]["components"] == []
    assert all(records[name]["status"] == "loaded" for name in BUILTIN_PLUGINS)

    text = run_cli("plugins")
    assert text.exit_code == 0
    row = next(line for line in text.stdout.splitlines() if line.startswith(plugin + " "))
    assert "failed" in row
    assert f"{plugin} failed: {error}" in " ".join(text.stdout.split())


@pytest.mark.parametrize("distribution", BROKEN)
def test_strict_mode_makes_a_broken_plugin_fatal(use_plugins: UsePlugins, in_tmp_cwd: Path,
                                                 monkeypatch: pytest.MonkeyPatch, distribution: str) -> None:
    use_plugins(distribution)
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    plugin, error = BROKEN[distribution]
    result = run_cli("list")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: plugin '{plugin}' ({distribution} 0.1.0) failed to load: {error}")
    assert "hint: ZOO_STRICT_PLUGINS is set; unset it to make this a warning" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


@pytest.mark.parametrize("distribution", BROKEN)
def test_runs_that_do_not_use_the_broken_plugin_still_resolve(use_plugins: UsePlugins, in_tmp_cwd: Path,
                                                              distribution: str) -> None:
    use_plugins(distribution)
    warnings: list[str] = []
    registry = load_registry(load_catalog(warn=warnings.append), cwd=in_tmp_cwd)
    assert registry.resolve_recipe("mnist-mlp", ["epochs=1"]).settings["epochs"] == 1
    assert len(warnings) == 1


def test_unknown_name_hint_mentions_plugins_that_did_not_load(use_plugins: UsePlugins, in_tmp_cwd: Path) -> None:
    use_plugins("zoo-fixture-import-error")
    registry = load_registry(load_catalog(warn=lambda line: None), cwd=in_tmp_cwd)
    with pytest.raises(UnknownNameError) as error:
        registry.compose("digits", "mlp", "adam", "sparse-categorical-crossentropy")
    assert "not loaded: fixture-import-error (failed) ('zoo plugins' says why)" in str(error.value)


# -- a good distribution ------------------------------------------------------------


def test_a_good_plugin_s_components_appear_with_its_name(use_plugins: UsePlugins, in_tmp_cwd: Path) -> None:
    use_plugins("zoo-fixture-good")
    result = run_cli("list", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    rows = {(row["kind"], row["name"]): row for row in json.loads(result.stdout)}
    assert rows[("dataset", "fixture-tiny")]["plugin"] == "fixture-good"
    assert rows[("optimizer", "fixture-momentum")]["summary"] == "SGD with momentum, from a lazily imported factory"

    shown = json.loads(run_cli("show", "fixture-tiny", "--json").stdout)
    assert (shown["plugin"], shown["distribution"], shown["version"]) == ("fixture-good", "zoo-fixture-good", "1.2.0")
    assert [(p["name"], p["default"], p["help"]) for p in shown["parameters"]] == [
        ("size", 8, "examples per class."), ("noise", 0.1, "standard deviation of the noise added to each example.")]
    record = plugins_json()["fixture-good"]
    assert record["status"] == "loaded" and record["hooks"] == ["register_datasets", "register_optimizers"]


def test_a_plugin_s_components_mix_with_the_builtins(use_plugins: UsePlugins, in_tmp_cwd: Path) -> None:
    use_plugins("zoo-fixture-good")
    registry = load_registry(load_catalog(), cwd=in_tmp_cwd)
    config = registry.compose("fixture-tiny", "mlp", "fixture-momentum", "sparse-categorical-crossentropy",
                              ["tflite"], overrides=["optimizer.momentum=0.5", "dataset.size=4"])
    assert config.optimizer.params == {"learning_rate": 0.1, "momentum": 0.5}
    assert config.dataset.component.plugin == "fixture-good" and config.dataset.params["size"] == 4
    assert registry.resolve_recipe("mnist-mlp", ["optimizer=fixture-momentum"]).optimizer.component.distribution == \
        "zoo-fixture-good"


# -- a distribution that registers a built-in's name ------------------------------------


def test_a_collision_keeps_both_reachable_and_warns(use_plugins: UsePlugins, in_tmp_cwd: Path) -> None:
    use_plugins("zoo-fixture-collision")
    result = run_cli("list", "datasets")
    assert result.exit_code == 0, result.output
    assert "mnist:mnist" in result.stdout and "fixture-collision:mnist" in result.stdout
    [warning] = warnings_of(result.stderr)
    assert ("dataset 'mnist' is registered by plugins mnist (zoo 0.1.0) and fixture-collision "
            "(zoo-fixture-collision 0.3.0)") in warning
    assert "write 'mnist:mnist' or 'fixture-collision:mnist'" in warning
    assert "leave 'fixture-collision' out with ZOO_PLUGINS" in warning

    both = json.loads(run_cli("show", "mnist", "--json").stdout)
    assert sorted(item["qualified_name"] for item in both) == ["fixture-collision:mnist", "mnist:mnist"]
    one = json.loads(run_cli("show", "fixture-collision:mnist", "--json").stdout)
    assert one["summary"] == "Another MNIST, from a third party."
    assert run_cli("show", "fixture-lamb").exit_code == 0


def test_the_bare_name_of_a_collision_is_an_error_listing_both(use_plugins: UsePlugins, in_tmp_cwd: Path) -> None:
    use_plugins("zoo-fixture-collision")
    result = run_cli("show", "mnist-mlp")  # zoo's own recipe binds to zoo's own mnist
    assert result.exit_code == 0, result.output
    result = run_cli("run", "mnist-mlp", "--set", "dataset=mnist")  # the user's bare name
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "--set 'dataset=mnist': dataset 'mnist' is ambiguous" in message
    assert "write 'mnist:mnist' or 'fixture-collision:mnist' (e.g. --set dataset=mnist:mnist)" in message
    assert "Traceback" not in result.output

    catalog = load_catalog(warn=lambda line: None)
    with pytest.raises(AmbiguousNameError, match="dataset 'mnist' is ambiguous"):
        catalog.find("dataset", "mnist")
    assert catalog.names("dataset") == ["csv", "fixture-collision:mnist", "image-folder", "mnist:mnist"]
    registry = load_registry(catalog, cwd=in_tmp_cwd)
    assert registry.resolve_recipe("mnist-mlp").dataset.component.distribution == "zoo"
    assert registry.resolve_recipe("mnist-mlp", ["dataset=fixture-collision:mnist"]).dataset.component.plugin == \
        "fixture-collision"
    assert registry.resolve_recipe("mnist-mlp", ["dataset=mnist:mnist"]).dataset.component.distribution == "zoo"
    lamb = registry.resolve_recipe("mnist-mlp", ["optimizer=fixture-lamb", "dataset=mnist:mnist"]).optimizer
    assert (lamb.component.plugin, lamb.params) == ("fixture-collision", {"learning_rate": 0.002})

    config = registry.resolve_recipe("mnist-mlp", ["dataset=fixture-collision:mnist"])
    table = tomllib.loads(config.to_toml())  # as the runner writes config.toml
    assert table["dataset"]["component"] == "fixture-collision:mnist"
    assert registry.run_from_table(table, "x", "config.toml").to_dict() == config.to_dict()


def test_strict_mode_makes_a_collision_fatal(use_plugins: UsePlugins, in_tmp_cwd: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    use_plugins("zoo-fixture-collision")
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    result = run_cli("list")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: dataset 'mnist' is registered by plugins mnist")


# -- the allowlist ----------------------------------------------------------------------


def test_allowlist_loads_only_the_named_plugins(use_plugins: UsePlugins, in_tmp_cwd: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    use_plugins("zoo-fixture-good", "zoo-fixture-hook-error", "zoo-fixture-collision")
    monkeypatch.setenv("ZOO_PLUGINS", "fixture-good")
    result = run_cli("plugins", "--json")
    assert result.exit_code == 0 and result.stderr == ""  # the broken ones are not even imported
    records = {record["name"]: record for record in json.loads(result.stdout)}
    assert records["fixture-good"]["status"] == "loaded"
    for name in ("fixture-hook-error", "fixture-collision"):
        assert (records[name]["status"], records[name]["error"]) == ("disabled", "not listed in ZOO_PLUGINS")
    assert all(records[name]["status"] == "loaded" for name in BUILTIN_PLUGINS)
    assert "zoo_fixture_hook_error" not in sys.modules


def test_empty_allowlist_means_builtins_only(use_plugins: UsePlugins, in_tmp_cwd: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    use_plugins("zoo-fixture-good", "zoo-fixture-collision")
    monkeypatch.setenv("ZOO_PLUGINS", "")
    result = run_cli("list", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    assert {row["plugin"] for row in json.loads(result.stdout) if row["type"] == "component"} == BUILTIN_PLUGINS
    assert run_cli("show", "mnist-mlp").exit_code == 0  # no collision without the colliding plugin


def test_allowlist_warns_about_a_name_that_is_not_installed(use_plugins: UsePlugins, in_tmp_cwd: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    use_plugins("zoo-fixture-good")
    monkeypatch.setenv("ZOO_PLUGINS", "fixture-goood, fixture-good")
    result = run_cli("list")
    assert result.exit_code == 0
    [warning] = warnings_of(result.stderr)
    assert warning == ("zoo: warning: ZOO_PLUGINS names 'fixture-goood', but no such plugin is installed; "
                       "did you mean 'fixture-good'? installed plugins: fixture-good")


# -- a real subprocess with every fixture on PYTHONPATH ------------------------------------


def test_installed_console_script_survives_every_broken_plugin_at_once(installed_plugins: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    folders = list(installed_plugins.values())
    listing = run_zoo("list", cwd=tmp_path, pythonpath=folders)
    assert listing.returncode == 0, listing.stderr
    assert "fixture-tiny" in listing.stdout and "mnist-mlp" in listing.stdout
    warnings = warnings_of(listing.stderr)
    assert len(warnings) == 4, warnings  # three failed plugins and one collision
    for distribution, (plugin, _) in BROKEN.items():
        assert any(f"plugin '{plugin}' ({distribution} 0.1.0) failed" in line for line in warnings)

    plugins = run_zoo("plugins", "--json", cwd=tmp_path, pythonpath=folders)
    statuses = {record["name"]: record["status"] for record in json.loads(plugins.stdout)}
    assert statuses == {**{name: "loaded" for name in BUILTIN_PLUGINS}, "fixture-good": "loaded",
                        "fixture-collision": "loaded", **{plugin: "failed" for plugin, _ in BROKEN.values()}}

    strict = run_zoo("list", cwd=tmp_path, pythonpath=folders, ZOO_STRICT_PLUGINS="1")
    assert strict.returncode == 2 and strict.stderr.startswith("error: ") and "Traceback" not in strict.stderr


# -- loose files in --plugins-dir --------------------------------------------------------


def plugin_file(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text("from zoo_core import Component, hookimpl\n\n" + textwrap.dedent(body), encoding="utf-8")
    return path


GOOD_LOOSE = '''
    def tiny_loss(weight: float = 1.0):
        """A loss from a loose file.

        Args:
            weight: scale of the loss.
        """

    @hookimpl
    def register_losses():
        return [Component("loose-loss", tiny_loss)]
'''


def test_plugins_dir_loads_loose_files(tmp_path: Path) -> None:
    plugin_file(tmp_path, "my_losses", GOOD_LOOSE)
    (tmp_path / "_helpers.py").write_text("raise RuntimeError('not a plugin')\n")
    (tmp_path / "notes.txt").write_text("not python\n")
    warnings: list[str] = []
    catalog = load_catalog(tmp_path, warn=warnings.append)
    assert warnings == []
    component = catalog.find("loss", "loose-loss")
    assert (component.plugin, component.distribution, component.summary) == (
        "my_losses", "(plugins dir)", "A loss from a loose file.")
    record = next(p for p in catalog.plugins if p.name == "my_losses")
    assert (record.source, record.module, record.status) == ("plugins dir", str(tmp_path / "my_losses.py"), "loaded")
    assert [p.name for p in catalog.plugins if p.source == "plugins dir"] == ["my_losses"]


def test_plugins_dir_from_the_cli_option_and_the_environment(tmp_path: Path, in_tmp_cwd: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    plugin_file(folder, "my_losses", GOOD_LOOSE)
    result = run_cli("--plugins-dir", str(folder), "list", "losses")
    assert result.exit_code == 0 and "loose-loss" in result.stdout and "my_losses" in result.stdout
    monkeypatch.setenv("ZOO_PLUGINS_DIR", str(folder))
    shown = run_cli("show", "loose-loss", "--json")
    assert json.loads(shown.stdout)["parameters"][0]["help"] == "scale of the loss."


def test_missing_plugins_dir_is_an_error(tmp_path: Path, in_tmp_cwd: Path) -> None:
    with pytest.raises(PluginError, match="plugins directory '.*nowhere' does not exist"):
        load_catalog(tmp_path / "nowhere")
    result = run_cli("--plugins-dir", str(tmp_path / "nowhere"), "list")
    assert result.exit_code == 2 and "does not exist" in result.stderr and "--plugins-dir" in result.stderr


MALFORMED = {
    "not_component": ('@hookimpl\ndef register_datasets():\n    return ["mnist"]\n',
                      "hook register_datasets returned 'mnist', which is not a zoo_core.Component"),
    "single": ('@hookimpl\ndef register_losses():\n    return Component("one", lambda: None)\n',
               "hook register_losses must return a list of zoo_core.Component, got Component"),
    "wrong_kind": ('@hookimpl\ndef register_datasets():\n    return [Component("x", lambda: None, kind="loss")]\n',
                   "hook register_datasets returned 'x' of kind 'loss', expected 'dataset'"),
    "twice": ('def f():\n    """F."""\n\n@hookimpl\ndef register_losses():\n'
              '    return [Component("x", f), Component("x", f)]\n',
              "hook register_losses registers loss 'x' twice"),
    "bad_name": ('@hookimpl\ndef register_losses():\n    return [Component("My Loss", lambda: None)]\n',
                 "component name 'My Loss' is not valid"),
    "bad_path": ('@hookimpl\ndef register_losses():\n    return [Component("x", "not a path")]\n',
                 "loss 'x': factory 'not a path' is not a 'module:function' path"),
    "no_context": ('def net(width: int = 3):\n    """Net."""\n\n'
                   '@hookimpl\ndef register_architectures():\n    return [Component("net", net)]\n',
                   "architecture 'net': factory 'net' must take (input_shape, num_classes, ...), takes (width)"),
    "typo": ('@hookimpl\ndef register_dataset():\n    return []\n',
             "'register_dataset' is marked @hookimpl but is not a zoo hook (did you mean 'register_datasets'"),
    "hook_arguments": ('@hookimpl\ndef register_datasets(config):\n    return []\n',
                       "Argument(s) {'config'} are declared in the hookimpl but can not be found in the hookspec"),
    "syntax": ("def broken(:\n", "SyntaxError: invalid syntax"),
    "exits": ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_loose_plugin_fails_alone(tmp_path: Path, name: str) -> None:
    body, error = MALFORMED[name]
    path = plugin_file(tmp_path, name, body)
    plugin_file(tmp_path, "zz_good", GOOD_LOOSE)
    warnings: list[str] = []
    catalog = load_catalog(tmp_path, warn=warnings.append)
    record = next(p for p in catalog.plugins if p.name == name)
    assert record.status == "failed" and error in record.error and "\n" not in record.error
    assert catalog.has("loss", "loose-loss") and catalog.has("dataset", "mnist")
    [warning] = warnings
    assert warning.startswith(f"plugin '{name}' ({path}) failed to load: ")
    assert warning.endswith(f"fix or remove {path} ('zoo plugins' shows every plugin's status)")
    assert f"zoo_plugins_dir.{name}" not in sys.modules or name not in ("syntax", "exits")
    with pytest.raises(PluginError, match=f"plugin '{name}'"):
        load_catalog(tmp_path, strict=True)


def test_a_function_named_after_a_hook_is_its_implementation_even_unmarked(tmp_path: Path) -> None:
    plugin_file(tmp_path, "unmarked", GOOD_LOOSE.replace("    @hookimpl\n", ""))
    catalog = load_catalog(tmp_path, warn=pytest.fail)
    record = next(p for p in catalog.plugins if p.name == "unmarked")
    assert (record.status, record.hooks) == ("loaded", ["register_losses"])
    assert catalog.find("loss", "loose-loss").plugin == "unmarked"


def test_a_plugin_name_is_taken_only_once(tmp_path: Path) -> None:
    plugin_file(tmp_path, "mnist", GOOD_LOOSE)
    warnings: list[str] = []
    catalog = load_catalog(tmp_path, warn=warnings.append)
    loose = [p for p in catalog.plugins if p.name == "mnist" and p.source == "plugins dir"][0]
    assert (loose.status, loose.error) == ("failed", "plugin name 'mnist' is already taken by zoo")
    assert not catalog.has("loss", "loose-loss")
    assert len(warnings) == 1


# -- the catalog ------------------------------------------------------------------------


def test_catalog_names_and_lookups(builtin_catalog: Catalog) -> None:
    assert builtin_catalog.find("optimizer", "keras-optimizers:adam").name == "adam"
    assert builtin_catalog.has("optimizer", "adam") and not builtin_catalog.has("optimizer", "mlp:adam")
    with pytest.raises(UnknownNameError) as error:
        builtin_catalog.find("optimizer", "adma")
    assert str(error.value) == ("unknown optimizer 'adma'\n  hint: did you mean 'adam' or 'adamw'? "
                                "available optimizers: adam, adamw, rmsprop, sgd")
    builtins = [p.name for p in builtin_catalog.plugins if p.builtin]
    assert builtins == sorted(builtins) and {"keras-losses", "keras-optimizers"} <= set(builtins)


# -- hookspecs and their documentation -----------------------------------------------------


def hookspec_functions() -> dict[str, Callable]:
    return {name: function for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(function, "zoo_spec")}


def test_every_hookspec_has_a_docstring_and_a_kind() -> None:
    specs = hookspec_functions()
    assert set(specs) == set(hookspecs.HOOK_KINDS)
    assert sorted(hookspecs.HOOK_KINDS.values()) == sorted(KINDS)
    for name, function in specs.items():
        doc = inspect.getdoc(function) or ""
        assert len(doc.splitlines()) >= 3, f"hookspec {name} needs a docstring that states its contract"
        assert not inspect.signature(function).parameters, f"hookspec {name} takes no arguments"


@pytest.mark.parametrize("hook", sorted(hookspecs.HOOK_KINDS))
def test_every_hookspec_has_a_section_in_the_plugin_guide(hook: str) -> None:
    guide = ROOT / "docs" / "plugins.md"
    if not guide.is_file():
        pytest.skip("docs/plugins.md is not written yet")
    headings = [line for line in guide.read_text(encoding="utf-8").splitlines() if re.match(r"^#{1,6}\s", line)]
    assert any(hook in heading for heading in headings), f"docs/plugins.md has no section (heading) for {hook}"
