"""``--set key=value``: TOML literals (never code), dotted keys, component swaps,
strict unknown keys; and the resolved run's config.toml loading back as itself."""

from __future__ import annotations

import builtins
import math
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo_core.errors import ConfigError, UnknownNameError
from zoo_core.plugins import Catalog
from zoo_core.registry import MAX_INT_SETTING, Registry, RunConfig, apply_exporter_overrides, load_registry, parse_override

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def registry(builtin_catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """The built-in registry alone (an empty folder as the working directory)."""
    return load_registry(builtin_catalog, cwd=tmp_path_factory.mktemp("empty"))


def literal(value: Any) -> str:
    """``value`` written as a one-line TOML literal."""
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{literal(str(k))} = {literal(v)}" for k, v in value.items()) + " }"
    return tomli_w.dumps({"v": value})[len("v = "):-1]


# -- parse_override -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("epochs=3", "epochs", 3),
        ("epochs = 3", "epochs", 3),
        ("seed=-7", "seed", -7),
        ("seed=1_000", "seed", 1000),
        ("optimizer.learning_rate=0.01", "optimizer.learning_rate", 0.01),
        ("optimizer.learning_rate=1e-3", "optimizer.learning_rate", 0.001),
        ("shuffle=false", "shuffle", False),
        ("deterministic=true", "deterministic", True),
        ('architecture.activation="gelu"', "architecture.activation", "gelu"),
        ("architecture.activation='gelu'", "architecture.activation", "gelu"),
        ("architecture.activation=gelu", "architecture.activation", "gelu"),
        ("optimizer=sgd", "optimizer", "sgd"),
        ("exporters.tflite.quantize=int8", "exporters.tflite.quantize", "int8"),
        ("exporters.tflite-int8.io_type=uint8", "exporters.tflite-int8.io_type", "uint8"),
        ("dataset=fixture-collision:mnist", "dataset", "fixture-collision:mnist"),
        ("architecture.hidden=[256, 128]", "architecture.hidden", [256, 128]),
        ("architecture.hidden=[]", "architecture.hidden", []),
        ('exporters=["savedmodel", "tflite"]', "exporters", ["savedmodel", "tflite"]),
        ('architecture={ component = "mlp", dropout = 0.5 }', "architecture", {"component": "mlp", "dropout": 0.5}),
        ('dataset.path="a=b.npz"', "dataset.path", "a=b.npz"),
        ("epochs=3 # a comment", "epochs", 3),
    ],
)
def test_values_are_toml_literals(text: str, key: str, value: Any) -> None:
    parsed_key, parsed = parse_override(text)
    assert parsed_key == key
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs", "--set 'epochs': expected key=value"),
        ("=3", "--set '=3': expected key=value"),
        ("epochs=", "--set 'epochs=': no value after '='"),
        ("ep ochs=3", "'ep ochs' is not a valid key"),
        ("optimizer..lr=1", "'optimizer..lr' is not a valid key"),
        ("architecture.hidden=[1, 2", "'[1, 2' is not a TOML value"),
        ('architecture.activation="relu', "is not a TOML value"),
        ("epochs=3 4", "'3 4' is not a TOML value"),
        ("epochs=1\nseed = 2", "the value must be on one line"),
    ],
)
def test_bad_syntax_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_override(text)
    assert error.value.message.startswith(f"--set '{text}': ")
    assert message in error.value.message


@pytest.mark.parametrize(
    "code",
    ["__import__('os').system('touch {marker}')", "open('{marker}', 'w')", "exec('open(\"{marker}\", \"w\")')",
     "(lambda: open('{marker}', 'w'))()", "1 + 1", '"a" + "b"'],
)
def test_code_is_never_evaluated(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "evaluated"
    monkeypatch.chdir(tmp_path)
    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, lambda *a, **k: pytest.fail("parse_override evaluated code"))
    with pytest.raises(ConfigError) as error:
        parse_override(f"dataset.path={code.format(marker=marker)}")
    assert "is not a TOML value" in str(error.value)
    assert "quoted string" in str(error.value)
    assert not marker.exists()


# -- property tests -----------------------------------------------------------------

toml_scalars = (
    st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.text(max_size=30)
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3),
    max_leaves=8,
)


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 is not 1.0 or True)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isinf(a):
        return a == b
    return type(a) is type(b) and a == b


@given(value=toml_values, key=st.sampled_from(["epochs", "optimizer.learning_rate", "exporters.tflite.quantize"]))
def test_parse_override_round_trips_every_toml_literal(value: Any, key: str) -> None:
    parsed_key, parsed = parse_override(f"{key}={literal(value)}")
    assert parsed_key == key
    assert same(parsed, value)


@given(word=st.from_regex(r"[A-Za-z_][A-Za-z0-9_.:+-]{0,20}", fullmatch=True))
def test_bare_words_are_strings_unless_they_are_toml(word: str) -> None:
    _, parsed = parse_override(f"optimizer={word}")
    try:
        expected = tomllib.loads(f"v = {word}")["v"]
    except tomllib.TOMLDecodeError:
        expected = word
    assert same(parsed, expected)


OPTIMIZERS = ["adam", "sgd", "rmsprop", "adamw"]
EXPORTERS = ["savedmodel", "tflite", "tflite-int8", "tflite-float16", "tflite-dynamic"]


@st.composite
def run_overrides(draw: st.DrawFn) -> list[str]:
    """A random but valid set of --set overrides of the mnist-mlp run."""
    floats = st.floats(min_value=1e-6, max_value=1.0, allow_subnormal=False)
    return [
        f"optimizer={draw(st.sampled_from(OPTIMIZERS))}",
        f"optimizer.learning_rate={literal(draw(floats))}",
        f"loss={draw(st.sampled_from(['sparse-categorical-crossentropy', 'categorical-crossentropy']))}",
        f"architecture={draw(st.sampled_from(['mlp', 'mlp-128-64-10']))}",
        f"architecture.hidden={literal(draw(st.lists(st.integers(1, 4096), min_size=1, max_size=4)))}",
        f"architecture.dropout={literal(draw(st.floats(0.0, 0.99)))}",
        f"architecture.activation={draw(st.sampled_from(['relu', 'gelu', 'tanh']))}",
        f"exporters={literal(draw(st.lists(st.sampled_from(EXPORTERS), unique=True, max_size=4)))}",
        f"epochs={draw(st.integers(1, 1000))}",
        f"batch_size={draw(st.integers(1, 4096))}",
        f"validation_split={literal(draw(st.floats(0.0, 0.999)))}",
        f"seed={draw(st.integers(0, 2**32 - 1))}",
        f"shuffle={literal(draw(st.booleans()))}",
        f"progress={draw(st.sampled_from(['auto', 'bar', 'lines', 'none']))}",
    ]


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overrides=run_overrides(), data=st.data())
def test_config_toml_loads_back_as_the_same_run(registry: Registry, overrides: list[str], data: st.DataObject) -> None:
    config = registry.resolve_recipe("mnist-mlp", overrides)
    text = config.to_toml()
    again = registry.run_from_table(tomllib.loads(text), "ignored", "config.toml")
    assert again.to_dict() == config.to_dict()
    assert again.recipe == "mnist-mlp"
    assert again.to_toml() == text
    shuffled = data.draw(st.permutations(overrides))
    assert registry.resolve_recipe("mnist-mlp", shuffled).to_dict() == config.to_dict()  # order does not matter


# -- overrides on a resolved run ------------------------------------------------------


def run(registry: Registry, *overrides: str) -> RunConfig:
    return registry.resolve_recipe("mnist-mlp", list(overrides))


def test_settings_and_parameters(registry: Registry) -> None:
    config = run(registry, "epochs=3", "optimizer.learning_rate=1", "architecture.hidden=[256, 128]",
                 "dataset.path=elsewhere.npz", "validation_split=0", "progress=lines")
    assert config.settings["epochs"] == 3 and config.settings["validation_split"] == 0.0
    assert config.optimizer.params["learning_rate"] == 1.0 and isinstance(config.optimizer.params["learning_rate"], float)
    assert config.architecture.params == {"hidden": [256, 128], "dropout": 0.2, "activation": "relu"}
    assert config.dataset.params["path"] == "elsewhere.npz"
    assert config.settings["progress"] == "lines"


def test_exporter_parameter_by_the_name_in_the_run(registry: Registry) -> None:
    config = run(registry, "exporters.tflite.quantize=float16", "exporters.tflite-int8.io_type=uint8")
    by_ref = {choice.ref: choice.params for choice in config.exporters}
    assert by_ref["tflite"]["quantize"] == "float16"
    assert by_ref["tflite-int8"]["quantize"] == "int8"  # not also changed by 'exporters.tflite'
    assert by_ref["tflite-int8"]["io_type"] == "uint8" and by_ref["tflite"]["io_type"] == "float32"


def test_exporter_parameter_by_component_name(registry: Registry) -> None:
    config = run(registry, 'exporters=["tflite-int8"]', "exporters.tflite.calibration_samples=200")
    assert config.exporters[0].params["calibration_samples"] == 200


@pytest.mark.parametrize("order", [1, -1])
def test_component_swap_then_its_parameter_in_any_order(registry: Registry, order: int) -> None:
    config = run(registry, *["optimizer=sgd", "optimizer.momentum=0.9"][::order])
    assert config.optimizer.component.name == "sgd"
    assert config.optimizer.params == {"learning_rate": 0.01, "momentum": 0.9, "nesterov": False,
                                       "weight_decay": 0.0, "clipnorm": 0.0}


def test_a_swap_drops_the_old_component_s_parameters(registry: Registry) -> None:
    config = run(registry, "architecture=mlp")
    assert config.architecture.ref == "mlp" and config.architecture.params["hidden"] == [128, 64]
    config = run(registry, "architecture={ component = \"mlp\", hidden = [10] }")
    assert config.architecture.params["hidden"] == [10]


def test_swap_exporters(registry: Registry) -> None:
    assert [c.ref for c in run(registry, 'exporters=["tflite-float16"]').exporters] == ["tflite-float16"]
    assert [c.ref for c in run(registry, "exporters=savedmodel").exporters] == ["savedmodel"]
    assert run(registry, "exporters=[]").exporters == []


def test_the_last_of_two_settings_wins(registry: Registry) -> None:
    assert run(registry, "epochs=2", "epochs=4").settings["epochs"] == 4


@pytest.mark.parametrize(
    ("override", "message", "hint"),
    [
        ("epoch=3", "--set 'epoch=3': unknown key 'epoch'", "did you mean 'epochs'?"),
        ("optimiser.learning_rate=0.1", "unknown key 'optimiser.learning_rate'", "did you mean 'optimizer'?"),
        ("epochs.x=1", "unknown key 'epochs.x'", "valid keys"),
        ("optimizer.learning_rat=0.1", "--set 'optimizer.learning_rat=0.1': optimizer 'adam' has no parameter "
         "'learning_rat'", "did you mean 'learning_rate'?"),
        ("exporters.tflit.quantize=int8", "this run has no exporter 'tflit'",
         "its exporters: savedmodel, tflite, tflite-int8"),
        ("exporters.quantize=int8", "say which exporter", "exporters.tflite.quantize=int8"),
        ("optimizer=adma", "--set 'optimizer=adma': unknown optimizer 'adma'", "did you mean 'adam'"),
    ],
)
def test_unknown_keys_and_names_are_errors_with_suggestions(registry: Registry, override: str,
                                                            message: str, hint: str) -> None:
    with pytest.raises(ConfigError) as error:
        run(registry, override)
    assert message in error.value.message
    assert hint in (error.value.hint or "")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("epochs=3.5", "setting 'epochs' must be an integer, got number 3.5"),
        ("epochs=0", "setting 'epochs' must be at least 1, got 0"),
        ("validation_split=1.0", "setting 'validation_split' must be in [0, 1), got 1.0"),
        ("batch_size=0", "setting 'batch_size' must be at least 1, got 0"),
        ("shuffle=maybe", "setting 'shuffle' must be true or false, got string 'maybe'"),
        ("architecture.hidden=128", "parameter 'hidden' must be list[int in [1, 8192]], got integer 128"),
        ('architecture.hidden=[1, "a"]', "parameter 'hidden'[1] must be an integer"),
        ("exporters.tflite.quantize=int4", "parameter 'quantize' must be one of"),
        (f"max_test_samples={MAX_INT_SETTING + 1}",
         f"setting 'max_test_samples' is {MAX_INT_SETTING + 1}, more than the largest allowed ({MAX_INT_SETTING})"),
    ],
)
def test_values_are_checked_against_declared_types(registry: Registry, override: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        run(registry, override)
    assert error.value.message.startswith(f"--set '{override}': ")
    assert message in error.value.message
    assert error.value.key == override.split("=")[0].split(".")[-1]  # the setting or parameter it is about


def test_the_largest_int32_is_allowed_and_the_hint_gives_a_sensible_value(registry: Registry) -> None:
    assert run(registry, f"epochs={MAX_INT_SETTING}").settings["epochs"] == MAX_INT_SETTING
    with pytest.raises(ConfigError) as error:
        run(registry, f"max_train_samples={2**40}")
    assert error.value.hint == "e.g. --set max_train_samples=1000"


# -- zoo export --set -------------------------------------------------------------------


def chosen(registry: Registry, *formats: str) -> list[Any]:
    return [registry.resolve("exporter", name, f"--format {name}") for name in formats]


def test_export_overrides_a_bare_parameter_on_every_format_that_has_it(registry: Registry) -> None:
    exporters = chosen(registry, "tflite", "savedmodel")
    apply_exporter_overrides(exporters, ["quantize=float16", "verify_samples=7"])
    assert exporters[0].params["quantize"] == "float16" and "quantize" not in exporters[1].params
    assert exporters[0].params["verify_samples"] == exporters[1].params["verify_samples"] == 7


def test_export_overrides_a_named_format_as_zoo_run_does(registry: Registry) -> None:
    exporters = chosen(registry, "tflite", "tflite-int8")
    apply_exporter_overrides(exporters, ["tflite.quantize=float16"])
    assert [c.params["quantize"] for c in exporters] == ["float16", "int8"]  # the name chosen, before the component


@pytest.mark.parametrize(
    ("override", "message", "hint"),
    [
        ("quantize=int4", "--set 'quantize=int4': parameter 'quantize' must be one of", "did you mean 'int8'"),
        ("nothing=1", "no chosen format has a parameter 'nothing'", "'zoo show tflite'"),
        ("tflit.quantize=int8", "no chosen format is 'tflit'", "did you mean 'tflite'"),
        ("tflite.nope=1", "exporter 'tflite' has no parameter 'nope'", "parameters:"),
    ],
)
def test_export_override_errors(registry: Registry, override: str, message: str, hint: str) -> None:
    with pytest.raises(ConfigError) as error:
        apply_exporter_overrides(chosen(registry, "tflite"), [override])
    assert message in error.value.message and hint in (error.value.hint or "")


def test_a_swap_rescues_a_recipe_whose_component_is_unknown(registry: Registry) -> None:
    table = {"dataset": "gone", "architecture": "mlp", "optimizer": "adam", "loss": "categorical-crossentropy"}
    with pytest.raises(UnknownNameError, match="config.toml: unknown dataset 'gone'"):
        registry.run_from_table(table, "old", "config.toml")
    config = registry.run_from_table(table, "old", "config.toml", ["dataset=mnist"])
    assert config.dataset.component.name == "mnist"
