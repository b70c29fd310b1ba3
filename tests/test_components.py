"""Component specs: parameters from signatures and docstrings, type checks, spec validation."""

from __future__ import annotations

from typing import Any, Literal, Optional

import pytest

from zoo_core.components import (
    KINDS,
    NAME_PATTERN,
    REQUIRED,
    Component,
    check_value,
    describe_type,
    docstring_args,
    parameters_of,
    suggest,
)
from zoo_core.errors import ConfigError, PluginError
from zoo_core.plugins import Catalog


def spec(name: str = "thing", factory: Any = None, kind: str = "optimizer", **fields: Any) -> Component:
    component = Component(name, factory if factory is not None else _optimizer, **fields)
    component.kind = kind
    return component


def _optimizer(learning_rate: float = 0.01, nesterov: bool = False, schedule: str = "constant") -> None:
    """A test optimizer.

    A longer description that is not the summary.

    Args:
        learning_rate: step size; a long help
            that goes on over two lines.
        nesterov (bool): use Nesterov momentum.
        schedule: how the rate changes.
        **kwargs: passed through (not a parameter).

    Returns:
        Nothing useful.
    """


# -- parameters from the factory ------------------------------------------------------


def test_parameters_come_from_signature_and_docstring() -> None:
    parameters = spec().parameters()
    assert list(parameters) == ["learning_rate", "nesterov", "schedule"]
    rate = parameters["learning_rate"]
    assert (rate.annotation, rate.default, rate.type_name) == (float, 0.01, "float")
    assert rate.help == "step size; a long help that goes on over two lines."
    assert parameters["nesterov"].help == "use Nesterov momentum."
    assert parameters["schedule"].help == "how the rate changes."


def test_docstring_args_stops_at_the_next_section_and_skips_star_args() -> None:
    helps = docstring_args(_optimizer.__doc__ or "")
    assert "kwargs" not in helps and "Returns" not in helps
    assert "passed through" not in helps["schedule"]
    assert "Nothing useful" not in " ".join(helps.values())


def test_summary_defaults_to_the_docstring_first_line() -> None:
    component = spec()
    component.validate_spec()
    assert component.summary == "A test optimizer."


def test_context_arguments_are_not_parameters() -> None:
    def net(input_shape: tuple[int, ...], num_classes: int, width: int = 8) -> None:
        """A net."""

    assert list(spec("net", net, kind="architecture").parameters()) == ["width"]


def test_required_and_none_defaults() -> None:
    def loss(weight: float, smoothing: Optional[float] = None) -> None:
        """A loss."""

    component = spec("l", loss, kind="loss")
    parameters = component.parameters()
    assert parameters["weight"].required and parameters["weight"].default is REQUIRED
    assert parameters["smoothing"].type_name == "float"
    assert component.check_params({"weight": 1}, "here") == {"weight": 1.0}  # None default left out
    with pytest.raises(ConfigError, match=r"here: loss 'l' needs parameter 'weight' \(float\)") as error:
        component.check_params({}, "here")
    assert "--set loss.weight=" in str(error.value)


def test_unannotated_parameters_take_the_type_of_their_default() -> None:
    def factory(units=(32, 16), rate=0.5, name="x", anything=None) -> None:  # noqa: ANN001
        """Untyped."""

    parameters = parameters_of(factory, ())
    assert parameters["units"].default == [32, 16]  # a tuple default is shown and compared as a list
    assert parameters["units"].check([8], "here") == [8]  # ... and a TOML array is accepted
    assert parameters["rate"].annotation is float
    assert parameters["anything"].type_name == "any"


def test_an_unresolvable_annotation_leaves_only_that_parameter_untyped() -> None:
    source = (  # a plugin module whose annotation names a type it imports only for type checkers
        "from __future__ import annotations\n"
        "def factory(model: keras.Model = None, units: int = 4):\n"
        "    '''Doc.'''\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "plugin.py", "exec", dont_inherit=True), namespace)
    parameters = parameters_of(namespace["factory"], ())
    assert parameters["units"].annotation is int
    with pytest.raises(ConfigError, match="must be an integer"):
        parameters["units"].check("four", "here")


def test_parameters_are_read_lazily_from_a_string_factory() -> None:
    component = spec("adam", "zoo_plugins.optimizers.keras_optimizers:adam")
    component.validate_spec()
    assert component.parameters()["learning_rate"].default == 0.001


def test_a_string_factory_that_cannot_be_imported_is_a_plugin_error() -> None:
    component = spec("x", "no_such_module_for_zoo:factory")
    component.plugin = "someone"
    with pytest.raises(PluginError, match="cannot import factory 'no_such_module_for_zoo:factory'") as error:
        component.parameters()
    assert "reinstall or fix the plugin 'someone'" in str(error.value)


# -- spec validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "factory", "kind", "message"),
    [
        ("Bad Name", _optimizer, "optimizer", "component name 'Bad Name' is not valid"),
        ("a:b", _optimizer, "optimizer", "component name 'a:b' is not valid"),
        ("", _optimizer, "optimizer", "component name '' is not valid"),
        ("ok", _optimizer, "widget", "unknown kind 'widget'"),
        ("ok", "not a path", "optimizer", "factory 'not a path' is not a 'module:function' path"),
        ("ok", 42, "optimizer", "factory 42 is not callable"),
    ],
)
def test_malformed_specs_are_refused(name: str, factory: Any, kind: str, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        spec(name, factory, kind=kind).validate_spec()


def test_factory_with_the_wrong_leading_arguments_is_refused_at_registration() -> None:
    def net(width: int = 8) -> None:
        """Forgot input_shape and num_classes."""

    with pytest.raises(PluginError) as error:
        spec("net", net, kind="architecture").validate_spec()
    message = str(error.value)
    assert "architecture 'net'" in message
    assert "must take (input_shape, num_classes, ...), takes (width)" in message


def test_a_bad_name_error_says_what_names_look_like() -> None:
    with pytest.raises(PluginError) as error:
        spec("My_Dataset", kind="dataset").validate_spec()
    assert "lower-case letters, digits" in str(error.value)


# -- type checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        (int, 3, 3),
        (float, 3, 3.0),
        (float, 0.5, 0.5),
        (bool, True, True),
        (str, "relu", "relu"),
        (list[int], [1, 2], [1, 2]),
        (list[float], [1, 2.5], [1.0, 2.5]),
        (tuple[int, ...], [4], [4]),
        (Literal["a", "b"], "b", "b"),
        (Optional[int], 5, 5),
        (dict, {"a": 1}, {"a": 1}),
        (Any, object, object),
    ],
)
def test_check_value_accepts_and_converts(annotation: Any, value: Any, expected: Any) -> None:
    result = check_value(annotation, value, "here")
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("annotation", "value", "message"),
    [
        (int, True, "here must be an integer, got boolean True"),
        (int, 1.5, "here must be an integer, got number 1.5"),
        (int, "3", "here must be an integer, got string '3'"),
        (float, "0.1", "here must be a number, got string '0.1'"),
        (bool, 1, "here must be true or false, got integer 1"),
        (str, 5, "here must be a string, got integer 5"),
        (list[int], 5, "here must be list\\[int\\], got integer 5"),
        (list[int], [1, "a"], "here\\[1\\] must be an integer, got string 'a'"),
        (Literal["none", "int8"], "int4", "here must be one of 'none', 'int8', got 'int4'"),
        (Literal[1, 2], True, "here must be one of 1, 2, got True"),
        (Optional[int], "x", "here must be an integer, got string 'x'"),
        (dict, [1], "here must be a table, got array \\[1\\]"),
    ],
)
def test_check_value_refuses_with_a_clear_message(annotation: Any, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        check_value(annotation, value, "here")


def test_a_literal_mistake_suggests_the_close_choice() -> None:
    with pytest.raises(ConfigError) as error:
        check_value(Literal["none", "float16", "int8"], "int4", "here")
    assert "did you mean 'int8'?" in str(error.value)


@pytest.mark.parametrize(
    ("annotation", "text"),
    [(int, "int"), (list[int], "list[int]"), (Literal["a", "b"], "'a' | 'b'"), (Optional[float], "float"),
     (Any, "any"), (dict[str, int], "table")],
)
def test_describe_type(annotation: Any, text: str) -> None:
    assert describe_type(annotation) == text


def test_unknown_parameter_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as error:
        spec().check_params({"learning_rat": 0.1}, "file.toml:3")
    message = str(error.value)
    assert "file.toml:3: optimizer 'thing' has no parameter 'learning_rat'" in message
    assert "did you mean 'learning_rate'?" in message
    assert "parameters: learning_rate, nesterov, schedule" in message


def test_check_params_fills_in_defaults() -> None:
    assert spec().check_params({"nesterov": True}, "x") == {
        "learning_rate": 0.01, "nesterov": True, "schedule": "constant"}


def test_suggest_lists_everything_and_the_close_ones() -> None:
    assert suggest("adm", ["sgd", "adam"], "optimizers") == "did you mean 'adam'? optimizers: adam, sgd"
    assert suggest("zzz", ["sgd"], "optimizers") == "optimizers: sgd"
    assert suggest("zzz", [], "optimizers") == "optimizers: (none)"


# -- every built-in component (timm-style: each registered one exercised) -------------


def _builtin_components() -> list[Component]:
    from zoo_core.plugins import load_catalog

    return load_catalog(allowlist=[], strict=True).components()


@pytest.mark.parametrize("component", _builtin_components(), ids=lambda c: f"{c.kind}-{c.name}")
def test_every_builtin_component_is_well_formed(component: Component) -> None:
    assert NAME_PATTERN.match(component.name) and component.kind in KINDS
    assert component.summary and component.distribution == "zoo"
    parameters = component.parameters()
    for parameter in parameters.values():
        assert parameter.help, f"{component.name}.{parameter.name} has no help in the docstring's Args:"
        assert not parameter.required, f"{component.name}.{parameter.name} has no default"
        assert parameter.check(parameter.default, "default") == parameter.default
    assert component.check_params({}, "defaults") == {name: p.default for name, p in parameters.items()}


def test_the_issue_s_builtin_names_are_registered(builtin_catalog: Catalog) -> None:
    from zoo_plugins.architectures.keras_applications import APPLICATIONS

    expected = {
        "dataset": ["csv", "image-folder", "mnist"],
        "architecture": sorted(["cnn", "mlp", "mobilenet", "resnet", *(a.name for a in APPLICATIONS)]),
        "optimizer": ["adam", "adamw", "rmsprop", "sgd"],
        "loss": ["categorical-crossentropy", "sparse-categorical-crossentropy"],
        "exporter": ["onnx", "savedmodel", "tflite"],
        "callback": ["cosine-warmup", "early-stopping", "fine-tune", "mlflow", "reduce-lr-on-plateau", "tensorboard"],
    }
    assert {kind: builtin_catalog.names(kind) for kind in KINDS} == expected
    mlp = builtin_catalog.find("architecture", "mlp").parameters()
    assert (mlp["hidden"].default, mlp["dropout"].default, mlp["activation"].default) == ([128, 64], 0.2, "relu")
    assert mlp["hidden"].type_name == "list[int in [1, 8192]], length <= 32"
