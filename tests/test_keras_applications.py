"""The keras-applications plugin (issue 26): its static table checked against the installed Keras, the models it
builds (resized, grayscale to RGB, rescaled as each family expects, a head sized to the classes), weights files
(loaded, refused when missing, damaged or of another architecture) and ImageNet weights offline (Keras' cache or
exit 2 naming the file and the folder), then a small RGB folder trained and exported with every check passing.

Cheap by design: only the smallest applications are built, at 32x32; the rest are checked by their
constructor's signature and Keras' source.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import run_cli
from zoo_core.errors import ConfigError
from zoo_plugins.architectures.keras_applications import APPLICATIONS, BY_NAME, register_architectures

keras = pytest.importorskip("keras")

#: The head zoo adds, and the layers zoo puts before the application (by name).
HEAD = ["head_pool", "head_dropout", "probabilities"]


def factory(name: str) -> Any:
    """The registered factory of ``name``."""
    return next(component.factory for component in register_architectures() if component.name == name)


@functools.lru_cache(maxsize=1)
def keras_sources() -> str:
    """The source of every keras.applications module, adjacent string literals joined (``"a" "b"`` -> ``"ab"``)."""
    import keras.src.applications as package

    texts = [path.read_text(encoding="utf-8") for path in Path(package.__file__).parent.glob("*.py")]
    return re.sub(r'"\s*\n\s*f?"', "", "\n".join(texts))


def mentioned(file: str, name: str, sources: str) -> bool:
    """Whether Keras' source names ``file``: as a literal, or as the model's default ``name`` + a literal suffix."""
    return file in sources or (file.startswith(name) and file[len(name):] in sources)


# -- the table against keras.applications ---------------------------------------------------------------------


def test_the_table_holds_every_image_model_of_keras_applications() -> None:
    constructors = {name for name in dir(keras.applications) if name[0].isupper()}
    assert {application.constructor for application in APPLICATIONS} == constructors
    assert len(BY_NAME) == len(APPLICATIONS)  # no name twice


@pytest.mark.parametrize("application", APPLICATIONS, ids=lambda application: application.name)
def test_each_constructor_takes_what_the_table_declares(application: Any) -> None:
    from zoo_plugins.architectures.keras_applications import imagenet_file

    signature = inspect.signature(getattr(keras.applications, application.constructor))
    assert {"input_tensor", "input_shape", "include_top", "weights"} <= set(signature.parameters)
    assert ("alpha" in signature.parameters) == bool(application.alphas)
    assert ("minimalistic" in signature.parameters) == application.minimalistic
    declared = inspect.signature(factory(application.name)).parameters
    assert declared["image_size"].default == application.default_size
    assert ("alpha" in declared) == bool(application.alphas)
    sources = keras_sources()
    assert f"min_size={application.min_size}" in sources
    if "{" in application.weights_file:
        return  # names made from alpha and size: test_templated_imagenet_file_names_are_those_keras_asks_for
    file, url = imagenet_file(application)
    folder, _, download = url.rpartition("/")
    name = signature.parameters["name"].default
    assert mentioned(file, name, sources) and mentioned(download, name, sources), file
    assert folder.split("storage.googleapis.com/")[1] in sources, url


@pytest.mark.parametrize(("name", "params"), [
    ("mobilenet-v1", {"alpha": 0.25, "image_size": 128}),
    ("mobilenet-v2", {"alpha": 0.35, "image_size": 96}),
    ("mobilenet-v3-small", {"alpha": 0.75, "minimalistic": False}),
])
def test_templated_imagenet_file_names_are_those_keras_asks_for(name: str, params: dict[str, Any],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras' own file request, caught: the name zoo looks for in the cache is the name Keras would download."""
    from keras.src.utils import file_utils

    from zoo_plugins.architectures.keras_applications import imagenet_file

    asked: list[tuple[str, str]] = []

    class Asked(Exception):
        pass

    def get_file(fname: str, origin: str, **_: Any) -> str:
        asked.append((fname, origin))
        raise Asked

    monkeypatch.setattr(file_utils, "get_file", get_file)
    application = BY_NAME[name]
    size = params.get("image_size", 224)
    options = {key: value for key, value in params.items() if key != "image_size"}
    with pytest.raises(Asked), keras.StatelessScope(initialize_variables=False):
        getattr(keras.applications, application.constructor)(input_shape=(size, size, 3), include_top=False,
                                                              weights="imagenet", **options)
    assert asked == [imagenet_file(application, params.get("alpha", 1.0), size, params.get("minimalistic", False))]


@pytest.mark.parametrize(("mode", "module"), [("tf", "mobilenet_v2"), ("raw", "efficientnet"),
                                              ("caffe", "resnet50"), ("torch", "densenet")])
def test_zoo_s_images_are_rescaled_as_keras_preprocess_input_does(mode: str, module: str) -> None:
    from zoo_plugins.architectures._applications import _application_input

    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, _application_input(inputs, (4, 4, 3), 4, mode))
    pixels = np.random.default_rng(0).random((2, 4, 4, 3)).astype("float32")  # zoo's [0, 1] images
    expected = getattr(keras.applications, module).preprocess_input(pixels * 255.0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(pixels)), expected, rtol=1e-5, atol=1e-3)


# -- the models ----------------------------------------------------------------------------------------------


def test_a_grayscale_dataset_is_resized_repeated_to_rgb_and_headed_by_its_classes(tmp_path: Path) -> None:
    model = factory("mobilenet-v3-small")((28, 28), 7, image_size=32, dropout=0.3)
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["image", "add_channel", "gray_to_rgb", "resize"] and names[-3:] == HEAD
    assert "expanded_conv_project" in names  # the application's own layers, flat and by their Keras names
    assert model.get_layer("head_dropout").rate == 0.3
    assert {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)} == {0.9}
    images = np.random.default_rng(0).random((3, 28, 28)).astype("float32")
    probabilities = keras.ops.convert_to_numpy(model(images))
    assert probabilities.shape == (3, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    model.save(tmp_path / "model.keras")  # zoo's model.keras reloads in safe mode, and answers the same
    again = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(images)), probabilities, atol=1e-6)


@pytest.mark.parametrize(("shape", "params", "words"), [
    ((28, 28, 4), {}, "grayscale or RGB images, got 4 channels"),
    ((16,), {}, "needs image inputs"),
    ((28, 28), {"image_size": 31}, "image_size must be in [32, 1024], got 31"),
    ((28, 28), {"weights": "imagenet", "alpha": 0.5}, "ImageNet weights exist for alpha 0.75, 1.0 only"),
    ((28, 28), {"weights": "model.keras"}, "the path of a weights file (.weights.h5 or .h5)"),
    ((28, 28), {"weights": "missing.weights.h5"}, "does not exist"),
])
def test_what_the_factory_refuses_before_building(shape: tuple[int, ...], params: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        factory("mobilenet-v3-small")(shape, 3, **params)
    assert words in caught.value.message and caught.value.hint


def test_nasnet_imagenet_weights_fit_one_size_only() -> None:
    with pytest.raises(ConfigError) as caught:
        factory("nasnet-mobile")((28, 28), 3, image_size=96, weights="imagenet")
    assert "fit image_size 224 only, got 96" in caught.value.message
    assert caught.value.hint == "--set architecture.image_size=224"


# -- weights files ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mobilenet_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """keras.applications.MobileNet(alpha=0.25) without top, random, saved as .weights.h5; and the model."""
    base = keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, include_top=False, weights=None)
    path = tmp_path_factory.mktemp("weights") / "backbone.weights.h5"
    base.save_weights(path)
    return path, base


def assert_backbone_equals(model: Any, base: Any) -> None:
    for layer in (layer for layer in base.layers if layer.weights):
        for ours, theirs in zip(model.get_layer(layer.name).get_weights(), layer.get_weights(), strict=True):
            np.testing.assert_array_equal(ours, theirs)


def test_a_weights_file_is_loaded_into_the_application_s_layers(mobilenet_weights: tuple[Path, Any]) -> None:
    path, base = mobilenet_weights
    model = factory("mobilenet-v1")((28, 28), 5, image_size=48, alpha=0.25, weights=str(path))
    assert_backbone_equals(model, base)


def test_weights_inside_zoo_s_stateless_build_make_it_build_normally(mobilenet_weights: tuple[Path, Any]) -> None:
    from zoo_core.training.threads import StatelessBuild

    path, _ = mobilenet_weights
    build = StatelessBuild(lambda: factory("mobilenet-v1")((28, 28), 5, image_size=32, alpha=0.25, weights=str(path)))
    assert build.model is None  # zoo then builds normally, and the weights are loaded there


@pytest.mark.parametrize(("content", "params", "words"), [
    ("damaged", {"alpha": 0.25}, "it is not an HDF5 weights file, or it is damaged"),
    ("other", {"alpha": 0.5}, "does not fit keras.applications.MobileNet(alpha=0.5)"),
])
def test_a_damaged_file_or_one_of_another_architecture_is_refused(mobilenet_weights: tuple[Path, Any], tmp_path: Path,
                                                                 content: str, params: dict[str, Any],
                                                                 words: str) -> None:
    path, _ = mobilenet_weights
    if content == "damaged":
        path = tmp_path / "damaged.weights.h5"
        path.write_bytes(b"\x89HDF\r\n" + bytes(200))
    with pytest.raises(ConfigError) as caught:
        factory("mobilenet-v1")((28, 28), 5, image_size=32, weights=str(path), **params)
    assert words in caught.value.message and caught.value.hint


def test_imagenet_weights_come_from_keras_cache(mobilenet_weights: tuple[Path, Any], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras' ImageNet files are legacy .h5 files; zoo reads the one in KERAS_HOME/models, and never the network."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    _, base = mobilenet_weights
    (tmp_path / "models").mkdir()
    with h5py.File(tmp_path / "models" / "mobilenet_2_5_224_tf_no_top.h5", "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, base)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    model = factory("mobilenet-v1")((28, 28), 5, image_size=32, alpha=0.25, weights="imagenet")
    assert_backbone_equals(model, base)


def test_imagenet_weights_not_in_the_cache_stop_the_run_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     folder: Path) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    result = run_cli("train", "--runs-dir", str(tmp_path / "runs"), "--dataset", "image-folder", "--architecture",
                     "mobilenet-v3-small", "--set", f"dataset.path={json.dumps(str(folder))}",
                     "--set", "architecture.weights=\"imagenet\"")
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5" in message
    assert str(tmp_path / "keras" / "models") in message and "zoo never downloads" in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/" in message
    assert "Traceback" not in message
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# -- trained and exported ----------------------------------------------------------------------------------------


def colour_folder(root: Path, **options: Any) -> Path:
    """benchmarks/colour_folder.py's RGB image folder (colour and shape tell the classes apart)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from colour_folder import write_folder
    finally:
        sys.path.pop(0)
    return write_folder(root, **options)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small RGB image folder: 10 classes x 6 images of 32x32."""
    return colour_folder(tmp_path_factory.mktemp("colour") / "images", classes=10, per_class=6, size=32)


@pytest.mark.slow
def test_mobilenet_v3_small_trains_on_rgb_images_and_exports_with_every_check_passing(tmp_path: Path) -> None:
    """Two colours, trained until the model is sure of them: int8 verification compares answers, and a model that
    is not sure of any (one epoch on a few images) flips between near-equal classes after any rounding."""
    from zoo_core.runs import Run
    from zoo_core.training.macs import model_macs

    folder = colour_folder(tmp_path / "images", classes=2, per_class=24, size=32)
    runs = tmp_path / "runs"
    exporters = ('[{ component = "savedmodel", verify_samples = 10 }, { component = "tflite", verify_samples = 10 },'
                 ' { component = "tflite", quantize = "int8", calibration_samples = 38, verify_samples = 10 }]')
    result = run_cli("train", "--runs-dir", str(runs), "--dataset", "image-folder", "--architecture",
                     "mobilenet-v3-small", "--set", f"dataset.path={json.dumps(str(folder))}",
                     "--set", 'dataset.color="rgb"', "--set", "architecture.image_size=32", "--set", "epochs=5",
                     "--set", "batch_size=8", "--set", "validation_split=0.0", "--set", "optimizer.learning_rate=0.01",
                     "--set", f"exporters={exporters}")
    assert result.exit_code == 0, result.output
    [run_dir] = [path for path in runs.iterdir() if path.is_dir() and (path / "manifest.json").is_file()]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    exports = {(record["format"], record["variant"]): record for record in manifest["exports"]}
    assert set(exports) == {("savedmodel", "float32"), ("tflite", "float32"), ("tflite", "int8")}
    assert all(record["status"] == "ok" for record in exports.values()), exports
    model = keras.models.load_model(Run(run_dir).model_file(""), safe_mode=True)
    macs, uncounted = model_macs(model)
    assert uncounted == [] and 1_000_000 < macs < 10_000_000  # about 3 M at 32x32
    assert 900_000 < model.count_params() < 1_000_000


def test_a_sweep_may_choose_between_keras_applications(builtin_catalog: Any, tmp_path: Path) -> None:
    """Every choice resolves as a run of the base recipe, before any trial (as zoo sweep checks it)."""
    import textwrap

    from zoo_core.registry import load_registry
    from zoo_core.sweeps.definition import load_sweep

    (tmp_path / "registry.toml").write_text(textwrap.dedent("""
        [sweeps.which-application]
        run = "folder-mobilenet-v3-small"
        metric = "val_accuracy"
        trials = 4
        set = { epochs = 2, exporters = [] }

        [sweeps.which-application.space]
        architecture = ["mobilenet-v3-small", "efficientnet-b0"]
        "optimizer.learning_rate" = { low = 1e-4, high = 1e-2, log = true }
    """), encoding="utf-8")
    sweep = load_sweep(load_registry(builtin_catalog, cwd=tmp_path), "which-application")
    assert sweep.space["architecture"].values == ("mobilenet-v3-small", "efficientnet-b0")
