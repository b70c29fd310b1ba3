"""The conformance kit (zoo_core.testing): it accepts every built-in component
and every component of the example package, and says exactly which contract a
broken component breaks (the broken components are defined here)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from conftest import subprocess_env
from example_package import COMPONENTS, PLUGIN, forget_example_modules, install_example
from zoo_core import Component
from zoo_core.components import KINDS
from zoo_core.data import Dataset, DatasetInfo
from zoo_core.errors import AmbiguousNameError, ConfigError, UnknownNameError
from zoo_core.export import ExportResult, sha256_of
from zoo_core.plugins import Catalog, load_catalog
from zoo_core.registry import load_registry
from zoo_core.testing import (CheckResult, ConformanceError, assert_conforms, check_component, check_parameters,
                              check_plugin, conformance_cases, conformance_tests, refusal, report, synthetic_dataset)

TESTS = Path(__file__).resolve().parent
BUILTINS = load_catalog(allowlist=[], strict=False, warn=lambda line: None)
#: Built-in components the kit finds broken, with the bug report; xfail(strict) so a fix is noticed.
KNOWN_BROKEN: dict[tuple[str, str], str] = {}
#: The keras-applications plugin registers every keras.applications model (up to 350 M weights at 600x600): the kit
#: checks the smallest, at 32x32; tests/test_keras_applications.py checks the table against Keras for all of them.
KERAS_APPLICATIONS_CHECKED: dict[str, dict[str, Any]] = {"mobilenet-v3-small": {"image_size": 32}}
#: Callbacks whose defaults need a run the kit does not make: fine-tune unfreezes what freeze froze, and the
#: kit's runs freeze nothing, so it names the layers (every one).
CALLBACKS_CHECKED_WITH: dict[str, dict[str, Any]] = {"fine-tune": {"layers": ["*"]}}


def cases(pairs: list[tuple[str, str]]) -> list[Any]:
    return [pytest.param(kind, name, id=f"{kind}-{name}",
                         marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[(kind, name)])]
                         if (kind, name) in KNOWN_BROKEN else [])
            for kind, name in pairs]


def _unchecked_application(kind: str, name: str) -> bool:
    """A keras-applications model the kit does not build (see :data:`KERAS_APPLICATIONS_CHECKED`)."""
    return (kind == "architecture" and name not in KERAS_APPLICATIONS_CHECKED
            and BUILTINS.find(kind, name).plugin == "keras-applications")


def case(*values: Any) -> Any:
    """One parametrised case, named after its (broken) factory."""
    return pytest.param(*values, id=next(v.__name__ for v in values if callable(v)))


def failed(results: list[CheckResult]) -> dict[str, str]:
    """check name -> message of every failed check."""
    return {r.check: r.message for r in results if r.status == "failed"}


def skipped(results: list[CheckResult]) -> set[str]:
    return {r.check for r in results if r.status == "skipped"}


def check(kind: str, factory: Any, params: dict[str, Any] | None = None, **options: Any) -> list[CheckResult]:
    """Run the kit on a component defined in this module (the import check is for real plugin modules)."""
    options.setdefault("light_import", False)
    return check_component(kind, Component(f"broken-{kind}", factory), params, **options)


# -- every built-in component ----------------------------------------------------------------


def test_the_builtin_catalog_has_components_of_every_kind() -> None:
    assert {kind for kind, _ in conformance_cases(catalog=BUILTINS)} == set(KINDS)


@pytest.fixture(scope="module")
def user_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Parameters for the built-in datasets that read a user's files: a tiny image folder and CSV table."""
    from PIL import Image

    root = tmp_path_factory.mktemp("user-data")
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (root / "images" / name).mkdir(parents=True)
        for index in range(4):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(root / "images" / name / f"{index}.png")
    rows = [f"{a:.3f},{b:.3f},{'yes' if a > b else 'no'}" for a, b in rng.normal(size=(20, 2))]
    (root / "table.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n")
    return {"image-folder": {"path": str(root / "images")}, "csv": {"path": str(root / "table.csv")}}


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "name"), cases([pair for pair in conformance_cases(catalog=BUILTINS)
                                                   if not _unchecked_application(*pair)]))
def test_every_builtin_component_conforms(kind: str, name: str, user_data: dict[str, dict[str, Any]]) -> None:
    params = {"dataset": user_data, "callback": CALLBACKS_CHECKED_WITH}.get(kind, KERAS_APPLICATIONS_CHECKED).get(name)
    assert_conforms(kind, name, params, catalog=BUILTINS)


def builtin_exporter_presets() -> list[Any]:
    """Every exporter preset of zoo's registry.toml (tflite-int8...), as (component, params)."""
    registry = load_registry(BUILTINS, cwd=TESTS)
    choices = [registry.resolve("exporter", name, "test") for name in sorted(registry.presets["exporter"])]
    return [pytest.param(choice.component, choice.params, id=choice.ref) for choice in choices]


@pytest.mark.slow
@pytest.mark.parametrize(("component", "params"), builtin_exporter_presets())
def test_every_builtin_exporter_preset_conforms(component: Component, params: dict[str, Any]) -> None:
    assert_conforms("exporter", component, params, repeat=False, light_import=False)


@pytest.mark.slow
def test_builtin_architectures_build_for_the_builtin_dataset() -> None:
    assert_conforms("architecture", "mlp", catalog=BUILTINS, dataset="mnist")


# -- the example package's components --------------------------------------------------------


@pytest.fixture
def example_catalog(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Catalog]:
    """The built-ins plus examples/zoo-digits, installed with pip, on sys.path for this test only."""
    monkeypatch.syspath_prepend(str(install_example(tmp_path_factory)))
    yield load_catalog(allowlist=[PLUGIN], strict=True)
    forget_example_modules()


def test_the_example_s_cases_are_exactly_its_components(example_catalog: Catalog) -> None:
    assert conformance_cases(PLUGIN, catalog=example_catalog) == COMPONENTS


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "name"), cases(COMPONENTS))
def test_every_example_component_conforms(example_catalog: Catalog, kind: str, name: str) -> None:
    assert_conforms(kind, name, catalog=example_catalog)


@pytest.mark.slow
@pytest.mark.parametrize(("architecture", "dataset"), [("small-cnn", "mnist"), ("small-cnn", "digits"),
                                                       ("mlp", "digits")])
def test_architectures_and_datasets_mix_both_ways(example_catalog: Catalog, architecture: str, dataset: str) -> None:
    assert_conforms("architecture", architecture, catalog=example_catalog, dataset=dataset)


@pytest.mark.slow
def test_exporters_work_on_the_example_s_dataset(example_catalog: Catalog) -> None:
    for exporter, params in (("keras-file", {}), ("tflite", {"quantize": "int8"})):
        assert_conforms("exporter", exporter, params, catalog=example_catalog, dataset="digits", repeat=False)


@pytest.mark.slow
def test_the_example_package_s_own_tests_pass_with_conformance_tests(tmp_path_factory: pytest.TempPathFactory,
                                                                     tmp_path: Path) -> None:
    """examples/zoo-digits/tests uses ``conformance_tests("zoo-digits")``, as a plugin author would."""
    site = install_example(tmp_path_factory)
    tests = site.parent / "src" / "tests"
    done = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", str(tests)],
                          cwd=tmp_path, env=subprocess_env([site]), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:]
    for kind, name in COMPONENTS:
        assert f"test_conformance[{kind}-{name}] PASSED" in done.stdout


# -- broken components: the kit says what is wrong ----------------------------------------------


def no_softmax(input_shape: tuple[int, ...], num_classes: int) -> Any:
    """Ends in a linear layer: logits, not probabilities."""
    import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(num_classes)])


def one_class_too_many(input_shape: tuple[int, ...], num_classes: int) -> Any:
    """Outputs num_classes + 1 probabilities."""
    import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(num_classes + 1, activation="softmax")])


def with_lambda(input_shape: tuple[int, ...], num_classes: int) -> Any:
    """A Lambda layer: does not load back in safe mode."""
    import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Lambda(lambda x: x * 2.0),
                             keras.layers.Dense(num_classes, activation="softmax")])


@pytest.mark.slow
def test_an_architecture_without_softmax_is_told_to_end_in_softmax() -> None:
    results = check("architecture", no_softmax)
    assert list(failed(results)) == ["probabilities"]
    message = failed(results)["probabilities"]
    assert "not class probabilities" in message and "rows sum to" in message
    assert "Dense(num_classes, activation='softmax')" in message
    with pytest.raises(ConformanceError) as raised:
        assert_conforms("architecture", Component("logits-net", no_softmax), light_import=False)
    text = str(raised.value)
    assert isinstance(raised.value, AssertionError)
    assert text.startswith("architecture 'logits-net' broke 1 of ")
    assert "\n  FAILED probabilities: the output is not class probabilities" in text
    assert "\n  passed: spec, " in text


@pytest.mark.slow
def test_an_architecture_with_the_wrong_number_of_outputs() -> None:
    results = check("architecture", one_class_too_many)
    assert list(failed(results)) == ["output_shape"]
    assert "outputs shape (4, 4), expected (4, 3) (batch, num_classes)" in failed(results)["output_shape"]
    assert {"probabilities", "trains_one_step", "saves_and_reloads"} <= skipped(results)


@pytest.mark.slow
def test_an_architecture_that_does_not_reload_in_safe_mode() -> None:
    message = failed(check("architecture", with_lambda))["saves_and_reloads"]
    assert "safe mode" in message and "Lambda" in message and "register_keras_serializable" in message


def split_dataset(x: Any, y: Any, info: DatasetInfo) -> Dataset:
    return Dataset(x[:40], y[:40], x[40:], y[40:], info)


def digits_like_info(**changes: Any) -> DatasetInfo:
    fields = dict(name="broken", input_shape=(4, 4), num_classes=10, class_names=[str(i) for i in range(10)],
                  raw_value_range=(0.0, 1.0), scale=1.0)
    fields.update(changes)
    return DatasetInfo(**fields)


def labels_out_of_range() -> Any:
    """Labels 1..10 for 10 classes (off by one)."""
    rng = np.random.default_rng(0)
    return split_dataset(rng.uniform(size=(60, 4, 4)).astype(np.float32), np.arange(60) % 10 + 1, digits_like_info())


def shape_mismatch() -> Any:
    """Examples are 4x4 but the info says 8x8."""
    rng = np.random.default_rng(0)
    return split_dataset(rng.uniform(size=(60, 4, 4)).astype(np.float32), np.arange(60) % 10,
                         digits_like_info(input_shape=(8, 8)))


def lists_not_arrays() -> Any:
    """Python lists instead of numpy arrays."""
    return Dataset([[0.0] * 16] * 4, [0, 1, 2, 3], [[0.0] * 16] * 2, [0, 1], digits_like_info(input_shape=(16,)))


def one_hot_labels() -> Any:
    """One-hot labels of shape (n, 10)."""
    rng = np.random.default_rng(0)
    return split_dataset(rng.uniform(size=(60, 4, 4)).astype(np.float32), np.eye(10, dtype=np.int64)[np.arange(60) % 10],
                         digits_like_info())


def unscaled_pixels() -> Any:
    """Pixels 0..255 while the info declares [0, 1]."""
    rng = np.random.default_rng(0)
    return split_dataset(rng.integers(0, 256, size=(60, 4, 4)).astype(np.float32), np.arange(60) % 10,
                         digits_like_info())


def too_few_class_names() -> Any:
    """Nine class names for ten classes, and a normalisation that misses value_range."""
    rng = np.random.default_rng(0)
    return split_dataset(rng.uniform(size=(60, 4, 4)).astype(np.float32), np.arange(60) % 10,
                         digits_like_info(class_names=[str(i) for i in range(9)], raw_value_range=(0.0, 255.0)))


def unseeded_split() -> Any:
    """A random split without a seed: different data on every call."""
    x = np.random.default_rng().uniform(size=(60, 4, 4)).astype(np.float32)
    return split_dataset(x, np.arange(60) % 10, digits_like_info())


@pytest.mark.parametrize(("factory", "broken", "words"), [
    case(labels_out_of_range, {"labels_in_range"},
     "y_train holds labels 1..10, but info.num_classes is 10: labels must be 0..9"),
    case(shape_mismatch, {"shapes"},
     "x_train has examples of shape (4, 4), but info.input_shape is (8, 8)"),
    case(lists_not_arrays, {"arrays"}, "x_train is a builtins.list; zoo's runner takes numpy arrays"),
    case(one_hot_labels, {"shapes"}, "not one-hot"),
    case(unscaled_pixels, {"values_in_range"}, "outside info.value_range [0, 1]: scale the inputs"),
    case(too_few_class_names, {"info", "normalisation"}, "class_names has 9 names for num_classes = 10"),
    case(unseeded_split, {"deterministic"}, "two calls with the same parameters gave different x_train"),
])
def test_a_broken_dataset_is_told_what_is_wrong(factory: Any, broken: set[str], words: str) -> None:
    problems = failed(check("dataset", factory))
    assert set(problems) == broken, problems
    assert any(words in message for message in problems.values()), problems


def test_a_failed_check_skips_only_the_checks_that_need_it() -> None:
    results = check("dataset", labels_out_of_range)
    assert skipped(results) == {"runner_accepts"}
    assert {"shapes", "dtypes", "values_in_range", "deterministic"} <= {r.check for r in results if r.passed}


_SHARED: list[Any] = []


def shared_optimizer() -> Any:
    """Returns one optimizer object for every call."""
    import keras

    if not _SHARED:
        _SHARED.append(keras.optimizers.SGD(0.1))
    return _SHARED[0]


def not_an_optimizer() -> Any:
    """Returns a string."""
    return "adam"


def one_hot_loss_unmarked() -> Any:
    """Categorical focal loss (one-hot labels) without saying so."""
    import keras

    return keras.losses.CategoricalFocalCrossentropy()


def one_hot_loss_marked() -> Any:
    """Categorical focal loss, marked as wanting one-hot labels."""
    import keras

    loss = keras.losses.CategoricalFocalCrossentropy()
    loss.zoo_one_hot_labels = True
    return loss


def ignores_labels() -> Any:
    """A 'loss' that does not look at the labels."""
    import keras

    return lambda y_true, y_pred: keras.ops.mean(y_pred)


def unregistered_loss() -> Any:
    """A custom Loss class that Keras cannot find when it loads a checkpoint."""
    import keras

    class Unregistered(keras.losses.Loss):
        def call(self, y_true: Any, y_pred: Any) -> Any:
            return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)

    return Unregistered()


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "factory", "broken", "words"), [
    case("optimizer", shared_optimizer, {"new_object_per_call"}, "build a new one on every call"),
    case("optimizer", not_an_optimizer, {"builds"}, "must return a new keras.optimizers.Optimizer"),
    case("loss", one_hot_loss_unmarked, {"prefers_right_answers", "fits_one_step"}, "loss.zoo_one_hot_labels = True"),
    case("loss", one_hot_loss_marked, set(), ""),
    case("loss", ignores_labels, {"prefers_right_answers", "saves_and_reloads"},
     "lowest for right answers and highest for wrong ones"),
    case("loss", unregistered_loss, {"saves_and_reloads"}, "register_keras_serializable"),
])
def test_a_broken_optimizer_or_loss_is_told_what_is_wrong(kind: str, factory: Any, broken: set[str],
                                                          words: str) -> None:
    problems = failed(check(kind, factory))
    assert set(problems) == broken, problems
    assert not broken or any(words in message for message in problems.values()), problems


def overwriting_exporter(context: Any) -> Any:
    """Writes model.bin, replacing whatever was there."""
    path = Path(context.destination) / "model.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"weights")
    return ExportResult("bin", "raw", str(path), path.stat().st_size, sha256_of(path), figures={"checked": 1})


def untidy_exporter(context: Any) -> Any:
    """Leaves its temporary file behind, and records a wrong size."""
    destination = Path(context.destination)
    destination.mkdir(parents=True, exist_ok=True)
    (destination / ".staging.tmp").write_bytes(b"half")
    path = destination / f"model-{len(list(destination.iterdir()))}.bin"
    path.write_bytes(b"weights")
    return ExportResult("bin", "raw", str(path), 1, sha256_of(path), figures={"checked": 1})


def failing_exporter(context: Any) -> Any:
    """Reports a failure in its result instead of raising ExportError."""
    return ExportResult("bin", "raw", "", status="failed", message="verification failed")


def dict_exporter(context: Any) -> Any:
    """Returns a dict."""
    return {"path": "model.bin"}


@pytest.mark.slow
@pytest.mark.parametrize(("factory", "broken", "words"), [
    case(overwriting_exporter, {"never_overwrites", "verified"}, "a second export wrote to the same path"),
    case(untidy_exporter, {"result_matches_artifact", "verified", "no_leftovers"},
         "temporary files were left in the destination"),
    case(failing_exporter, {"exports"}, "reported status 'failed': verification failed"),
    case(dict_exporter, {"exports"}, "the factory returned dict; an exporter must return a zoo_core.export.ExportResult"),
])
def test_a_broken_exporter_is_told_what_is_wrong(factory: Any, broken: set[str], words: str) -> None:
    problems = failed(check("exporter", factory))
    assert set(problems) == broken, problems
    assert any(words in message for message in problems.values()), problems


# -- parameters -------------------------------------------------------------------------------


def sloppy_parameters(rate=0.1, steps: int = "3", name: str = "x") -> Any:  # noqa: ANN001 - on purpose
    """Untyped rate, a default of the wrong type, no help for name.

    Args:
        rate: step size.
        steps: how many.
    """


def needs_a_value(size: int) -> Any:
    """A required parameter.

    Args:
        size: how big.
    """
    return size


def test_parameters_must_be_typed_documented_and_valid() -> None:
    problems = failed(check_parameters("optimizer", Component("sloppy", sloppy_parameters)))
    assert set(problems) == {"parameters_documented", "defaults_valid"}
    assert "'name' has no help for 'zoo show'" in problems["parameters_documented"]
    assert "the default of 'steps' ('3') fails its own type check" in problems["defaults_valid"]


def test_a_required_parameter_is_reported_unless_the_kit_is_given_a_value() -> None:
    without = check_parameters("loss", Component("sized", needs_a_value))
    assert "needs parameter 'size' (int)" in failed(without)["defaults_accepted"]
    assert "pass the required ones to the kit (params={...})" in failed(without)["defaults_accepted"]
    given = check_parameters("loss", Component("sized", needs_a_value), {"size": 3})
    assert failed(given) == {}
    assert [r.check for r in given] == ["spec", "parameters_documented", "defaults_valid", "defaults_accepted",
                                        "unknown_parameter_refused"]


def test_a_malformed_spec_fails_the_spec_check_and_skips_the_rest() -> None:
    results = check_component("optimizer", Component("Bad Name!", needs_a_value), light_import=False)
    assert "component name 'Bad Name!' is not valid" in failed(results)["spec"]
    assert all(r.status == "skipped" for r in results if r.check != "spec")


LOOSE_HEAVY = '''
    import jax

    from zoo_core import Component, hookimpl


    def scaled(factor: float = 1.0):
        """A loss.

        Args:
            factor: scale.
        """


    @hookimpl
    def register_losses():
        return [Component("heavy-loose", scaled)]
'''


def test_a_plugin_module_that_imports_a_framework_at_the_top_is_refused(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in 'jax' module (one of the heavy names the kit looks for) keeps this test free of a
    # real framework import; the kit checks which modules the plugin module pulls in, by name.
    (tmp_path / "jax.py").write_text("", encoding="utf-8")
    (tmp_path / "zoo_heavy_plugin_for_test.py").write_text(textwrap.dedent('''
        import jax

        def scaled(factor: float = 1.0):
            """A loss.

            Args:
                factor: scale.
            """
    '''), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    for stub in ("jax", "zoo_heavy_plugin_for_test"):  # imported in-process below: keep them from later tests
        monkeypatch.setitem(sys.modules, stub, None)
        monkeypatch.delitem(sys.modules, stub)
    heavy = check_parameters("loss", Component("heavy", "zoo_heavy_plugin_for_test:scaled"))
    assert failed(heavy) == {}  # the parameter checks do not import in a fresh interpreter
    results = check_component("loss", Component("heavy", "zoo_heavy_plugin_for_test:scaled"))
    message = failed(results)["import_is_light"]
    assert message == ("importing zoo_heavy_plugin_for_test imports jax: import it inside the factory "
                       "function, so that 'zoo list' stays fast")
    # a loose file from --plugins-dir is imported by its path
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "heavy_loose.py").write_text(textwrap.dedent(LOOSE_HEAVY), encoding="utf-8")
    catalog = load_catalog(folder, allowlist=["heavy_loose"], strict=True)
    loose = failed(check_component("loss", "heavy-loose", catalog=catalog))["import_is_light"]
    assert loose.startswith(f"importing {folder / 'heavy_loose.py'} imports jax")


# -- the kit's API -----------------------------------------------------------------------------


def test_an_unknown_name_is_a_clear_error_not_a_failed_check() -> None:
    with pytest.raises(UnknownNameError, match="unknown architecture 'small-cnm'"):
        check_component("architecture", "small-cnm", catalog=BUILTINS)
    with pytest.raises(TypeError, match="unknown option"):
        check_component("dataset", "mnist", catalog=BUILTINS, max_sample=10)
    with pytest.raises(ValueError, match="kind must be one of"):
        check_component("model", "mlp", catalog=BUILTINS)


def test_conformance_tests_makes_one_pytest_case_per_component() -> None:
    test = conformance_tests("keras-optimizers", catalog=BUILTINS)
    [mark] = [m for m in test.pytestmark if m.name == "parametrize"]
    assert mark.args[1] == [("optimizer", "adam"), ("optimizer", "adamw"), ("optimizer", "rmsprop"),
                            ("optimizer", "sgd")]
    assert mark.kwargs["ids"][0] == "optimizer-adam"
    missing = conformance_tests("zoo-nothing", catalog=BUILTINS)
    with pytest.raises(pytest.fail.Exception, match="no plugin named 'zoo-nothing' is installed .*pip install -e ."):
        missing()


def test_the_synthetic_dataset_passes_the_dataset_checks() -> None:
    results = check("dataset", lambda: synthetic_dataset((6, 5), 4))
    assert failed(results) == {}


def test_importing_the_kit_does_not_import_tensorflow(tmp_path: Path) -> None:
    code = "import sys, zoo_core.testing; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


# -- choosing what to check: names, kinds, params ----------------------------------------------

#: A loose plugin file (--plugins-dir) whose optimizer 'sgd' clashes with the built-in one.
CLASHING_PLUGIN = '''
    from zoo_core import Component, hookimpl


    def sgd(learning_rate: float = 0.1):
        """Another SGD.

        Args:
            learning_rate: step size.
        """
        import keras

        return keras.optimizers.SGD(learning_rate)


    @hookimpl
    def register_optimizers():
        return [Component("sgd", sgd)]
'''


@pytest.fixture
def clash_catalog(tmp_path: Path) -> Catalog:
    """The built-ins plus a loose plugin 'clash' that also registers optimizer 'sgd'."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "clash.py").write_text(textwrap.dedent(CLASHING_PLUGIN), encoding="utf-8")
    catalog = load_catalog(folder, allowlist=["clash"], strict=False, warn=lambda line: None)
    assert [c.plugin for c in catalog.by_kind["optimizer"]["sgd"]] == ["keras-optimizers", "clash"]
    return catalog


def parametrized_cases(test: Any) -> list[tuple[str, str]]:
    """The (kind, name) cases a conformance_tests function was parametrised with."""
    [mark] = [m for m in test.pytestmark if m.name == "parametrize"]
    return mark.args[1]


def test_components_are_selected_by_bare_or_qualified_name() -> None:
    assert conformance_cases(names=["sgd", "mlp:mlp", "mnist"], catalog=BUILTINS) == [
        ("dataset", "mnist"), ("architecture", "mlp"), ("optimizer", "sgd")]
    assert conformance_cases("keras-optimizers", names="adam", catalog=BUILTINS) == [("optimizer", "adam")]
    test = conformance_tests(names=["tflite", "keras-losses:categorical-crossentropy"], catalog=BUILTINS)
    assert parametrized_cases(test) == [("loss", "categorical-crossentropy"), ("exporter", "tflite")]


def test_a_bare_name_two_plugins_register_must_be_qualified(clash_catalog: Catalog) -> None:
    with pytest.raises(AmbiguousNameError, match="optimizer 'sgd' is ambiguous: registered by plugins "
                                                 "keras-optimizers .* and clash") as raised:
        conformance_cases(names=["sgd"], catalog=clash_catalog)
    assert raised.value.hint == "write 'keras-optimizers:sgd' or 'clash:sgd'"
    assert conformance_cases(names=["clash:sgd", "keras-optimizers:sgd"], catalog=clash_catalog) == [
        ("optimizer", "keras-optimizers:sgd"), ("optimizer", "clash:sgd")]
    assert conformance_cases("clash", names=["sgd"], catalog=clash_catalog) == [("optimizer", "clash:sgd")]
    test = conformance_tests(names=["clash:sgd"], params={"clash:sgd": {"learning_rate": 0.5}}, catalog=clash_catalog)
    assert parametrized_cases(test) == [("optimizer", "clash:sgd")]


def test_a_name_that_selects_nothing_is_an_error_with_suggestions() -> None:
    with pytest.raises(UnknownNameError, match="no component 'adma' to check") as raised:
        conformance_cases(names=["adma"], catalog=BUILTINS)
    assert raised.value.hint.startswith("did you mean 'adam' or 'adamw'? components in the selection: adam, ")
    with pytest.raises(UnknownNameError, match=r"no component 'mnist' to check in plugin 'keras-optimizers' "
                                               r"\('mnist' is a dataset of plugin 'mnist': widen plugin= or kinds=\)"):
        conformance_cases("keras-optimizers", names=["mnist"], catalog=BUILTINS)
    with pytest.raises(UnknownNameError, match="among the losses"):
        check_plugin(names=["sgd"], kinds=["losses"], catalog=BUILTINS)
    test = conformance_tests(names=["sgd", "mpl"], catalog=BUILTINS)  # one typo: one failing test that says so
    with pytest.raises(pytest.fail.Exception, match="no component 'mpl' to check\n  hint: did you mean 'mlp'"):
        test()


def test_kinds_take_singular_or_plural_and_refuse_anything_else() -> None:
    singular = conformance_cases("keras-optimizers", kinds=["optimizer"], catalog=BUILTINS)
    assert len(singular) == 4
    assert conformance_cases("keras-optimizers", kinds=["optimizers"], catalog=BUILTINS) == singular
    assert conformance_cases("keras-optimizers", kinds="optimizers", catalog=BUILTINS) == singular
    assert parametrized_cases(conformance_tests("mlp", kinds=["architectures"], catalog=BUILTINS)) == [
        ("architecture", "mlp")]
    with pytest.raises(ValueError, match=r"kind must be one of dataset, architecture, optimizer, loss, exporter, callback "
                                         r"\(or their plurals\), got 'optimisers': did you mean 'optimizers'\?$"):
        conformance_cases(kinds=["optimisers"], catalog=BUILTINS)
    with pytest.raises(pytest.fail.Exception, match="got 'architectures2'"):
        conformance_tests("mlp", kinds=["architectures2"], catalog=BUILTINS)()
    with pytest.raises(pytest.fail.Exception,
                       match=r"^plugin 'mlp' registers no exporters \(it registers architecture mlp\)$"):
        conformance_tests("mlp", kinds=["exporters"], catalog=BUILTINS)()
    with pytest.raises(ValueError, match="registers no losses or exporters"):
        check_plugin("mlp", kinds=["losses", "exporter"], catalog=BUILTINS)
    assert [r.check for r in check_parameters("optimizers", "adam", catalog=BUILTINS)][0] == "spec"


def test_a_misspelt_parameter_in_params_is_an_error_naming_the_real_ones() -> None:
    with pytest.raises(ConfigError, match="params for optimizer 'sgd': it has no parameter 'learning_rat'") as raised:
        check_component("optimizer", "sgd", {"learning_rat": 0.1}, catalog=BUILTINS)
    assert raised.value.hint.startswith("did you mean 'learning_rate'? its parameters: clipnorm, learning_rate, ")
    with pytest.raises(ConfigError, match="^params for architecture 'vectors': it has no parameter 'unit', 'size'\n"
                                          "  hint: did you mean 'units'\\? its parameters: units$"):
        check_parameters("architecture", Component("vectors", vectors_only), {"unit": 3, "size": 2})
    # check_plugin refuses it before running any check
    with pytest.raises(ConfigError, match="params for optimizer 'adam': it has no parameter 'beta1'"):
        check_plugin("keras-optimizers", params={"adam": {"beta1": 0.8}}, catalog=BUILTINS)
    # conformance_tests: the case of that component fails with the same error
    test = conformance_tests("keras-optimizers", names=["adam"], params={"adam": {"beta1": 0.8}}, catalog=BUILTINS)
    with pytest.raises(pytest.fail.Exception, match="^ConfigError: params for optimizer 'adam': it has no parameter "
                                                    "'beta1'\n  hint: did you mean 'beta_1'"):
        test("optimizer", "adam")


def test_a_params_key_that_names_no_checked_component_is_an_error() -> None:
    with pytest.raises(UnknownNameError, match=r"params=\{'sdg': \.\.\.\} names no component being checked, so "
                                               r"its parameters would be ignored\n  hint: did you mean 'sgd'\?"):
        check_plugin("keras-optimizers", names=["sgd"], params={"sdg": {"learning_rate": 0.1}}, catalog=BUILTINS)
    test = conformance_tests("keras-optimizers", params={"rmsprob": {}}, catalog=BUILTINS)
    with pytest.raises(pytest.fail.Exception, match="'rmsprob'.*\n  hint: did you mean 'rmsprop'\\? components "
                                                    "being checked: adam, adamw, rmsprop, sgd$"):
        test()


# -- an architecture may refuse an input shape with ConfigError ----------------------------------


#: The input shapes vectors_only was called with.
VECTOR_CALLS: list[tuple[int, ...]] = []


def vectors_only(input_shape: tuple[int, ...], num_classes: int, units: int = 8) -> Any:
    """Feature vectors only: refuses images with ConfigError, as docs/plugins.md allows.

    Args:
        units: hidden units.
    """
    import keras

    from zoo_core.errors import ConfigError

    VECTOR_CALLS.append(tuple(input_shape))
    if len(input_shape) != 1:
        raise ConfigError(f"vectors-only takes feature vectors, got input_shape {input_shape}", hint="use mlp")
    if units < 1:
        raise ConfigError(f"vectors-only: units must be positive, got {units}")
    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(units, activation="relu"),
                             keras.layers.Dense(num_classes, activation="softmax")])


#: A feature-vector dataset's info (13 features, like scikit-learn's wine).
WINE_LIKE = DatasetInfo(name="wine-like", input_shape=(13,), num_classes=3, class_names=["a", "b", "c"],
                        value_range=(-5.0, 5.0), raw_value_range=(-5.0, 5.0), image=False)


@pytest.mark.slow
def test_an_architecture_that_refuses_the_dataset_s_shape_is_skipped_not_failed(example_catalog: Catalog) -> None:
    results = assert_conforms("architecture", "small-cnn", catalog=example_catalog, dataset=WINE_LIKE)
    refused = refusal(results)
    assert refused is not None and refused.status == "skipped"
    assert refused.message.startswith("refuses the dataset's input shape (13,) with ConfigError: architecture "
                                      "small-cnn needs image inputs of shape (height, width)")
    assert "(it builds for (8, 8);" in refused.message
    assert failed(results) == {}
    assert skipped(results) == {"builds", "input_shape", "output_shape", "probabilities", "trains_one_step",
                                "saves_and_reloads", "new_model_per_call"}
    assert report(results).startswith("architecture 'small-cnn' passed 7 zoo contract checks, 7 skipped")
    # from pytest, that case is skipped with the reason
    test = conformance_tests("zoo-digits", kinds=["architectures"], dataset=WINE_LIKE, catalog=example_catalog)
    with pytest.raises(pytest.skip.Exception, match=r"architecture 'small-cnn' does not apply: refuses the "
                                                    r"dataset's input shape \(13,\)"):
        test("architecture", "small-cnn")


@pytest.mark.slow
def test_a_refused_parameter_value_still_fails_even_on_a_refused_shape(example_catalog: Catalog) -> None:
    results = check_component("architecture", "small-cnn", {"dropout": 1.5}, catalog=example_catalog,
                              dataset=WINE_LIKE)
    message = failed(results)["builds"]
    assert message.startswith("the factory raised ConfigError for the dataset's input shape (13,): architecture "
                              "small-cnn needs image inputs")
    assert "(8, 8), (8, 8, 1), (8, 8, 3): architecture small-cnn: dropout must be in [0, 1), got 1.5" in message
    assert "a parameter value, not only the shape, is refused" in message


@pytest.mark.slow
def test_without_a_dataset_the_kit_tries_the_example_shapes_until_one_is_taken() -> None:
    VECTOR_CALLS.clear()
    results = check("architecture", vectors_only)
    assert failed(results) == {} and skipped(results) == set() and len(results) == 13
    # (8, 8) is refused, then each example shape is tried until one builds; new_model_per_call builds again
    assert VECTOR_CALLS == [(8, 8), (8, 8), (8, 8, 1), (8, 8, 3), (16,), (16,)]
    broken = failed(check("architecture", vectors_only, {"units": 0}))["builds"]
    assert broken.startswith("the factory raised ConfigError for every example input shape: (8, 8): vectors-only "
                             "takes feature vectors, got input_shape (8, 8) (use mlp); (8, 8, 1): ")
    assert "; (16,): vectors-only: units must be positive, got 0; if a parameter value is refused, fix its " \
           "default; if the architecture takes other shapes, pass dataset=..." in broken
    on_vectors = check("architecture", vectors_only, dataset=WINE_LIKE)
    assert failed(on_vectors) == {} and refusal(on_vectors) is None
