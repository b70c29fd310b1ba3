"""registry.toml: layering, presets, runs, and one test per class of mistake,
each checking that the message says what is wrong, where, and how to fix it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from zoo_core.errors import ConfigError, UnknownNameError
from zoo_core.plugins import Catalog
from zoo_core.registry import Registry, builtin_registry_path, load_registry

RUN = """
[runs.quick]
dataset = "mnist"
architecture = "mlp"
optimizer = "adam"
loss = "sparse-categorical-crossentropy"
"""


def write(folder: Path, text: str, name: str = "registry.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(catalog: Catalog, tmp_path: Path, text: str) -> Registry:
    """Load the built-in registry with ``text`` as ./registry.toml of an empty folder."""
    write(tmp_path, text)
    return load_registry(catalog, cwd=tmp_path)


def error_of(catalog: Catalog, tmp_path: Path, text: str) -> str:
    """The message of the ConfigError that loading ``text`` raises."""
    with pytest.raises(ConfigError) as caught:
        load(catalog, tmp_path, text)
    return str(caught.value)


# -- what loads ---------------------------------------------------------------------


def test_builtin_registry_has_the_default_run_and_presets(builtin_catalog: Catalog, tmp_path: Path) -> None:
    registry = load_registry(builtin_catalog, cwd=tmp_path)
    assert registry.files == [builtin_registry_path()]
    config = registry.resolve_recipe("mnist-mlp")
    assert config.architecture.ref == "mlp-128-64-10"
    assert config.architecture.params == {"hidden": [128, 64], "dropout": 0.2, "activation": "relu"}
    assert [e.ref for e in config.exporters] == ["savedmodel", "tflite", "tflite-int8"]
    assert config.exporters[2].params["quantize"] == "int8"
    assert {k: config.settings[k] for k in ("epochs", "batch_size", "validation_split", "seed")} == {
        "epochs": 10, "batch_size": 32, "validation_split": 0.1, "seed": 42}


def test_preset_of_a_preset_merges_parameters(builtin_catalog: Catalog, tmp_path: Path) -> None:
    registry = load(builtin_catalog, tmp_path, """
        [architectures.wide]
        component = "mlp-128-64-10"
        hidden = [512, 256]

        [architectures.wider]
        component = "wide"
        summary = "wider still"
        dropout = 0.5
    """)
    choice = registry.resolve("architecture", "wider", "test")
    assert choice.component.name == "mlp"
    assert choice.params == {"hidden": [512, 256], "dropout": 0.5, "activation": "relu"}
    assert registry.presets["architecture"]["wider"].summary == "wider still"


def test_run_with_inline_tables(builtin_catalog: Catalog, tmp_path: Path) -> None:
    registry = load(builtin_catalog, tmp_path, RUN.replace(
        'optimizer = "adam"', 'optimizer = { component = "sgd", momentum = 0.9 }') + "epochs = 2\n")
    config = registry.resolve_recipe("quick")
    assert config.optimizer.component.name == "sgd" and config.optimizer.params["momentum"] == 0.9
    assert config.settings["epochs"] == 2 and config.exporters == []


# -- layering -----------------------------------------------------------------------


def test_layering_builtin_then_cwd_then_registry_option(builtin_catalog: Catalog, tmp_path: Path) -> None:
    builtin_run = builtin_registry_path().read_text(encoding="utf-8").split("[runs.mnist-mlp]")[1]
    local = write(tmp_path, "[runs.mnist-mlp]" + builtin_run.replace("epochs = 10", "epochs = 3")
                  + '\n[optimizers.fast]\ncomponent = "adam"\nlearning_rate = 0.01\n')
    extra = write(tmp_path, "[runs.mnist-mlp]" + builtin_run.replace("epochs = 10", "epochs = 5")
                  + '\n[optimizers.fast]\ncomponent = "adam"\nlearning_rate = 0.05\n', "extra.toml")

    assert load_registry(builtin_catalog, cwd=tmp_path / "nowhere").run("mnist-mlp").settings["epochs"] == 10
    with_local = load_registry(builtin_catalog, cwd=tmp_path)
    assert with_local.files == [builtin_registry_path(), local]
    assert with_local.run("mnist-mlp").settings["epochs"] == 3
    assert with_local.resolve("optimizer", "fast", "t").params["learning_rate"] == 0.01
    with_extra = load_registry(builtin_catalog, extra, cwd=tmp_path)
    assert with_extra.files == [builtin_registry_path(), local, extra]
    assert with_extra.run("mnist-mlp").settings["epochs"] == 5
    assert with_extra.resolve("optimizer", "fast", "t").params["learning_rate"] == 0.05
    assert str(with_extra.recipes["mnist-mlp"].source).startswith(f"{extra}:")


def test_the_same_file_twice_is_read_once(builtin_catalog: Catalog, tmp_path: Path) -> None:
    local = write(tmp_path, RUN)
    assert load_registry(builtin_catalog, local, cwd=tmp_path).files == [builtin_registry_path(), local]


def test_missing_registry_option_file(builtin_catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"registry file '.*nope.toml' does not exist\n  hint: give --registry"):
        load_registry(builtin_catalog, tmp_path / "nope.toml", cwd=tmp_path)
    with pytest.raises(ConfigError, match="is not a file"):
        load_registry(builtin_catalog, tmp_path, cwd=tmp_path)


# -- each class of mistake ------------------------------------------------------------


def test_toml_syntax_error_names_file_line_and_column(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, '[runs.quick]\ndataset = "mnist"\nepochs = \n')
    assert message.startswith(f"{tmp_path / 'registry.toml'}:3:10: TOML syntax error: Invalid value")
    assert "hint: see https://toml.io" in message


def test_unclosed_table_header(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, "\n\n[runs.quick\n")
    assert f"{tmp_path / 'registry.toml'}:3:" in message and "TOML syntax error" in message


def test_unknown_section_with_suggestion(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, '\n[optimiser.fast]\ncomponent = "adam"\n')
    assert message.startswith(f"{tmp_path / 'registry.toml'}:2: unknown section 'optimiser'")
    assert "did you mean 'optimizers'?" in message
    assert "valid sections: architectures, callbacks, datasets, exporters, losses, optimizers, runs" in message


def test_a_setting_at_the_top_level_says_where_it_belongs(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, "epochs = 3\n")
    assert ":1: unknown top-level key 'epochs'" in message
    assert "put it under a [runs.NAME] table" in message


def test_section_of_values_instead_of_tables(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, '[optimizers]\nfast = "adam"\n')
    assert ":1: 'optimizers' must hold tables" in message and "[optimizers.NAME]" in message


def test_unknown_key_in_a_run_names_its_line(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, RUN + "epoch = 3\n")
    assert message.startswith(f"{tmp_path / 'registry.toml'}:7 [runs.quick]: unknown key 'epoch'")
    assert "did you mean 'epochs'?" in message and "valid keys:" in message


def test_errors_in_loss_presets_name_their_section_and_line(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path,
                       '[losses.mine]\ncomponent = "sparse-categorical-crossentropy"\n\nbogus = 1\n')
    assert message.startswith(f"{tmp_path / 'registry.toml'}:4 [losses.mine]: loss ")
    assert "has no parameter 'bogus'" in message


def test_a_huge_setting_in_a_run_is_refused_when_the_registry_loads(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, RUN + "\nbatch_size = 4294967296\n")
    assert message.startswith(f"{tmp_path / 'registry.toml'}:8 [runs.quick]: setting 'batch_size' is 4294967296, "
                              "more than the largest allowed (2147483647)")


def test_run_without_a_component(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, RUN.replace('architecture = "mlp"\n', ""))
    assert "[runs.quick]: a run needs 'architecture'" in message
    assert 'add e.g. architecture = "cnn"' in message


def test_exporters_must_be_an_array(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, RUN + 'exporters = "tflite"\n')
    assert "'exporters' must be an array of names" in message and 'exporters = ["savedmodel", "tflite"]' in message


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ('[optimizers.fast]\ncomponent = "adam"\nlearning_rate = "high"\n', 3,
         "[optimizers.fast]: parameter 'learning_rate' must be a number, got string 'high'"),
        ('[architectures.w]\ncomponent = "mlp"\nhidden = [1, "a"]\n', 3,
         "[architectures.w]: parameter 'hidden'[1] must be an integer, got string 'a'"),
        ('[architectures.w]\ncomponent = "mlp"\nhidden = 128\n', 3,
         "parameter 'hidden' must be list[int in [1, 8192]], got integer 128"),
        ('[architectures.w]\ncomponent = "mlp"\n\nactivation = 1\n', 4,
         "parameter 'activation' must be a string, got integer 1"),
        ('[optimizers.fast]\ncomponent = "adam"\namsgrad = "yes"\n', 3,
         "parameter 'amsgrad' must be true or false, got string 'yes'"),
        ('[exporters.q]\ncomponent = "tflite"\nquantize = "int4"\n', 3,
         "parameter 'quantize' must be one of 'none', 'float16', 'dynamic', 'int8', got 'int4'"),
        (RUN + 'exporters = [{ component = "tflite", quantize = 8 }]\n', 7,
         "[runs.quick]: parameter 'quantize' must be one of"),
        (RUN.replace('architecture = "mlp"', 'architecture = { component = "mlp", dropout = "high" }'), 4,
         "[runs.quick]: parameter 'dropout' must be a number, got string 'high'"),
    ],
)
def test_wrong_value_types_against_parameter_types(builtin_catalog: Catalog, tmp_path: Path,
                                                    text: str, line: int, expected: str) -> None:
    message = error_of(builtin_catalog, tmp_path, text)
    assert message.startswith(f"{tmp_path / 'registry.toml'}:{line} ")
    assert expected in message


def test_unknown_parameter_of_a_preset(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, '[optimizers.fast]\ncomponent = "adam"\nlearning_rat = 0.1\n')
    assert f"{tmp_path / 'registry.toml'}:3 [optimizers.fast]: optimizer 'adam' has no parameter 'learning_rat'" in message
    assert "did you mean 'learning_rate'?" in message


@pytest.mark.parametrize(
    ("setting", "value", "rule"),
    [("epochs", "0", "at least 1"), ("validation_split", "1.0", "in [0, 1)"), ("batch_size", "0", "at least 1"),
     ("validation_split", "-0.1", "in [0, 1)"), ("seed", "-1", "in [0, 2**32)"), ("progress", '"fancy"', "one of")],
)
def test_out_of_range_settings(builtin_catalog: Catalog, tmp_path: Path, setting: str, value: str, rule: str) -> None:
    message = error_of(builtin_catalog, tmp_path, RUN + f"\n{setting} = {value}\n")
    assert message.startswith(f"{tmp_path / 'registry.toml'}:8 [runs.quick]: setting '{setting}' must be")
    assert rule in message


def test_setting_of_the_wrong_type(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, RUN + 'epochs = "3"\n')
    assert "[runs.quick]: setting 'epochs' must be an integer, got string '3'" in message


def run_error(catalog: Catalog, tmp_path: Path, text: str, run: str = "quick") -> str:
    """The message of the UnknownNameError that using run ``run`` of ``text`` raises (the file itself loads)."""
    registry = load(catalog, tmp_path, text)
    assert registry.resolve_recipe("mnist-mlp").dataset.component.name == "mnist"  # every other entry works
    with pytest.raises(UnknownNameError) as caught:
        registry.resolve_recipe(run)
    return str(caught.value)


def test_unknown_component_makes_only_its_run_unavailable(builtin_catalog: Catalog, tmp_path: Path) -> None:
    text = RUN.replace('"adam"', '"adma"')
    assert load(builtin_catalog, tmp_path, text).recipes["quick"].unavailable == \
        "unknown optimizer 'adma'; did you mean 'adam' or 'adamw'?"
    message = run_error(builtin_catalog, tmp_path, text)
    assert message.startswith(f"{tmp_path / 'registry.toml'}:5 [runs.quick]: unknown optimizer 'adma'")
    assert "did you mean 'adam' or 'adamw'?" in message
    assert "available optimizers: adam, adamw, rmsprop, sgd" in message


def test_unknown_exporter_lists_presets_too(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = run_error(builtin_catalog, tmp_path, RUN + 'exporters = ["savedmodel", "tflit"]\n')
    assert ":7 [runs.quick]: unknown exporter 'tflit'" in message
    assert "available exporters: onnx, savedmodel, tflite, tflite-dynamic, tflite-float16, tflite-int8" in message


def test_a_name_of_another_kind_says_which_kind_it_is(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = run_error(builtin_catalog, tmp_path, RUN.replace('optimizer = "adam"', 'optimizer = "mlp"'))
    assert "unknown optimizer 'mlp' (it is an architecture)" in message


def test_preset_referring_to_a_missing_component(builtin_catalog: Catalog, tmp_path: Path) -> None:
    text = '[optimizers.fast]\nsummary = "x"\ncomponent = "adma"\n' + RUN.replace('"adam"', '"fast"')
    registry = load(builtin_catalog, tmp_path, text)
    assert registry.presets["optimizer"]["fast"].unavailable == "unknown optimizer 'adma'; did you mean 'adam' or 'adamw'?"
    assert registry.recipes["quick"].unavailable == \
        "preset 'fast' (registry.toml:1): unknown optimizer 'adma'; did you mean 'adam' or 'adamw'?"
    assert "fast" not in registry.names("optimizer")
    with pytest.raises(UnknownNameError) as caught:
        registry.resolve_preset("optimizer", "fast")
    assert str(caught.value).startswith(f"{tmp_path / 'registry.toml'}:3 [optimizers.fast]: unknown optimizer 'adma'")
    assert "unknown optimizer 'adma'" in run_error(builtin_catalog, tmp_path, text)


def test_an_unavailable_run_works_with_the_missing_part_replaced(builtin_catalog: Catalog, tmp_path: Path) -> None:
    registry = load(builtin_catalog, tmp_path, RUN.replace('"adam"', '"adma"'))
    assert registry.resolve_recipe("quick", ["optimizer=sgd"]).optimizer.component.name == "sgd"


def test_a_type_error_stays_fatal_even_beside_an_unknown_name(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, RUN.replace('"adam"', '"adma"') + 'epochs = "3"\n')
    assert message.startswith(f"{tmp_path / 'registry.toml'}:7 [runs.quick]: setting 'epochs' must be an integer")


@pytest.mark.parametrize(
    ("text", "line"),
    [('[losses]\ntoo-smooth = { component = "sparse-categorical-crossentropy", label_smoothing = "x" }\n', 2),
     ('[losses.too-smooth]\ncomponent = "sparse-categorical-crossentropy"\nsummary = "s"\n\nlabel_smoothing = "x"\n', 5),
     ('[runs.r]\ndataset = "mnist"\narchitecture = "mlp"\nloss = "sparse-categorical-crossentropy"\n'
      '[runs.r.optimizer]\ncomponent = "adam"\nlearning_rate = "x"\n', 7)],
)
def test_a_type_error_points_at_the_key_line(builtin_catalog: Catalog, tmp_path: Path, text: str, line: int) -> None:
    message = error_of(builtin_catalog, tmp_path, text)
    assert message.startswith(f"{tmp_path / 'registry.toml'}:{line} [")
    assert "must be a number, got string 'x'" in message


def test_preset_without_a_component(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, "[optimizers.fast]\nlearning_rate = 0.1\n")
    assert '[optimizers.fast]: a preset needs component = "<optimizer name>"' in message
    assert "available optimizers: adam, adamw, rmsprop, sgd" in message


def test_preset_loop(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path,
                       '[optimizers.a]\ncomponent = "b"\n[optimizers.b]\ncomponent = "c"\n'
                       '[optimizers.c]\ncomponent = "a"\n')
    assert "presets refer to each other in a loop: " in message
    assert "a -> b -> c -> a" in message or "b -> c -> a -> b" in message
    assert "make one of them name an optimizer component" in message


def test_preset_naming_itself_is_a_loop(builtin_catalog: Catalog, tmp_path: Path) -> None:
    assert "loop: me -> me" in error_of(builtin_catalog, tmp_path, '[losses.me]\ncomponent = "me"\n')


def test_preset_with_the_name_of_a_component(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, '[optimizers.adam]\ncomponent = "sgd"\n')
    assert ":1 [optimizers.adam]: preset 'adam' has the name of an optimizer of plugin 'keras-optimizers'" in message
    assert "give the preset another name" in message


def test_names_with_a_colon_are_refused(builtin_catalog: Catalog, tmp_path: Path) -> None:
    message = error_of(builtin_catalog, tmp_path, '[optimizers."my:fast"]\ncomponent = "adam"\n')
    assert "names cannot contain ':'" in message and "plugin:name" in message


def test_unknown_run(builtin_catalog: Catalog, tmp_path: Path) -> None:
    registry = load_registry(builtin_catalog, cwd=tmp_path)
    with pytest.raises(UnknownNameError, match="unknown run 'mnist-mpl'\n  hint: did you mean 'mnist-mlp'"):
        registry.resolve_recipe("mnist-mpl")


def test_compose_checks_names_the_same_way(builtin_catalog: Catalog, tmp_path: Path) -> None:
    registry = load_registry(builtin_catalog, cwd=tmp_path)
    config = registry.compose("mnist", "mlp-128-64-10", "sgd", "categorical-crossentropy", ["tflite-int8"])
    assert (config.recipe, config.optimizer.params["learning_rate"], config.exporters[0].params["quantize"]) == (
        "adhoc", 0.01, "int8")
    with pytest.raises(UnknownNameError, match="command line: unknown dataset 'mnsit'"):
        registry.compose("mnsit", "mlp", "adam", "sparse-categorical-crossentropy")


def test_an_unreadable_file_is_a_config_error(builtin_catalog: Catalog, tmp_path: Path) -> None:
    (tmp_path / "registry.toml").write_bytes(b"\xff\xfe[runs]")
    with pytest.raises(ConfigError, match="registry.toml: cannot read"):
        load_registry(builtin_catalog, cwd=tmp_path)
