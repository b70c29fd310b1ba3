"""Declared parameter ranges (``zoo_core.Range`` / ``Choice``), checked when a config is resolved, before any
TensorFlow; NaN and infinity refused for floats; and the TOML reader's refusals (a device, a named pipe, a huge
file, values nested thousands deep). Issue 17, items 8, 12 and 15."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any, Optional

import pytest

from conftest import subprocess_env, zoo_executable
from zoo_core import Choice, Range
from zoo_core._util.toml import MAX_DEPTH, TooDeepError, parse_toml, read_toml
from zoo_core._util.values import check_value, describe_type
from zoo_core.components import Component, parameters_of
from zoo_core.errors import ConfigError
from zoo_core.plugins import Catalog
from zoo_core.registry import Registry, load_registry, parse_override

Fraction = Annotated[float, Range(0, 1, high_open=True)]


@pytest.fixture(scope="module")
def registry(builtin_catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return load_registry(builtin_catalog, cwd=tmp_path_factory.mktemp("empty"))


def refusal(registry: Registry, *overrides: str) -> str:
    """The message (and hint) with which resolving mnist-mlp with these ``--set`` fails."""
    with pytest.raises(ConfigError) as caught:
        registry.resolve_recipe("mnist-mlp", list(overrides))
    return f"{caught.value.message}\nhint: {caught.value.hint}"


# -- the markers ---------------------------------------------------------------------


@pytest.mark.parametrize("annotation, value, expected", [
    (Fraction, 0.0, 0.0),
    (Fraction, 0.999, 0.999),
    (Annotated[float, Range(0, low_open=True)], 1, 1.0),
    (Annotated[int, Range(1, 8)], 8, 8),
    (Annotated[list[int], Range(high=2)], [1, 2], [1, 2]),
    (Annotated[float, Range(finite=False)], math.inf, math.inf),
    (Annotated[str, Choice(("relu", "tanh"))], "tanh", "tanh"),
    (Optional[Fraction], 0.5, 0.5),
])
def test_values_inside_a_declared_range_pass(annotation: Any, value: Any, expected: Any) -> None:
    assert check_value(annotation, value, "here") == expected


@pytest.mark.parametrize("annotation, value, message", [
    (Fraction, 1.0, "here must be in [0, 1), got 1"),
    (Fraction, -0.1, "here must be in [0, 1), got -0.1"),
    (Annotated[float, Range(0, low_open=True)], 0, "here must be > 0, got 0"),
    (Annotated[int, Range(1, 8)], 9, "here must be in [1, 8], got 9"),
    (Annotated[list[Annotated[int, Range(1, 8)]], Range(high=2)], [1, 2, 3], "here must have a length <= 2, got 3"),
    (Annotated[list[Annotated[int, Range(1, 8)]], Range(high=2)], [1, 80], "here[1] must be in [1, 8], got 80"),
    (Annotated[float, Range(0, 0)], 0.1, "here must be equal to 0, got 0.1"),
    (Annotated[str, Choice(("relu", "tanh"), "an activation")], "relux", "here must be an activation, got 'relux'"),
    (Optional[Fraction], 2.0, "here must be in [0, 1), got 2"),  # X | None keeps X's own message
    # every float is finite unless its range says otherwise, with or without a range
    (float, math.nan, "here must be a finite number, got nan"),
    (float, -math.inf, "here must be a finite number, got -inf"),
    (list[float], [1.0, math.nan], "here[1] must be a finite number, got nan"),
    (Fraction, math.nan, "here must be a finite number, got nan"),
    (float, 10**400, "here is too large a number (401 digits)"),
])
def test_values_outside_a_declared_range_are_refused(annotation: Any, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_value(annotation, value, "here")
    assert caught.value.message == message


def test_a_range_that_allows_nan_lets_nan_through_and_still_bounds_the_rest() -> None:
    anything = Annotated[float, Range(0, finite=False)]
    assert math.isnan(check_value(anything, math.nan, "here"))
    with pytest.raises(ConfigError, match=r"must be >= 0, got -1"):
        check_value(anything, -1.0, "here")


@pytest.mark.parametrize("annotation, text", [
    (Fraction, "float in [0, 1)"),
    (Annotated[float, Range(0, low_open=True)], "float > 0"),
    (Annotated[float, Range(0)], "float >= 0"),
    (Annotated[int, Range(high=10, high_open=True)], "int < 10"),
    (Annotated[list[Annotated[int, Range(1, 8192)]], Range(high=32)], "list[int in [1, 8192]], length <= 32"),
    (Annotated[str, Choice(("a", "b"))], "'a' | 'b'"),
    (Annotated[str, Choice(("a", "b"), "a Keras activation name")], "str: a Keras activation name"),
])
def test_zoo_show_names_the_range_with_the_type(annotation: Any, text: str) -> None:
    assert describe_type(annotation) == text


def _factory_with_ranges(rate: Annotated[float, Range(0, low_open=True)] = 0.1, momentum: Fraction = 0.9) -> None:
    """A factory whose annotations are strings (this module has ``from __future__ import annotations``).

    Args:
        rate: step size.
        momentum: momentum.
    """


def test_ranges_are_read_from_the_signature_without_calling_the_factory() -> None:
    parameters = parameters_of(_factory_with_ranges, ())
    assert parameters["rate"].type_name == "float > 0" and parameters["momentum"].type_name == "float in [0, 1)"
    component = Component("ranged", _factory_with_ranges, kind="optimizer")
    with pytest.raises(ConfigError) as caught:
        component.check_params({"momentum": 1}, "here")
    assert caught.value.message == "here: parameter 'momentum' must be in [0, 1), got 1"
    assert caught.value.hint.startswith("e.g. --set optimizer.momentum=0.9 (the default); 'zoo show ranged' lists")


# -- the built-in components declare their ranges --------------------------------------


@pytest.mark.parametrize("override, message", [
    ("optimizer.beta_1=nan", "parameter 'beta_1' must be a finite number, got nan"),
    ("optimizer.beta_1=1.0", "parameter 'beta_1' must be in [0, 1), got 1"),
    ("optimizer.beta_2=-0.5", "parameter 'beta_2' must be in [0, 1), got -0.5"),
    ("optimizer.epsilon=0", "parameter 'epsilon' must be > 0, got 0"),
    ("optimizer.clipnorm=nan", "parameter 'clipnorm' must be a finite number, got nan"),
    ("optimizer.clipnorm=-1", "parameter 'clipnorm' must be >= 0, got -1"),
    ("optimizer.weight_decay=-0.1", "parameter 'weight_decay' must be >= 0, got -0.1"),
    ("optimizer.learning_rate=0", "parameter 'learning_rate' must be > 0, got 0"),
    ("optimizer.learning_rate=inf", "parameter 'learning_rate' must be a finite number, got inf"),
    ("architecture.dropout=1", "parameter 'dropout' must be in [0, 1), got 1"),
    ("architecture.hidden=[2000000]", "parameter 'hidden'[0] must be in [1, 8192], got 2000000"),
    ("architecture.hidden=[64, 0]", "parameter 'hidden'[1] must be in [1, 8192], got 0"),
    ("architecture.activation=relux", "parameter 'activation' must be a Keras activation name, got 'relux'"),
    ("loss.label_smoothing=0.1", "parameter 'label_smoothing' must be equal to 0, got 0.1"),
    ("validation_split=nan", "setting 'validation_split' must be a finite number, got nan"),
])
def test_every_builtin_parameter_is_checked_when_the_run_is_resolved(registry: Registry, override: str,
                                                                      message: str) -> None:
    assert f"--set '{override}': {message}\n" in refusal(registry, override)


@pytest.mark.parametrize("optimizer, parameter, value, message", [
    ("sgd", "momentum", 1.0, "must be in [0, 1), got 1"),
    ("sgd", "clipnorm", "nan", "must be a finite number, got nan"),
    ("rmsprop", "rho", 1.5, "must be in [0, 1), got 1.5"),
    ("rmsprop", "momentum", -0.1, "must be in [0, 1), got -0.1"),
    ("rmsprop", "epsilon", -1e-7, "must be > 0, got -1e-07"),
    ("adamw", "weight_decay", -0.004, "must be >= 0, got -0.004"),
    ("adamw", "beta_2", "inf", "must be a finite number, got inf"),
])
def test_every_builtin_optimizer_declares_its_ranges(registry: Registry, optimizer: str, parameter: str,
                                                      value: Any, message: str) -> None:
    text = refusal(registry, f"optimizer={optimizer}", f"optimizer.{parameter}={value}")
    assert f"parameter '{parameter}' {message}" in text
    assert f"'zoo show {optimizer}' lists every parameter" in text


def test_label_smoothing_of_the_categorical_loss_is_in_0_to_1(registry: Registry) -> None:
    config = registry.resolve_recipe("mnist-mlp", ["loss=categorical-crossentropy", "loss.label_smoothing=1.0"])
    assert config.loss.params == {"label_smoothing": 1.0}
    assert "must be in [0, 1], got 1.5" in refusal(registry, "loss=categorical-crossentropy",
                                                   "loss.label_smoothing=1.5")


def test_no_float_parameter_of_any_builtin_component_takes_nan_or_infinity(builtin_catalog: Catalog) -> None:
    floats = 0
    for kind, names in builtin_catalog.by_kind.items():
        for name, components in names.items():
            for component in components:
                for parameter in component.parameters().values():
                    if not parameter.type_name.startswith("float"):
                        continue
                    floats += 1
                    for bad in (math.nan, math.inf, -math.inf):
                        with pytest.raises(ConfigError, match="must be a finite number"):
                            component.check_params({parameter.name: bad}, "here")
    assert floats >= 25  # every optimizer parameter, dropout, label smoothing, the exporters' tolerances


def test_the_mlp_refuses_a_network_too_big_for_memory_before_keras_allocates_it() -> None:
    from zoo_plugins.architectures.mlp import MAX_WEIGHTS, _check_size

    _check_size(784, [8192, 8192], 10)  # 73 M weights: fine
    with pytest.raises(ConfigError, match=r"makes 2,\d{3},\d{3},\d{3} weights, more than the 250,000,000"):
        _check_size(784, [8192] * 32, 10)
    assert MAX_WEIGHTS == 250_000_000


@pytest.mark.slow
def test_every_activation_the_mlp_allows_is_one_keras_builds() -> None:
    import keras

    from zoo_plugins.architectures.mlp import KERAS_ACTIVATIONS

    for name in KERAS_ACTIVATIONS:
        layer = keras.layers.Dense(4, activation=name)
        assert tuple(layer(keras.ops.ones((2, 6))).shape) == (2, 4), name


# -- before any work, without TensorFlow -----------------------------------------------

PROBE = textwrap.dedent("""
    import json, sys
    from zoo_core.cli import main

    sys.argv = ["zoo", *json.loads(sys.argv[1])]
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code
    print(json.dumps({"code": code, "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
""")


@pytest.mark.parametrize("override", ["optimizer.beta_1=nan", "optimizer.learning_rate=-1",
                                      "architecture.activation=nosuch", "architecture.hidden=[2000000]"])
def test_a_bad_parameter_is_refused_before_tensorflow_and_before_a_run_directory(tmp_path: Path,
                                                                                 override: str) -> None:
    command = ["run", "mnist-mlp", "--runs-dir", str(tmp_path / "runs"), "--set", override]
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(command)], cwd=tmp_path, capture_output=True,
                          text=True, env=subprocess_env(), timeout=120)
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"code": 2, "tensorflow": False, "keras": False}, done.stderr
    assert f"--set '{override}': parameter" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


# -- the TOML reader -------------------------------------------------------------------


def test_a_huge_file_and_a_folder_are_refused_before_reading(tmp_path: Path) -> None:
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"# " + b"x" * (10 * 1024 * 1024))
    with pytest.raises(ConfigError, match=r"is larger than 10 MB"):
        read_toml(huge)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"is a folder, not a TOML file"):
        read_toml(folder)


@pytest.mark.parametrize("text", [
    "v = " + "[" * 3000 + "]" * 3000,  # tomllib recurses: RecursionError
    "v = " + "{a=" * 3000 + "1" + "}" * 3000,
    "v." + ".".join(["a"] * 3000) + " = 1",  # parsed without recursion, but every later step recurses
    "v = " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
])
def test_values_nested_too_deep_are_refused(text: str) -> None:
    with pytest.raises(TooDeepError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_toml(text)


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 1
    assert parse_toml("v = " + "[" * depth + "]" * depth)["v"] is not None


def test_a_set_value_nested_3000_deep_is_a_clear_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_override("architecture.hidden=" + "[" * 3000 + "]" * 3000)
    assert caught.value.message.startswith("--set 'architecture.hidden=[[[")
    assert caught.value.message.endswith(f"...: the value's tables or arrays are nested more than {MAX_DEPTH} "
                                         f"levels deep (zoo reads at most {MAX_DEPTH})")
    assert len(caught.value.message) < 400


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


DEEP = "[" * 3000 + "]" * 3000
RUN = 'dataset = "mnist"\narchitecture = "mlp"\noptimizer = "adam"\nloss = "sparse-categorical-crossentropy"\n'


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))


def zoo_with_little_memory(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``zoo ARGS`` limited to 2 GB and 60 s: reading /dev/zero or a pipe without the checks fails, never hangs."""
    return subprocess.run([zoo_executable(), *args], cwd=cwd, env=subprocess_env(), capture_output=True,
                          text=True, timeout=60, preexec_fn=_limit_memory)


@pytest.mark.parametrize("args, files, message", [
    (["run", "mnist-mlp", "--set", f"architecture.hidden={DEEP}"], {}, "--set 'architecture.hidden=[[["),
    (["run", "--config", "deep.toml"], {"deep.toml": f"{RUN}seed = {DEEP}\n"}, "deep.toml: tables or arrays are "),
    (["list"], {"registry.toml": f"[runs.x]\n{RUN}seed = {DEEP}\n"}, "registry.toml: tables or arrays are nested"),
    (["list"], {"registry.toml": "[runs.x]\nseed." + ".".join(["a"] * 3000) + " = 1\n"}, "registry.toml: tables "),
    (["run", "--config", "/dev/zero"], {}, "config file '/dev/zero' is a character device, not a TOML file"),
    (["run", "--config", "pipe.toml"], {"pipe.toml": None}, "config file 'pipe.toml' is a named pipe (FIFO)"),
    (["--registry", "pipe.toml", "list"], {"pipe.toml": None}, "registry file 'pipe.toml' is not a file"),
])
def test_hostile_config_files_and_values_exit_2_with_a_clear_message(tmp_path: Path, args: list[str],
                                                                    files: dict[str, str | None],
                                                                    message: str) -> None:
    for name, text in files.items():
        if text is None:
            os.mkfifo(tmp_path / name)
        else:
            _write(tmp_path / name, text)
    done = zoo_with_little_memory(args, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
