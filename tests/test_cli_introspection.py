"""The introspection commands (--help, --version, list, show, plugins) in-process,
and the installed console script as a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zoo_core
from conftest import run_cli, run_zoo
from zoo_core import cli
from zoo_core.errors import ConfigError

BUILTIN_NAMES = ["mnist", "image-folder", "csv", "mlp", "adam", "adamw", "rmsprop", "sgd", "categorical-crossentropy",
                 "sparse-categorical-crossentropy", "savedmodel", "tflite"]
PRESETS = ["cnn-16-32", "cnn-32-64-128", "mlp-128-64-10", "mobilenet-16-128", "resnet-14", "tflite-dynamic",
           "tflite-float16", "tflite-int8"]

pytestmark = pytest.mark.usefixtures("in_tmp_cwd")


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render as on an 80-column non-terminal (a pipe, a CI log)."""
    monkeypatch.setattr(cli.out, "_width", 80)


def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert result.stderr == "", result.stderr
    return result.stdout


def fails(*args: str, code: int = 2) -> str:
    """stderr of a command that must fail with a short message and no traceback."""
    result = run_cli(*args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert result.stderr.startswith("error: ")
    return " ".join(result.stderr.split())


# -- --help, --version ------------------------------------------------------------------


def test_help_lists_the_commands_and_options() -> None:
    text = ok("--help")
    for word in ("list", "show", "plugins", "--registry", "--plugins-dir", "--debug", "--version"):
        assert word in text
    assert "Usage: zoo" in run_cli().output  # no arguments: the help


def test_version() -> None:
    assert ok("--version").strip() == f"zoo {zoo_core.__version__}"


# -- list -------------------------------------------------------------------------------


def test_list_shows_components_presets_and_runs(narrow: None) -> None:
    text = ok("list")
    lines = text.splitlines()
    for name in [*BUILTIN_NAMES, *PRESETS, "mnist-mlp"]:
        assert any(line.split()[:1] == [name] for line in lines), f"{name} is missing or wrapped"
    assert all(len(line.rstrip()) <= 80 for line in lines)
    for header in ("datasets", "architectures", "optimizers", "losses", "exporters", "runs"):
        assert any(line.split()[:3] == [header, "summary", "plugin" if header != "runs" else "file"]
                   for line in lines), header


def test_list_groups_presets_right_after_the_components_of_their_kind(narrow: None) -> None:
    lines = ok("list").splitlines()
    first = {name: next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
             for name in ["mlp", "mlp-128-64-10", "adam", "tflite", "tflite-int8", "mnist-mlp"]}
    assert first["mlp"] < first["mlp-128-64-10"] < first["adam"]
    assert first["tflite"] < first["tflite-int8"] < first["mnist-mlp"]
    preset_row = lines[first["mlp-128-64-10"]]
    assert preset_row.rstrip().endswith("preset of mlp")


def test_list_json() -> None:
    rows = json.loads(ok("list", "--json"))
    assert {"type", "kind", "name", "summary", "plugin"} <= set(rows[0])
    by_name = {row["name"]: row for row in rows}
    assert by_name["adam"] == {"type": "component", "kind": "optimizer", "name": "adam",
                               "summary": "Adam, with Keras' defaults (as in the classic MNIST tutorial).",
                               "plugin": "keras-optimizers", "qualified_name": "keras-optimizers:adam"}
    assert by_name["mnist-mlp"]["type"] == "run" and by_name["mnist-mlp"]["plugin"] == "registry.toml"
    assert by_name["tflite-int8"]["type"] == "preset" and by_name["tflite-int8"]["kind"] == "exporter"
    order = [row["name"] for row in rows]
    assert order.index("mlp") < order.index("mlp-128-64-10") < order.index("adam")


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("optimizers", "ad*"), ["adam", "adamw"]),
        (("optimizer", "sgd"), ["sgd"]),
        (("losses",), ["categorical-crossentropy", "sparse-categorical-crossentropy"]),
        (("exporters", "tflite*"), ["tflite", "tflite-dynamic", "tflite-float16", "tflite-int8"]),
        (("presets",), PRESETS),
        (("runs",), ["folder-mobilenet-v3-small", "mnist-cnn", "mnist-digits-0-4", "mnist-digits-5-9-finetuned",
                     "mnist-digits-5-9-scratch", "mnist-mlp", "mnist-mobilenet", "mnist-resnet"]),
        (("crossentropy",), ["categorical-crossentropy", "sparse-categorical-crossentropy"]),
        (("ADAM*",), ["adam", "adamw"]),
        (("keras-optimizers:s*",), ["sgd"]),
    ],
)
def test_list_filters_by_kind_and_glob(args: tuple[str, ...], names: list[str]) -> None:
    assert [row["name"] for row in json.loads(ok("list", *args, "--json"))] == names


def test_list_recipes_is_list_runs_under_the_glossary_s_word() -> None:
    assert ok("list", "recipes") == ok("list", "runs")
    assert ok("list", "recipe", "mnist-m*", "--json") == ok("list", "runs", "mnist-m*", "--json")


def test_list_optimizers_glob_as_text() -> None:
    text = ok("list", "optimizers", "ad*")
    assert [line.split()[0] for line in text.splitlines() if not line.startswith(" ")] == [
        "optimizers", "adam", "adamw"]


def test_list_settings() -> None:
    text = ok("list", "settings")
    assert "epochs" in text and "int = 10" in text and "validation_split" in text


def test_list_of_an_unknown_kind_with_a_pattern_is_an_error() -> None:
    message = fails("list", "optimisers", "ad*")
    assert "unknown kind 'optimisers'" in message
    assert "did you mean 'optimizers'?" in message and "losss" not in message


def test_list_nothing_matches_suggests_a_kind() -> None:
    text = " ".join(ok("list", "optimzers").split())
    assert "nothing matches 'optimzers' (did you mean 'optimizers' as a kind?)" in text


# -- show -------------------------------------------------------------------------------


def test_show_mlp_has_hidden_and_dropout_defaults() -> None:
    text = ok("show", "mlp")
    hidden = next(line for line in text.splitlines() if line.startswith("hidden"))
    assert hidden.split()[:2] == ["hidden", "list[int"] and "list[int in [1, 8192]], length <= 32  [128, 64]" in hidden
    dropout = next(line for line in text.splitlines() if line.startswith("dropout"))
    assert dropout.split()[:5] == ["dropout", "float", "in", "[0,", "1)"] and dropout.split()[5] == "0.2"
    assert "plugin: mlp (zoo 0.1.0)" in text and "factory: zoo_plugins.architectures.mlp:mlp" in text

    data = json.loads(ok("show", "mlp", "--json"))
    parameters = {p["name"]: p for p in data["parameters"]}
    assert parameters["hidden"]["default"] == [128, 64] and parameters["hidden"]["type"] == "list[int in [1, 8192]], length <= 32"
    assert parameters["dropout"]["default"] == 0.2 and parameters["activation"]["default"] == "relu"
    assert data["kind"] == "architecture" and data["version"] == zoo_core.__version__


def test_show_adam() -> None:
    text = ok("show", "adam")
    assert text.startswith("adam  (optimizer)")
    assert "plugin: keras-optimizers (zoo 0.1.0)" in text
    assert any(line.split()[:4] == ["learning_rate", "float", ">", "0"] and line.split()[4] == "0.001"
               for line in text.splitlines())
    assert any(line.split()[:5] == ["beta_1", "float", "in", "[0,", "1)"] for line in text.splitlines())


def test_show_run_mnist_mlp() -> None:
    text = ok("show", "mnist-mlp")
    assert "defined at" in text and "registry.toml:" in text
    assert any(line.split()[:3] == ["architecture", "mlp-128-64-10", "(mlp)"] for line in text.splitlines())
    assert any(line.split()[:3] == ["exporter", "tflite-int8", "(tflite)"] for line in text.splitlines())
    assert "epochs=10" in text and "batch_size=32" in text

    data = json.loads(ok("show", "mnist-mlp", "--json"))
    assert data["type"] == "run"
    config = data["config"]
    # as config.toml writes it: each component's exact identity, plugin:name
    assert config["architecture"] == {"component": "mlp:mlp", "hidden": [128, 64], "dropout": 0.2, "activation": "relu"}
    assert [e["component"] for e in config["exporters"]] == ["savedmodel:savedmodel", "tflite:tflite", "tflite:tflite"]
    assert data["references"]["architecture"] == "mlp-128-64-10"
    assert data["references"]["exporters"] == ["savedmodel", "tflite", "tflite-int8"]  # in the order of config's
    assert (config["epochs"], config["batch_size"], config["validation_split"]) == (10, 32, 0.1)


def test_show_preset() -> None:
    text = ok("show", "tflite-int8")
    assert "preset of exporter tflite from plugin tflite" in text
    quantize = next(line for line in text.splitlines() if line.startswith("quantize"))
    assert '"none"' in quantize and '"int8"' in quantize  # default, then this preset's value
    data = json.loads(ok("show", "tflite-int8", "--json"))
    assert data["params"]["quantize"] == "int8" and data["base"] == "tflite"


def test_show_settings() -> None:
    text = ok("show", "settings")
    for name in ("epochs", "batch_size", "validation_split", "seed"):
        assert any(line.startswith(name) for line in text.splitlines())
    data = json.loads(ok("show", "settings", "--json"))
    assert {p["name"]: p["default"] for p in data["parameters"]}["batch_size"] == 32


def test_show_qualified_name() -> None:
    assert json.loads(ok("show", "keras-optimizers:sgd", "--json"))["name"] == "sgd"


@pytest.mark.parametrize(("name", "hint"), [("nosuch", "names ('zoo list' shows all): adam"),
                                            ("adm", "did you mean 'adam' or 'adamw'?"),
                                            ("mnist-mpl", "did you mean 'mnist-mlp'")])
def test_show_unknown_name(name: str, hint: str) -> None:
    message = fails("show", name)
    assert f"error: nothing is called '{name}'" in message and hint in message


def test_debug_shows_the_exception_instead() -> None:
    result = run_cli("--debug", "show", "nosuch")
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)  # re-raised, so the traceback is printed


def test_zoo_debug_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_DEBUG", "1")
    assert isinstance(run_cli("show", "nosuch").exception, ConfigError)


# -- plugins ----------------------------------------------------------------------------


def test_plugins() -> None:
    text = ok("plugins")
    assert text.splitlines()[0].split() == ["plugin", "distribution", "status", "hooks:", "registered"]
    row = next(line for line in text.splitlines() if line.startswith("keras-optimizers"))
    assert row.split()[:4] == ["keras-optimizers", "zoo", "0.1.0", "loaded"]
    assert "optimizers: adam, sgd, rmsprop, adamw" in row


def test_plugins_json() -> None:
    records = {r["name"]: r for r in json.loads(ok("plugins", "--json"))}
    assert {"mnist", "mlp", "keras-optimizers", "keras-losses", "savedmodel", "tflite"} <= set(records)
    mlp = records["mlp"]
    assert {key: mlp[key] for key in ("distribution", "version", "module", "builtin", "status", "error", "hooks")} == {
        "distribution": "zoo", "version": zoo_core.__version__, "module": "zoo_plugins.architectures.mlp",
        "builtin": True, "status": "loaded", "error": "", "hooks": ["register_architectures"]}
    assert mlp["components"] == [{"kind": "architecture", "name": "mlp"}]


# -- registry files from the CLI ----------------------------------------------------------


def test_a_broken_registry_toml_in_the_working_directory(in_tmp_cwd: Path) -> None:
    (in_tmp_cwd / "registry.toml").write_text('[runs.quick]\ndataset = "mnist"\nepochs = \n')
    message = fails("list")
    assert f"error: {in_tmp_cwd / 'registry.toml'}:3:10: TOML syntax error: Invalid value" in message


def test_a_misspelt_key_in_the_working_directory(in_tmp_cwd: Path) -> None:
    (in_tmp_cwd / "registry.toml").write_text(
        '[runs.quick]\ndataset = "mnist"\narchitecture = "mlp"\noptimizer = "adam"\n'
        'loss = "sparse-categorical-crossentropy"\nbatchsize = 64\n')
    message = fails("show", "quick")
    assert f"{in_tmp_cwd / 'registry.toml'}:6 [runs.quick]: unknown key 'batchsize'" in message
    assert "did you mean 'batch_size'?" in message


def test_registry_option_adds_runs(in_tmp_cwd: Path) -> None:
    extra = in_tmp_cwd / "mine.toml"
    extra.write_text('[runs.mine]\nsummary = "mine"\ndataset = "mnist"\narchitecture = "mlp"\n'
                     'optimizer = "sgd"\nloss = "sparse-categorical-crossentropy"\nepochs = 2\n')
    assert [row["name"] for row in json.loads(ok("--registry", str(extra), "list", "runs", "--json"))] == [
        "folder-mobilenet-v3-small", "mine", "mnist-cnn", "mnist-digits-0-4", "mnist-digits-5-9-finetuned",
        "mnist-digits-5-9-scratch", "mnist-mlp", "mnist-mobilenet", "mnist-resnet"]
    assert json.loads(ok("--registry", str(extra), "show", "mine", "--json"))["config"]["epochs"] == 2
    assert "does not exist" in fails("--registry", "missing.toml", "list")


# -- the Python entry point ----------------------------------------------------------------


def test_a_workspace_loads_the_registry_once_and_cli_state_is_one(in_tmp_cwd: Path) -> None:
    from zoo_core.workspace import Workspace

    extra = in_tmp_cwd / "mine.toml"
    extra.write_text('[runs.mine]\ndataset = "mnist"\narchitecture = "mlp"\noptimizer = "sgd"\n'
                     'loss = "sparse-categorical-crossentropy"\n')
    workspace = Workspace(registry_file=extra)
    registry = workspace.registry()
    assert workspace.registry() is registry and workspace.catalog() is registry.catalog
    assert registry.resolve_recipe("mine").recipe == "mine" and "mnist-mlp" in registry.recipes
    workspace.forget()
    assert workspace.registry() is not registry
    assert isinstance(cli.state, Workspace)  # older notebooks use zoo_core.cli.state.registry()
    cli.state.configure(registry_file=None, plugins_dir=None, debug=False)  # as 'zoo' without options does
    assert "mnist-mlp" in cli.state.registry().recipes


def test_registry_run_still_resolves_a_recipe_as_docs_distributed_md_wrote_it() -> None:
    from zoo_core.registry import Registry
    from zoo_core.workspace import Workspace

    assert Registry.run is Registry.resolve_recipe
    registry = Workspace().registry()
    assert registry.run("mnist-mlp", ["epochs=2"]).to_dict() == \
        registry.resolve_recipe("mnist-mlp", ["epochs=2"]).to_dict()


# -- the installed console script --------------------------------------------------------


def test_installed_zoo_as_a_subprocess(tmp_path: Path) -> None:
    listing = run_zoo("list", "--json", cwd=tmp_path)
    assert listing.returncode == 0 and listing.stderr == ""
    assert "mnist-mlp" in {row["name"] for row in json.loads(listing.stdout)}

    text = run_zoo("list", cwd=tmp_path)
    assert all(len(line.rstrip()) <= 80 for line in text.stdout.splitlines())

    unknown = run_zoo("show", "nosuch", cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.startswith("error: nothing is called 'nosuch'") and "Traceback" not in unknown.stderr

    debug = run_zoo("--debug", "show", "nosuch", cwd=tmp_path)
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr
    assert "ConfigError: nothing is called 'nosuch'" in debug.stderr
