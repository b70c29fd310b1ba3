"""A corpus of malformed inputs, each with its exact expectation: exit code, message fragments, no traceback.

Every case is one row of ``CASES``: an id, the ``zoo`` arguments (``{c}`` is the corpus folder made
by the ``corpus`` fixture, ``{m}`` a small valid .tflite), the expected exit code, and fragments the
output must contain — what is wrong, and how to fix it. Cases run in-process (the CLI's own error
handling decides about tracebacks); those marked ``real`` also run the installed ``zoo`` script in a
subprocess, where a traceback would show on stderr.
"""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from zoo_core.cli import app

from conftest import subprocess_env

MNIST = Path(__file__).resolve().parents[1] / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz"
ZOO = str(Path(sys.executable).with_name("zoo"))
TINY = ["--set", "max_train_samples=300", "--set", "max_test_samples=100", "--set", "epochs=1",
        "--set", "exporters=[]", "--quiet"]

RUN = '''
[runs.x]
dataset = "mnist"
architecture = "mlp"
optimizer = "adam"
loss = "sparse-categorical-crossentropy"
'''
CONFIG = '''recipe = "mnist-mlp"
dataset = { component = "mnist", path = "" }
architecture = { component = "mlp", hidden = [8], dropout = 0.2, activation = "relu" }
optimizer = "adam"
loss = "sparse-categorical-crossentropy"
exporters = []
epochs = 1
max_train_samples = 300
max_test_samples = 100
'''
IDX = {"x_train": "train-images-idx3-ubyte.gz", "y_train": "train-labels-idx1-ubyte.gz",
       "x_test": "t10k-images-idx3-ubyte.gz", "y_test": "t10k-labels-idx1-ubyte.gz"}


# -- the corpus files ------------------------------------------------------------------------


def png(width: int, height: int) -> bytes:
    """A black grayscale PNG, written by hand."""
    raw = b"".join(b"\x00" + bytes(width) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def idx(array: np.ndarray) -> bytes:
    return gzip.compress(bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())


def write_idx_folder(folder: Path, arrays: dict[str, np.ndarray], skip: tuple[str, ...] = ()) -> None:
    folder.mkdir()
    for key, name in IDX.items():
        if key not in skip:
            (folder / name).write_bytes(idx(arrays[key]))


def fake_run(root: Path, name: str, status: str, config: str = CONFIG, model: bool = False) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(config)
    (folder / "manifest.json").write_text(json.dumps({"run_id": name, "recipe": "mnist-mlp", "status": status,
                                                      "started": "2026-01-01T00:00:00+00:00", "pid": 1}))
    if model:
        (folder / "model.keras").write_bytes(b"")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    c = tmp_path_factory.mktemp("corpus")
    text = {
        # registry.toml
        "reg_header.toml": "[runs.x\ndataset = \"mnist\"\n",
        "reg_unquoted.toml": "[runs.x]\ndataset = mnist\n",
        "reg_duplicate.toml": RUN + "epochs = 1\nepochs = 2\n",
        "reg_section.toml": "[widgets.a]\ncomponent = \"mlp\"\n",
        "reg_top_key.toml": "epochs = 3\n",
        "reg_run_key.toml": RUN + "epoch = 3\n",
        "reg_type.toml": RUN + "epochs = \"ten\"\n",
        "reg_param_type.toml": "[architectures.wide]\ncomponent = \"mlp\"\nhidden = 128\n",
        "reg_split.toml": RUN + "validation_split = 1.5\n",
        "reg_batch.toml": RUN + "batch_size = 0\n",
        "reg_name.toml": RUN.replace('"mlp"', '"mpl"'),
        "reg_param.toml": "[architectures.wide]\ncomponent = \"mlp\"\nhiden = [512]\n",
        "reg_loop.toml": "[architectures.a]\ncomponent = \"b\"\n[architectures.b]\ncomponent = \"a\"\n",
        "reg_dangling.toml": "[architectures.a]\ncomponent = \"nothing\"\n",
        "reg_no_component.toml": "[architectures.a]\nhidden = [1]\n",
        "reg_colon.toml": "[architectures.\"a:b\"]\ncomponent = \"mlp\"\n",
        "reg_run_missing.toml": "[runs.x]\narchitecture = \"mlp\"\n",
        "reg_exporters.toml": RUN + "exporters = \"tflite\"\n",
        "reg_shadow.toml": "[architectures.mlp]\ncomponent = \"mlp\"\n",
        "reg_runs_scalar.toml": "runs = 3\n",
        "reg_inline.toml": RUN.replace('"adam"', "{ learning_rate = 0.1 }"),
        # config.toml for zoo run --config
        "cfg_malformed.toml": "epochs = [\n",
        "cfg_partial.toml": "epochs = 3\n",
        "cfg_unknown.toml": CONFIG + "bogus = 1\n",
        "cfg_type.toml": CONFIG.replace("epochs = 1", "epochs = \"x\""),
        "cfg_recipe.toml": CONFIG.replace('recipe = "mnist-mlp"', "recipe = 3"),
        "cfg_exporter.toml": CONFIG.replace("exporters = []", 'exporters = ["tflite-int4"]'),
        # inputs for zoo predict
        "not_image.png": "hello, I am text\n",
        "notes.txt": "not an image either\n",
    }
    for name, content in text.items():
        (c / name).write_text(content)
    binary = {
        "reg_binary.toml": b"\xff\xfe\x00 not text",
        "cfg_binary.toml": b"\x89PNG\r\n\x1a\n\x00\x00",
        "empty.npz": b"",
        "not_zip.npz": b"this is not a zip archive",
        "digit.png": png(28, 28),
        "wide.png": png(200, 20),
        "truncated.png": png(28, 28)[:48],  # cut inside the pixel data
        "empty.tflite": b"",
        "garbage.tflite": b"garbage garbage garbage garbage",
        "bad_version.tflite": b"\x1c\x00\x00\x00TFL3" + bytes(56),
    }
    for name, content in binary.items():
        (c / name).write_bytes(content)

    raw = MNIST.read_bytes()
    (c / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    damaged = bytearray(raw)
    damaged[len(raw) // 2: len(raw) // 2 + 4096] = bytes(4096)
    (c / "corrupt.npz").write_bytes(bytes(damaged))
    with np.load(MNIST) as data:
        real = {key: data[key][:200] for key in IDX}
    np.savez(c / "wrong_arrays.npz", images=real["x_train"], labels=real["y_train"])
    np.savez(c / "wrong_shape.npz", **{**real, "x_train": real["x_train"][:, :, :27]})
    np.savez(c / "float_images.npz", **{**real, "x_train": real["x_train"].astype(np.float32) / 255})
    np.savez(c / "bad_labels.npz", **{**real, "y_train": real["y_train"] + 10})
    np.savez(c / "count_mismatch.npz", **{**real, "y_test": real["y_test"][:50]})
    np.savez(c / "empty_split.npz", **{**real, "x_test": real["x_test"][:0], "y_test": real["y_test"][:0]})
    np.savez(c / "pickled.npz", allow_pickle=True, **{**real, "x_train": np.array([object()] * 3, dtype=object)})
    write_idx_folder(c / "idx_missing", real, skip=("y_train",))
    write_idx_folder(c / "idx_mismatch", {**real, "y_train": real["y_train"][:150]})
    write_idx_folder(c / "idx_gzip", real)
    (c / "idx_gzip" / IDX["x_test"]).write_bytes(b"not gzip at all")
    write_idx_folder(c / "idx_truncated", real)
    whole = idx(real["x_train"])
    (c / "idx_truncated" / IDX["x_train"]).write_bytes(whole[: len(whole) // 2])
    write_idx_folder(c / "idx_header", real)
    (c / "idx_header" / IDX["y_test"]).write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + struct.pack(">I", 200)
                                                                 + bytes(800)))
    write_idx_folder(c / "idx_short", real)
    (c / "idx_short" / IDX["x_test"]).write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 200, 28, 28)
                                                                + bytes(1000)))
    (c / "empty_folder").mkdir()
    np.save(c / "wrong_shape.npy", np.zeros((3, 5), np.float32))
    np.save(c / "out_of_range.npy", np.full((28, 28), 1000.0, np.float32))
    np.save(c / "pickled.npy", np.array([object()]), allow_pickle=True)
    (c / "text.npy").write_text("not numpy")

    (c / "sm_empty").mkdir()
    (c / "sm_no_variables").mkdir()
    (c / "sm_no_variables" / "saved_model.pb").write_bytes(b"\x08\x01")
    (c / "sm_no_data" / "variables").mkdir(parents=True)
    (c / "sm_no_data" / "saved_model.pb").write_bytes(b"\x08\x01")
    (c / "sm_no_data" / "variables" / "variables.index").write_bytes(b"")
    (c / "sm_versions" / "notaversion").mkdir(parents=True)
    (c / "cfg_dir").mkdir()
    (c / "file").write_text("a file, not a folder")

    runs = c / "runs"
    fake_run(runs, "stopped", "interrupted")
    fake_run(runs, "finished", "completed", model=True)
    fake_run(runs, "broken-config", "interrupted", config="recipe = \"x\"\nepochs = [\n")
    fake_run(runs, "no-checkpoint-model", "interrupted")
    (runs / "no-checkpoint-model" / "checkpoint").mkdir()
    (runs / "no-checkpoint-model" / "checkpoint" / "state.json").write_text(
        '{"epochs_done": 1, "history": [{"epoch": 1}], "model": "model-0001.keras"}')
    return c


@pytest.fixture(scope="module")
def tflite_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small valid .tflite with zoo's metadata (an untrained MLP; only its contract matters here)."""
    import keras

    from zoo_core.data import Dataset, DatasetInfo
    from zoo_core.export import ExportContext
    from zoo_plugins.exporters.tflite import tflite

    with np.load(MNIST) as data:
        x, y = data["x_test"][:100].astype(np.float32) / 255, data["y_test"][:100].astype(np.int64)
    info = DatasetInfo(name="mnist", input_shape=(28, 28), num_classes=10, class_names=[str(i) for i in range(10)],
                       raw_value_range=(0.0, 255.0), scale=1 / 255, image=True, channels=1)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    folder = tmp_path_factory.mktemp("tflite")
    result = tflite(ExportContext(model, Dataset(x, y, x, y, info), folder, "tiny"), verify_samples=20)
    return Path(result.path)


# -- the cases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    exit: int
    says: tuple[str, ...]
    real: bool = False  # also run the installed script in a subprocess
    needs: tuple[str, ...] = field(default=())


def case(id: str, args: str | list[str], exit: int, *says: str, real: bool = False) -> Case:
    parts = tuple(args.split()) if isinstance(args, str) else tuple(args)
    return Case(id, parts, exit, says, real, ("tflite_model",) if any("{m}" in p for p in parts) else ())


def data_case(id: str, path: str, *says: str, real: bool = False) -> Case:
    return case(id, ["run", "mnist-mlp", "--runs-dir", "{c}/runs-data", "--set", f'dataset.path="{{c}}/{path}"', *TINY],
                2, *says, real=real)


def registry_case(id: str, file: str, *says: str, real: bool = False) -> Case:
    return case(id, f"--registry {{c}}/{file} list runs", 2, *says, real=real)


HINT = "hint:"
CASES = [
    # registry.toml: syntax, schema, types, ranges, names, presets
    registry_case("registry-unclosed-header", "reg_header.toml", "reg_header.toml:1:", "TOML syntax error",
                  "toml.io", real=True),
    registry_case("registry-unquoted-string", "reg_unquoted.toml", "reg_unquoted.toml:2:", "TOML syntax error",
                  "strings need double quotes"),
    registry_case("registry-duplicate-key", "reg_duplicate.toml", "reg_duplicate.toml:8:", "TOML syntax error"),
    registry_case("registry-unknown-section", "reg_section.toml", "reg_section.toml:1", "unknown section 'widgets'",
                  "valid sections: architectures"),
    registry_case("registry-top-level-setting", "reg_top_key.toml", "unknown top-level key 'epochs'",
                  "put it under a [runs.NAME] table"),
    registry_case("registry-unknown-run-key", "reg_run_key.toml", "reg_run_key.toml:7", "unknown key 'epoch'",
                  "did you mean 'epochs'"),
    registry_case("registry-setting-wrong-type", "reg_type.toml", "reg_type.toml:7",
                  "setting 'epochs' must be an integer, got string 'ten'"),
    registry_case("registry-parameter-wrong-type", "reg_param_type.toml", "reg_param_type.toml:3",
                  "parameter 'hidden' must be list[int in [1, 8192]], got integer 128"),
    registry_case("registry-split-out-of-range", "reg_split.toml", "setting 'validation_split' must be in [0, 1), got 1.5",
                  "e.g. validation_split = 0.1"),  # the file's key: --set cannot fix a refused registry file
    registry_case("registry-batch-size-zero", "reg_batch.toml", "setting 'batch_size' must be at least 1, got 0",
                  "e.g. batch_size = 32"),
    # an unknown name makes only its entry unavailable: using it is the error
    case("registry-unknown-component", "--registry {c}/reg_name.toml run x", 2, "reg_name.toml:4 [runs.x]",
         "unknown architecture 'mpl'", "did you mean 'mlp'"),
    registry_case("registry-unknown-parameter", "reg_param.toml", "has no parameter 'hiden'", "did you mean 'hidden'"),
    registry_case("registry-circular-presets", "reg_loop.toml", "presets refer to each other in a loop: a -> b -> a",
                  "make one of them name an architecture component"),
    case("registry-dangling-preset", "--registry {c}/reg_dangling.toml show a", 2, "reg_dangling.toml:2",
         "unknown architecture 'nothing'", "available architectures"),
    registry_case("registry-preset-without-component", "reg_no_component.toml", "a preset needs component =",
                  "available architectures"),
    registry_case("registry-name-with-colon", "reg_colon.toml", "names cannot contain ':'", "use '-' instead"),
    registry_case("registry-run-without-dataset", "reg_run_missing.toml", "a run needs 'dataset'",
                  'add e.g. dataset = "mnist"'),
    registry_case("registry-exporters-not-array", "reg_exporters.toml", "'exporters' must be an array of names",
                  'exporters = ["savedmodel", "tflite"]'),
    registry_case("registry-not-utf8", "reg_binary.toml", "reg_binary.toml", "cannot read"),
    registry_case("registry-preset-shadows-component", "reg_shadow.toml", "preset 'mlp' has the name of an architecture",
                  "give the preset another name"),
    registry_case("registry-runs-not-tables", "reg_runs_scalar.toml", "'runs' must hold tables", "[runs.NAME]"),
    registry_case("registry-inline-without-component", "reg_inline.toml", "inline optimizer table needs a 'component' key",
                  'component = "adam"'),
    case("registry-file-missing", "--registry {c}/nowhere.toml list", 2, "registry file '{c}/nowhere.toml' does not exist",
         "give --registry the path of a .toml file"),
    # --set expressions
    case("set-without-equals", "run mnist-mlp --set epochs", 2, "--set 'epochs': expected key=value",
         "e.g. --set epochs=3", real=True),
    case("set-without-key", "run mnist-mlp --set =3", 2, "expected key=value"),
    case("set-empty-value", "run mnist-mlp --set epochs=", 2, "no value after '='", "--set epochs=1"),
    case("set-unclosed-array", ["run", "mnist-mlp", "--set", "architecture.hidden=[1, 2"], 2,
         "'[1, 2' is not a TOML value", "architecture.hidden=[256, 128]"),
    case("set-code-is-not-evaluated", ["run", "mnist-mlp", "--set", "dataset.path=__import__('os').getcwd()"], 2,
         "is not a TOML value", "a quoted string"),
    case("set-unknown-setting", "run mnist-mlp --set epoch=3", 2, "unknown key 'epoch'", "did you mean 'epochs'"),
    case("set-unknown-kind", "run mnist-mlp --set optimiser.learning_rate=0.1", 2,
         "unknown key 'optimiser.learning_rate'", "did you mean 'optimizer'"),
    case("set-unknown-parameter", "run mnist-mlp --set optimizer.learning_rat=0.1", 2,
         "optimizer 'adam' has no parameter 'learning_rat'", "did you mean 'learning_rate'"),
    case("set-wrong-type", "run mnist-mlp --set epochs=3.5", 2, "setting 'epochs' must be an integer, got number 3.5"),
    case("set-bool-wrong-type", "run mnist-mlp --set shuffle=maybe", 2, "setting 'shuffle' must be true or false"),
    case("set-out-of-range", "run mnist-mlp --set validation_split=1.0", 2, "must be in [0, 1), got 1.0",
         "--set validation_split=0.1"),
    case("set-negative-seed", "run mnist-mlp --set seed=-1", 2, "setting 'seed' must be in [0, 2**32)", "--set seed=42"),
    case("set-huge-batch", "run mnist-mlp --set batch_size=99999999999999999999", 2,
         "setting 'batch_size' is 99999999999999999999, more than the largest allowed", "--set batch_size=32"),
    case("set-unknown-name", "run mnist-mlp --set optimizer=adma", 2, "unknown optimizer 'adma'", "did you mean 'adam'"),
    case("set-exporter-not-named", "run mnist-mlp --set exporters.quantize=int8", 2, "say which exporter",
         "exporters.tflite.quantize=int8"),
    case("set-exporter-not-in-run", "run mnist-mlp --set exporters.tflit.quantize=int8", 2,
         "this run has no exporter 'tflit'", "its exporters: savedmodel, tflite, tflite-int8"),
    case("set-choice-not-allowed", "run mnist-mlp --set progress=fast", 2, "setting 'progress' must be one of"),
    case("set-dropout-out-of-range", ["run", "mnist-mlp", "--runs-dir", "{c}/runs-arch", "--set",
                                      "architecture.dropout=1.5", *TINY], 2, "dropout' must be in [0, 1), got 1.5",
         "--set architecture.dropout=0.2"),
    # names, commands
    case("unknown-recipe", "run mnist-mpl", 2, "unknown run 'mnist-mpl'", "did you mean 'mnist-mlp'", real=True),
    case("no-recipe", "run", 2, "say which run", "zoo list runs"),
    case("recipe-and-config", "run mnist-mlp --config {c}/cfg_partial.toml", 2, "not both", "zoo run --config"),
    case("unknown-optimizer-ad-hoc", "train --dataset mnist --architecture mlp --optimizer adamm", 2,
         "unknown optimizer 'adamm'", "did you mean 'adam'"),
    case("kind-mismatch-ad-hoc", "train --dataset mlp --architecture mlp", 2, "unknown dataset 'mlp'",
         "it is an architecture"),
    # config.toml for zoo run --config
    case("config-malformed", "run --config {c}/cfg_malformed.toml", 2, "cfg_malformed.toml: TOML syntax error",
         "fix the line shown", real=True),
    case("config-missing", "run --config {c}/nothere.toml", 2, "config file '{c}/nothere.toml' does not exist",
         "config.toml of a run directory"),
    case("config-folder-without-config", "run --config {c}/cfg_dir", 2, "is a folder, not a config.toml",
         "config.toml of a run directory"),
    case("config-not-text", "run --config {c}/cfg_binary.toml", 2, "is not UTF-8 text"),
    case("config-incomplete", "run --config {c}/cfg_partial.toml", 2, "a run needs 'dataset'", 'dataset = "mnist"'),
    case("config-unknown-key", "run --config {c}/cfg_unknown.toml", 2, "unknown key 'bogus'", "valid keys"),
    case("config-wrong-type", "run --config {c}/cfg_type.toml", 2, "setting 'epochs' must be an integer, got string 'x'"),
    case("config-recipe-not-string", "run --config {c}/cfg_recipe.toml", 2, "'recipe' must be a string",
         'recipe = "mnist-mlp"'),
    case("config-unknown-exporter", "run --config {c}/cfg_exporter.toml", 2, "unknown exporter 'tflite-int4'",
         "did you mean"),
    # run references
    case("run-ref-escapes-root", "evaluate ../../etc --runs-dir {c}/runs", 2, "no run '../../etc'", "zoo runs",
         real=True),
    case("run-ref-absolute-system-path", "evaluate /etc --runs-dir {c}/runs", 2, "no run '/etc'",
         "is not a zoo run directory"),
    case("run-ref-dot-dot", "resume .. --runs-dir {c}/runs", 2, "no run '..'", "recent runs"),
    case("run-ref-missing-path", "export runs/../../nowhere --format tflite --runs-dir {c}/runs", 2,
         "the path does not exist", "zoo runs"),
    case("run-ref-unknown-id", "evaluate no-such-run --runs-dir {c}/runs", 2, "no run 'no-such-run'",
         "recent runs in '{c}/runs'"),
    case("evaluate-unfinished-run", "evaluate stopped --runs-dir {c}/runs", 1, "run 'stopped' has no model.keras",
         "only completed runs can be evaluated"),
    case("resume-completed-run", "resume finished --runs-dir {c}/runs", 2, "already completed; nothing to resume",
         "zoo run --config"),
    case("resume-broken-config", "resume broken-config --runs-dir {c}/runs", 1, "TOML syntax error",
         "start a new run"),
    case("resume-checkpoint-model-missing", "resume no-checkpoint-model --runs-dir {c}/runs", 1,
         "its checkpoint is damaged", "names the model file 'model-0001.keras', which is missing", "zoo run --config"),
    case("resume-with-set", "run --resume stopped --set optimizer=sgd --runs-dir {c}/runs", 2,
         "'optimizer' cannot change when run 'stopped' is resumed", "--set can change: strategy, progress"),
    case("resume-set-batch-size", "resume stopped --set batch_size=32 --runs-dir {c}/runs", 2,
         "'batch_size' cannot change when run 'stopped' is resumed", "zoo run --config"),
    case("export-unknown-format", "export finished --format tflite-int4 --runs-dir {c}/runs", 2,
         "unknown exporter 'tflite-int4'", "did you mean"),
    case("export-bad-parameter", "export finished --format tflite --set quantize=int4 --runs-dir {c}/runs", 2,
         "parameter 'quantize' must be one of"),
    case("export-unfinished-run", "export stopped --format tflite --runs-dir {c}/runs", 1,
         "run 'stopped' has no model.keras", "train it to completion first"),
    case("export-out-under-a-file", "export finished --format tflite --out {c}/file/sub --runs-dir {c}/runs", 2,
         "--out '{c}/file/sub' is under '{c}/file', which is not a folder", "give a folder for the exports"),
    case("export-corrupt-model", "export finished --format tflite --runs-dir {c}/runs", 2,
         "Keras model '{c}/runs/finished/model.keras' cannot be loaded", "train the run again"),
    case("evaluate-corrupt-model", "evaluate finished --runs-dir {c}/runs", 2,
         "Keras model '{c}/runs/finished/model.keras' cannot be loaded", "the file is damaged"),
    case("runs-root-under-a-file", ["run", "mnist-mlp", "--runs-dir", "{c}/file/sub", *TINY], 1,
         "cannot write to the runs root '{c}/file/sub'", "Not a directory", "--runs-dir"),
    # dataset files (mnist dataset.path)
    data_case("data-missing-file", "nowhere.npz", "MNIST file '{c}/nowhere.npz' does not exist",
              "Keras-layout mnist.npz or a folder of IDX .gz files", real=True),
    data_case("data-empty-file", "empty.npz", "is truncated or corrupt", "remove dataset.path"),
    data_case("data-truncated-npz", "truncated.npz", "is truncated or corrupt", "download it again"),
    data_case("data-not-a-zip", "not_zip.npz", "is truncated or corrupt", "download it again"),
    data_case("data-corrupt-npz", "corrupt.npz", "is truncated or corrupt", "Bad CRC-32"),
    data_case("data-wrong-arrays", "wrong_arrays.npz", "has no array 'x_train' (it has images, labels)",
              "x_train, y_train, x_test, y_test"),
    data_case("data-wrong-shape", "wrong_shape.npz", "images have shape (200, 28, 27), expected (n, 28, 28)", HINT),
    data_case("data-float-images", "float_images.npz", "images must be 0..255 integers, got dtype float32", HINT),
    data_case("data-labels-out-of-range", "bad_labels.npz", "labels must be integers 0..9", HINT),
    data_case("data-count-mismatch", "count_mismatch.npz", "(test split): 50 labels for 200 images", HINT),
    data_case("data-empty-split", "empty_split.npz", "(test split): no examples", HINT),
    data_case("data-pickled-arrays", "pickled.npz", "is truncated or corrupt", "allow_pickle=False"),
    data_case("data-folder-empty", "empty_folder", "has no file train-images-idx3-ubyte.gz", "it needs"),
    data_case("data-idx-file-missing", "idx_missing", "has no file train-labels-idx1-ubyte.gz", "it needs"),
    data_case("data-idx-not-gzip", "idx_gzip", "t10k-images-idx3-ubyte.gz' is not a readable gzip file", HINT),
    data_case("data-idx-truncated-gzip", "idx_truncated", "train-images-idx3-ubyte.gz' is not a readable gzip file",
              HINT),
    data_case("data-idx-bad-header", "idx_header", "is not an IDX file of unsigned bytes", HINT),
    data_case("data-idx-short-data", "idx_short", "holds 1000 bytes of data, expected 156800",
              "download it again"),
    data_case("data-idx-count-mismatch", "idx_mismatch", "150 labels for 200 images", HINT),
    # zoo predict: models
    case("predict-model-missing", "predict {c}/nothing.tflite {c}/digit.png", 2, "model '{c}/nothing.tflite' does not exist",
         "pass a .tflite file", real=True),
    case("predict-empty-tflite", "predict {c}/empty.tflite {c}/digit.png", 2, "is not a valid TFLite model",
         "export the model again"),
    case("predict-garbage-tflite", "predict {c}/garbage.tflite {c}/digit.png", 2, "is not a valid TFLite model",
         "truncated or corrupt"),
    case("predict-corrupt-tflite", "predict {c}/bad_version.tflite {c}/digit.png", 2, "is not a valid TFLite model",
         "export the model again", real=True),
    case("predict-savedmodel-empty-folder", "predict {c}/sm_empty {c}/digit.png", 2, "is not a SavedModel",
         "no saved_model.pb", "exports/mnist-mlp/1"),
    case("predict-savedmodel-no-variables", "predict {c}/sm_no_variables {c}/digit.png", 2, "is incomplete",
         "variables", "copy the whole version folder"),
    case("predict-savedmodel-no-variable-data", "predict {c}/sm_no_data {c}/digit.png", 2, "is incomplete",
         "export the model again"),
    case("predict-savedmodel-no-versions", "predict {c}/sm_versions {c}/digit.png", 2, "is not a SavedModel"),
    case("predict-model-is-an-image", "predict {c}/digit.png {c}/digit.png", 2,
         "is not a .tflite, .onnx or .keras file, or a SavedModel folder", "a SavedModel version folder"),
    case("predict-run-without-model", "predict stopped {c}/digit.png --runs-dir {c}/runs", 1,
         "run 'stopped' has no model.keras", "only a completed run has a model"),
    # zoo predict: inputs
    case("predict-text-as-png", "predict {m} {c}/not_image.png", 2, "is not an image (PNG, JPEG...) or a .npy array",
         "28x28 pixels", real=True),
    case("predict-text-file", "predict {m} {c}/notes.txt", 2, "is not an image", "28x28 pixels"),
    case("predict-truncated-png", "predict {m} {c}/truncated.png", 2, "is not an image", "28x28 pixels"),
    case("predict-wrong-size-image", "predict {m} {c}/wide.png", 2, "is 200x20 pixels; the model expects 28x28",
         "crop the image"),
    case("predict-npy-wrong-shape", "predict {m} {c}/wrong_shape.npy", 2, "has shape (3, 5); the model expects (28, 28)",
         "reshape the array to (28, 28)"),
    case("predict-npy-out-of-range", "predict {m} {c}/out_of_range.npy", 2, "outside both the model's range",
         "give raw values"),
    case("predict-npy-pickled", "predict {m} {c}/pickled.npy", 2, "is not a readable .npy array", "numpy.save"),
    case("predict-npy-not-numpy", "predict {m} {c}/text.npy", 2, "is not a readable .npy array"),
    case("predict-input-missing", "predict {m} {c}/nowhere.png", 2, "input '{c}/nowhere.png' does not exist",
         "PNG/JPEG images or .npy arrays"),
]


#: Cases that load TensorFlow (a model is built, loaded or converted): marked slow.
TENSORFLOW = {"set-dropout-out-of-range", "export-corrupt-model", "evaluate-corrupt-model"}


def params(cases: list[Case]) -> list[object]:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.needs or c.id in TENSORFLOW else [])
            for c in cases]


def fill(parts: tuple[str, ...], corpus: Path, model: Path | None) -> list[str]:
    return [p.replace("{c}", str(corpus)).replace("{m}", str(model)) for p in parts]


@pytest.mark.parametrize("case", params([c for c in CASES if c.exit != 0]))
def test_bad_input_gets_a_clear_error(case: Case, corpus: Path, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue("tflite_model") if case.needs else None
    args = fill(case.args, corpus, model)
    result = CliRunner().invoke(app, args)
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {type(result.exception).__name__}: {result.exception}\n{output}")
    assert result.exit_code == case.exit, output
    assert "Traceback" not in output and "internal error" not in output, output
    assert output.lstrip().startswith("error:"), output
    flat = " ".join(output.split())  # rich may wrap long lines
    for fragment in fill(case.says, corpus, model):
        assert " ".join(fragment.split()) in flat, f"{fragment!r} not in:\n{output}"


@pytest.mark.parametrize("case", params([c for c in CASES if c.real]))
def test_bad_input_in_a_real_process(case: Case, corpus: Path, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue("tflite_model") if case.needs else None
    process = subprocess.run([ZOO, *fill(case.args, corpus, model)], capture_output=True, text=True, timeout=120,
                             env=subprocess_env(), cwd=corpus)
    assert process.returncode == case.exit, process.stderr
    assert "Traceback" not in process.stderr + process.stdout
    flat = " ".join(process.stderr.split())
    for fragment in fill(case.says, corpus, model):
        assert " ".join(fragment.split()) in flat, f"{fragment!r} not in:\n{process.stderr}"


#: Words every bad-input surface is reached by: each command that reads user input, and each kind of input.
SURFACES = ("run", "train", "resume", "evaluate", "export", "predict", "show", "list", "--registry", "--set",
            "--config", "dataset.path", "--runs-dir", "--format", "--out")


def corpus_names(case: Case) -> set[str]:
    """The corpus entries (top-level names under ``{c}/``) a case's arguments name."""
    return {part.split("{c}/", 1)[1].split("/")[0].strip('"') for part in case.args if "{c}/" in part}


def test_the_corpus_covers_every_surface_and_uses_every_file(corpus: Path) -> None:
    bad = [c for c in CASES if c.exit != 0]
    assert len(bad) >= 40
    assert len({c.id for c in CASES}) == len(CASES) and len({c.args for c in CASES}) == len(CASES)
    assert all(c.says for c in bad), [c.id for c in bad if not c.says]  # each names what it expects to read
    for word in SURFACES:
        assert any(word in part for c in bad for part in c.args), f"no bad-input case reaches {word}"
    named = set().union(*(corpus_names(c) for c in CASES))
    made = {path.name for path in corpus.iterdir()}
    assert sorted(made - named) == []  # every malformed file is given to zoo by some case
    for case in CASES:  # a name not in the corpus is either a runs root a case makes or meant to be missing
        for name in corpus_names(case) - made:
            assert name.startswith("runs-") or any("does not exist" in says for says in case.says), (case.id, name)


#: The cases that reach a runs root before they are rejected (a bad dataset file, a bad architecture parameter).
ROOTED = [c for c in CASES if any("{c}/runs-" in part for part in c.args)]


@pytest.mark.slow
def test_no_run_directory_is_left_by_a_rejected_run(corpus: Path, tmp_path: Path) -> None:
    """Each rejected run leaves its runs root without a run directory, while the same command with valid
    input makes one there (so the check can fail)."""
    assert len(ROOTED) >= 15
    for case in ROOTED:
        root = tmp_path / case.id
        args = [part.replace("{c}/runs-data", str(root)).replace("{c}/runs-arch", str(root)) for part in case.args]
        result = CliRunner().invoke(app, fill(tuple(args), corpus, None))
        assert result.exit_code == case.exit, (case.id, result.output)
        assert not root.exists() or sorted(p.name for p in root.iterdir()) == [], case.id  # hidden names too
    root = tmp_path / "valid"
    result = CliRunner().invoke(app, ["run", "mnist-mlp", "--runs-dir", str(root), "--set",
                                      f'dataset.path="{MNIST}"', *TINY])
    assert result.exit_code == 0, result.output
    assert [(p.is_dir(), p.name.startswith("mnist-mlp-")) for p in root.iterdir()] == [(True, True)]


# -- property-based: arbitrary malformed input never gets past the error handling -----------------
# (--set parsing and the config.toml round trip have their properties in test_overrides.py)

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from zoo_core.errors import ZooError  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WORDS = st.sampled_from(["mnist", "mlp", "mlp-128-64-10", "adam", "sgd", "tflite", "tflite-int8", "savedmodel",
                         "sparse-categorical-crossentropy", "a", "b", "x", "mnist:mnist", ""]) | st.text(max_size=8)
KEYS = st.sampled_from(["component", "summary", "hidden", "dropout", "activation", "learning_rate", "momentum",
                        "dataset", "architecture", "optimizer", "loss", "exporters", "epochs", "batch_size",
                        "validation_split", "seed", "shuffle", "quantize", "path", "recipe", "bogus"])
SCALARS = (st.integers(-10, 10**6) | st.floats(allow_nan=False, allow_infinity=False, width=32) | st.booleans()
           | WORDS)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(KEYS, inner, max_size=3), max_leaves=6)
ENTRIES = st.dictionaries(KEYS, VALUES, max_size=5)
SECTIONS = st.dictionaries(
    st.sampled_from(["datasets", "architectures", "optimizers", "losses", "exporters", "runs", "widgets"]),
    st.dictionaries(st.sampled_from(["a", "b", "x", "mlp", "mnist", "adam", "my-run"]), ENTRIES, max_size=3),
    max_size=3)


@FUZZ
@given(tables=SECTIONS)
def test_any_registry_file_loads_or_is_a_config_error(tables: dict, builtin_catalog: object,
                                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    import tomli_w

    from zoo_core.registry import load_registry

    folder = tmp_path_factory.mktemp("fuzz-registry")
    path = folder / "registry.toml"
    path.write_text(tomli_w.dumps(tables))
    try:
        registry = load_registry(builtin_catalog, extra=path, cwd=folder)
    except ZooError:
        return
    for name in registry.recipes:  # a registry that loads resolves every recipe it names
        registry.resolve_recipe(name)


@FUZZ
@given(text=st.text(max_size=200))
def test_any_registry_text_loads_or_is_a_config_error(text: str, builtin_catalog: object,
                                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    from zoo_core.registry import load_registry

    folder = tmp_path_factory.mktemp("fuzz-text")
    (folder / "registry.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_registry(builtin_catalog, cwd=folder)
    except ZooError:
        pass


@FUZZ
@given(reference=st.text(max_size=40) | st.sampled_from(["..", ".", "/", "../..", "a/../..", "~", "runs/../..", "x/y"]))
def test_no_run_reference_escapes_the_runs_root(reference: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    from zoo_core.runs import RunNotFound, find_run, is_run_dir

    root = tmp_path_factory.mktemp("fuzz-root")
    (root / "real-run").mkdir()
    (root / "real-run" / "manifest.json").write_text('{"status": "completed", "recipe": "r"}')
    try:
        run = find_run(reference, root)
    except RunNotFound as error:
        assert error.exit_code == 2
        return
    inside = run.dir.resolve().is_relative_to(root.resolve())
    assert inside or is_run_dir(run.dir)  # a path is accepted only when it is itself a run directory
    assert run.dir.resolve() == (root / "real-run").resolve() or is_run_dir(run.dir)


MANIFEST_VALUES = st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.lists(st.integers(), max_size=2) \
    | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)


@FUZZ
@given(manifests=st.lists(st.dictionaries(st.sampled_from(["status", "recipe", "started", "metrics", "epochs_done",
                                                          "settings", "pid", "host", "error", "run_id"]),
                                          MANIFEST_VALUES, max_size=8) | st.text(max_size=30), max_size=3))
def test_zoo_runs_lists_any_manifests_without_crashing(manifests: list, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("fuzz-runs")
    for index, data in enumerate(manifests):
        (root / f"run-{index}").mkdir()
        (root / f"run-{index}" / "manifest.json").write_text(data if isinstance(data, str) else json.dumps(data))
    for args in (["runs", "--runs-dir", str(root)], ["runs", "--runs-dir", str(root), "--json"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (result.output, result.exception)
        assert "Traceback" not in result.output


@FUZZ
@given(state=st.dictionaries(st.sampled_from(["epochs_done", "history", "model", "weights", "rng", "format"]),
                             MANIFEST_VALUES, max_size=6) | st.text(max_size=40))
def test_a_checkpoint_state_is_read_or_refused_with_a_reason(state: object,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    from zoo_core.runs.checkpoint import read_checkpoint

    folder = tmp_path_factory.mktemp("fuzz-state")
    (folder / "state.json").write_text(state if isinstance(state, str) else json.dumps(state))
    try:
        read_checkpoint(folder)
    except ValueError as error:
        assert "state.json" in str(error)


@FUZZ
@given(rows=st.lists(st.fixed_dictionaries({"epoch": st.integers(1, 10**6)}, optional={
    key: st.floats(allow_nan=False, allow_infinity=True) for key in ("loss", "accuracy", "val_loss", "seconds")}),
    max_size=6))
def test_history_csv_round_trips(rows: list, tmp_path_factory: pytest.TempPathFactory) -> None:
    from zoo_core.runs.history import history_csv, read_history

    path = tmp_path_factory.mktemp("fuzz-history") / "history.csv"
    path.write_text(history_csv(rows))
    assert read_history(path) == rows
