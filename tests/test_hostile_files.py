"""Hostile and broken files against ``zoo predict`` and what zoo prints (issue 17, items 1, 4, 8, 9, 14).

NaN and overflowing inputs, .npy headers and images that claim more than
they hold, metadata that does not fit its model, terminal escapes in names
from files, one-line warnings, a closed pipe and the main options after the
command name. The models are tiny and untrained: nothing here trains.
"""

from __future__ import annotations

import json
import logging
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from conftest import run_cli, subprocess_env, zoo_executable
from zoo_core._util.text import printable
from zoo_core.cli import global_options_first
from zoo_core.cli.app import out
from zoo_core.data import DatasetInfo
from zoo_core.errors import ConfigError, DataError
from zoo_core.predict import check_model, load_input
from zoo_core.reporting import plots
from zoo_core.reporting.report import render_report

IMAGE = DatasetInfo("mnist", (28, 28), 10, [str(i) for i in range(10)]).to_dict()
VECTOR = DatasetInfo("table", (3,), 2, ["no", "yes"], image=False, value_range=(-10.0, 10.0)).to_dict()
NORMALISED = DatasetInfo("table", (3,), 2, ["no", "yes"], image=False, value_range=(-10.0, 10.0),
                         feature_mean=[0.0, 0.0, 0.0], feature_std=[1e-30, 1.0, 1.0]).to_dict()
#: What a terminal acts on: ESC (a colour), BEL, CR, a C1 CSI (clear screen), a right-to-left override.
EVIL = "ev\x1b[31mil\x07\r\x9b2J\u202e"
RAW = ("\x1b", "\x07", "\r", "\x9b", "\u202e")


def refusal(path: Path, contract: dict[str, Any]) -> DataError:
    with pytest.raises(DataError) as caught:
        load_input(path, contract)
    return caught.value


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (and holds none)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def no_raw_controls(text: str) -> bool:
    return not any(character in text for character in RAW)


# -- item 1: NaN and infinity, in every shape, are refused with where they are ---------------------


@pytest.mark.parametrize("array, where", [
    (np.full((28, 28), np.nan, np.float32), "index (0, 0)), 784 in all"),  # one image, all NaN
    (np.where(np.arange(2 * 784).reshape(2, 28, 28) == 784 + 3 * 28 + 4, np.inf, 0.5), "index (1, 3, 4)), 1 in all"),
    (np.full((28, 28), np.nan, np.float16), "index (0, 0)), 784 in all"),
    (np.full((1, 28, 28), -np.inf, np.float64), "index (0, 0, 0)), 784 in all"),
])
def test_nan_or_infinity_in_an_image_shaped_npy_is_refused_with_its_index(tmp_path: Path, array: np.ndarray,
                                                                          where: str) -> None:
    np.save(tmp_path / "x.npy", array)
    error = refusal(tmp_path / "x.npy", IMAGE)
    assert error.exit_code == 2
    assert f"input '{tmp_path / 'x.npy'}' holds NaN or infinite values (the first at {where}" in error.message


@pytest.mark.parametrize("contract", [VECTOR, NORMALISED], ids=["plain", "normalised"])
def test_finite_values_that_overflow_the_model_inputs_are_refused(tmp_path: Path, contract: dict[str, Any]) -> None:
    np.save(tmp_path / "big.npy", np.array([[1.0, 2.0, 3.0], [1e300, 2.0, 3.0]]))  # finite, but not as float32
    error = refusal(tmp_path / "big.npy", contract)
    assert "becomes NaN or infinite as the model's float32 inputs (the first at index (1, 0)), 1 in all" \
        in error.message
    (tmp_path / "big.csv").write_text("1,2,3\n1e300,2,3\n", encoding="utf-8")
    assert "(the first at index (1, 0))" in refusal(tmp_path / "big.csv", contract).message


def test_an_npy_with_no_examples_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "empty.npy", np.zeros((0, 28, 28), np.float32))
    assert "holds no examples (shape (0, 28, 28))" in refusal(tmp_path / "empty.npy", IMAGE).message


# -- item 8: files that claim more than they hold ------------------------------------------------------


def test_an_npy_header_claiming_a_huge_shape_is_refused_without_allocating(tmp_path: Path) -> None:
    from numpy.lib import format as npy

    path = tmp_path / "huge.npy"
    with open(path, "wb") as handle:
        npy.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 28, 28)})
        handle.write(b"\0" * 64)
    assert path.stat().st_size < 200
    started = time.perf_counter()
    error = refusal(path, IMAGE)
    assert time.perf_counter() - started < 1.0
    assert "is truncated: its header says shape (1000000000000, 28, 28) of float32" in error.message
    assert "but the file holds 64 bytes of data" in error.message
    np.save(tmp_path / "short.npy", np.zeros((3, 28, 28), np.float32))
    (tmp_path / "short.npy").write_bytes((tmp_path / "short.npy").read_bytes()[:-100])
    assert "is truncated" in refusal(tmp_path / "short.npy", IMAGE).message


@pytest.mark.parametrize("side", [60000, 10000])  # beyond Pillow's error limit, and in its warning band
def test_an_image_claiming_too_many_pixels_is_refused(tmp_path: Path, side: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(side, side))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must become a refusal, not a warning
        error = refusal(path, IMAGE)
    assert error.exit_code == 2
    assert f"input '{path}' is too large an image: it says it holds {side * side:,} pixels" in error.message


def fake_predictor(metadata: dict[str, Any], input_shape: tuple[int, ...] = (28, 28), classes: int = 10) -> Any:
    return SimpleNamespace(path=Path("m.tflite"), metadata=metadata, input_shape=input_shape,
                           num_classes=lambda: classes)


@pytest.mark.parametrize("metadata, shape, words", [
    ({"class_names": list("abcde"), "input": IMAGE}, (28, 28),
     "m.tflite' answers with 10 classes, but its metadata names 5"),
    ({"class_names": "0123456789", "input": IMAGE}, (28, 28), "class_names is not a list of names"),
    ({"input": {**IMAGE, "input_shape": [32, 32]}}, (28, 28),
     "takes inputs of shape (28, 28), but its metadata says (32, 32)"),
    ({"input": {**IMAGE, "input_shape": 784}}, (28, 28), "input_shape (784) is not a list of sizes"),
    ({"input": {**IMAGE, "scale": float("nan")}}, (28, 28), "scale (nan) is not a finite number"),
    ({"input": {**IMAGE, "value_range": [1, 0]}}, (28, 28), "value_range ([1, 0]) is not a range [low, high]"),
    ({"input": {**IMAGE, "input_dtype": "object"}}, (28, 28), "input_dtype ('object') is not one of"),
    ({"input": {**NORMALISED, "feature_std": [1.0, 0.0, 1.0]}}, (3,), "feature_std holds a value <= 0 (feature 2)"),
    ({"input": {**NORMALISED, "feature_mean": [0.0]}}, (3,), "feature_mean is not a list of 3 finite numbers"),
])
def test_metadata_that_does_not_fit_its_model_is_refused(metadata: dict[str, Any], shape: tuple[int, ...],
                                                         words: str) -> None:
    with pytest.raises(DataError) as caught:
        check_model(fake_predictor(metadata, shape))
    assert words in caught.value.message and caught.value.exit_code == 2


def test_metadata_that_fits_is_accepted() -> None:
    check_model(fake_predictor({"class_names": [str(i) for i in range(10)], "input": IMAGE}))
    check_model(fake_predictor({"class_names": ["no", "yes"], "input": NORMALISED}, (3,), 2))
    check_model(fake_predictor({}))  # a model without metadata: nothing to contradict


# -- zoo predict end to end, on a tiny untrained Keras model -------------------------------------------


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny untrained MNIST-shaped model: beside a sidecar, in a run, and with NaN weights (both ways)."""
    import keras

    folder = tmp_path_factory.mktemp("hostile-models")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    models: dict[str, Path] = {}
    for name, names, broken in (("model", [str(i) for i in range(10)], False), ("evil", [EVIL] * 10, False),
                                ("five", list("abcde"), False), ("nan", [str(i) for i in range(10)], True)):
        if broken:
            weights = model.get_weights()
            model.set_weights([np.full_like(w, np.nan) for w in weights])
        model.save(folder / f"{name}.keras")
        (folder / f"{name}.json").write_text(json.dumps({"class_names": names, "input": IMAGE}))
        run = folder / "runs" / f"run-{name}"
        run.mkdir(parents=True)
        model.save(run / "model.keras")
        (run / "manifest.json").write_text(json.dumps({"status": "completed", "recipe": "mnist-mlp", "run_id": run.name,
                                                       "dataset": {**IMAGE, "class_names": names}}))
        models[name] = folder / f"{name}.keras"
    per_row = keras.Sequential([keras.Input((28, 28)), keras.layers.Dense(10, activation="softmax")])  # (n, 28, 10)
    per_row.save(folder / "per-row.keras")
    (folder / "per-row.json").write_text(json.dumps({"class_names": [str(i) for i in range(10)], "input": IMAGE}))
    models["per-row"] = folder / "per-row.keras"
    np.save(folder / "digits.npy", np.zeros((2, 28, 28), np.float32))
    np.save(folder / "nan.npy", np.full((28, 28), np.nan, np.float32))
    return {**models, "runs": folder / "runs", "digits": folder / "digits.npy", "nan_input": folder / "nan.npy"}


@pytest.mark.slow
def test_zoo_predict_refuses_an_all_nan_npy_with_exit_2_and_no_json(keras_models: dict[str, Path]) -> None:
    result = run_cli("predict", str(keras_models["model"]), str(keras_models["nan_input"]), "--json")
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "NaN" not in result.stdout
    assert f"input '{keras_models['nan_input']}' holds NaN or infinite values (the first at index (0, 0)), 784 in all" \
        in " ".join(result.stderr.split())


@pytest.mark.slow
def test_zoo_predict_refuses_a_model_that_answers_nan(keras_models: dict[str, Path]) -> None:
    result = run_cli("predict", str(keras_models["nan"]), str(keras_models["digits"]), "--json")
    assert result.exit_code == 2, result.output  # a model file given by path is an input file
    assert result.stdout == ""
    assert "answered NaN or infinite probabilities for" in result.stderr and "weights are damaged" in result.stderr
    result = run_cli("predict", "run-nan", str(keras_models["digits"]), "--runs-dir", str(keras_models["runs"]))
    assert result.exit_code == 2, result.output  # a run's model that is not usable: exit 2, as evaluate/export say
    assert result.stderr.startswith("error: run 'run-nan': model ")


@pytest.mark.slow
def test_zoo_predict_refuses_a_model_whose_classes_do_not_match_its_metadata(keras_models: dict[str, Path]) -> None:
    words = "answers with 10 classes, but its metadata names 5 (a, b, c, d, e)"
    result = run_cli("predict", str(keras_models["five"]), str(keras_models["digits"]))
    assert result.exit_code == 2 and words in result.stderr, result.output
    result = run_cli("predict", "run-five", str(keras_models["digits"]), "--runs-dir", str(keras_models["runs"]))
    assert result.exit_code == 2 and words in result.stderr, result.output
    assert "zoo run --config" in result.stderr and "Traceback" not in result.output
    path = keras_models["runs"] / "run-five" / "model.keras"  # the same file by its path: still the run's model
    assert run_cli("predict", str(path), str(keras_models["digits"])).exit_code == 2


@pytest.mark.slow
def test_zoo_predict_refuses_a_model_that_is_not_a_classifier(keras_models: dict[str, Path]) -> None:
    result = run_cli("predict", str(keras_models["per-row"]), str(keras_models["digits"]))
    assert result.exit_code == 2, result.output
    assert "answers with shape (None, 28, 10), not (n, classes)" in result.stderr


def test_names_too_long_for_the_file_system_are_clear_errors(tmp_path: Path) -> None:
    long = str(tmp_path / ("a" * 5000))
    assert "cannot be read: File name too long" in refusal(Path(long + ".npy"), IMAGE).message
    result = run_cli("predict", long, long + ".png")
    assert result.exit_code == 2 and "cannot be read: File name too long" in result.stderr, result.output


@pytest.mark.parametrize("top", ["0", "-1"])
def test_zoo_predict_top_below_one_is_refused_before_the_model_loads(tmp_path: Path, top: str) -> None:
    result = run_cli("predict", str(tmp_path / "nothing.tflite"), str(tmp_path / "x.npy"), "--top", top)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --top must be 1 or more (got {top})")
    assert "up to the model's number of classes" in result.stderr


@pytest.mark.slow
def test_zoo_predict_shows_class_names_from_files_escaped(keras_models: dict[str, Path]) -> None:
    result = run_cli("predict", str(keras_models["evil"]), str(keras_models["digits"]), "--top", "2")
    assert result.exit_code == 0, result.output
    assert no_raw_controls(result.stdout)
    assert "ev\\x1b[31mil\\x07\\r\\x9b2J\\u202e" in result.stdout
    data = json.loads(run_cli("predict", str(keras_models["evil"]), str(keras_models["digits"]), "--json").stdout)
    assert data[0]["top"][0]["name"] == EVIL  # JSON keeps the name exactly (escaped the JSON way)


# -- item 4: terminal escapes from files ---------------------------------------------------------------


def test_printable_escapes_control_characters_and_keeps_plain_text() -> None:
    assert printable(EVIL) == "ev\\x1b[31mil\\x07\\r\\x9b2J\\u202e"
    assert printable("two\nlines\tand\x00") == "two\\nlines\\tand\\x00"
    assert printable("two\nlines\tand\x7f", multiline=True) == "two\nlines\tand\\x7f"
    assert printable("mnist-mlp — 0.98 [bold] ü") == "mnist-mlp — 0.98 [bold] ü"
    assert printable(7) == "7"


def test_zoo_runs_shows_a_recipe_name_from_a_manifest_escaped(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "evil-20260101-000000-abcd"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"status": "completed", "recipe": EVIL, "run_id": run.name,
                                                   "started": "2026-01-01T00:00:00\x1b[2J",
                                                   "settings": {"epochs": 2}, "epochs_done": "2\x1b[31m",
                                                   "metrics": {"accuracy": 0.5}}))
    result = run_cli("runs", "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    assert no_raw_controls(result.stdout)
    assert "ev\\x1b[31mil\\x07\\r\\x9b2J\\u202e" in result.stdout and "2\\x1b[31m/2" in result.stdout
    rows = json.loads(run_cli("runs", "--runs-dir", str(tmp_path / "runs"), "--json").stdout)
    assert rows[0]["recipe"] == EVIL


def test_zoo_show_and_error_messages_escape_text_from_a_registry_file(tmp_path: Path) -> None:
    registry = tmp_path / "extra.toml"
    registry.write_text('[architectures.wee]\ncomponent = "mlp"\nsummary = "tiny \\u001b]0;owned\\u0007 mlp"\n'
                        'hidden = [8]\n', encoding="utf-8")
    result = run_cli("--registry", str(registry), "show", "wee")
    assert result.exit_code == 0, result.output
    assert "tiny \\x1b]0;owned\\x07 mlp" in result.stdout and no_raw_controls(result.stdout)
    result = run_cli("--registry", str(registry), "show", "wee\x1b[2J")
    assert result.exit_code == 2 and "wee\\x1b[2J" in result.stderr and no_raw_controls(result.stderr)
    assert "\n  hint:" in result.stderr  # a message's own lines stay lines


def test_anything_printed_on_zoo_s_console_reaches_the_terminal_without_control_characters() -> None:
    with out.capture() as captured:
        out.print("[bold]run[/] " + EVIL)  # as if a command forgot to escape a name
    assert no_raw_controls(captured.get()) and "ev\\x1b[31mil" in captured.get()


def test_report_title_and_text_from_files_carry_no_control_characters() -> None:
    text = render_report(title=f"{EVIL}\n# not a heading — run-1", config_toml='recipe = "x"\n',
                         manifest={"status": "failed", "error": "boom\x1b[31m", "run_id": "run-1"},
                         metrics={}, history=[], plots={}, exports=[])
    assert no_raw_controls(text)
    assert text.splitlines()[0] == "# ev\\x1b[31mil\\x07 \\x9b2J\\u202e # not a heading — run-1"
    assert "boom\\x1b[31m" in text


# -- item 9: a failed plot is one line -------------------------------------------------------------------


@pytest.mark.parametrize("debug", ["", "1"])
def test_a_failed_plot_is_one_line_unless_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture, debug: str) -> None:
    def broken(path: Path, **kwargs: Any) -> Path:
        raise ValueError("cannot draw this\nsecond line")

    for name in ("plot_samples", "plot_confusion_matrix", "plot_weights", "plot_weight_distributions",
                 "plot_predictions"):
        monkeypatch.setattr(plots, name, lambda path, **kwargs: None)
    monkeypatch.setattr(plots, "plot_curves", broken)
    if debug:
        monkeypatch.setenv("ZOO_DEBUG", debug)
    info = DatasetInfo("digits", (8, 8), 10, [str(i) for i in range(10)])
    y = np.arange(20) % 10
    with caplog.at_level(logging.WARNING, logger="zoo_core.reporting.plots"):
        plots.write_plots(tmp_path, info=info, x_train=np.zeros((20, 8, 8)), y_train=y, x_test=np.zeros((20, 8, 8)),
                          y_test=y, probabilities=np.full((20, 10), 0.1), history={"loss": [1.0]},
                          first_layer_weights=None, weight_history=[], metrics={})
    (record,) = caplog.records
    assert record.getMessage() == "could not draw the curves plot (curves.png): ValueError: cannot draw this"
    assert bool(record.exc_info) == bool(debug)  # the traceback only with ZOO_DEBUG


# -- item 14: warnings, a closed pipe, main options anywhere ----------------------------------------------


def test_warnings_and_log_records_are_one_line_each() -> None:
    code = ("import logging, warnings\n"
            "import zoo_core.cli as cli\n"
            "cli._one_line_warnings()\n"
            "warnings.warn('careful:\\x1b[31m this\\n matters', UserWarning)\n"
            "warnings.warn('old api', DeprecationWarning)\n"
            "try:\n    1 / 0\nexcept ZeroDivisionError:\n"
            "    logging.getLogger('zoo_core.reporting.plots').warning('could not draw x', exc_info=True)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env=subprocess_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["zoo: warning: careful:\\x1b[31m this matters (UserWarning)",
                                          "zoo: warning: could not draw x"]


@pytest.mark.parametrize("args", [["list", "--json"], ["list"], ["show", "mnist-mlp", "--json"]])
def test_output_cut_short_by_its_reader_ends_quietly(args: list[str], tmp_path: Path) -> None:
    process = subprocess.Popen([zoo_executable(), *args], cwd=tmp_path, env=subprocess_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # as 'zoo list --json | head -1' does once head has its line
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141  # 128 + SIGPIPE, as 'seq 1 1000000 | head -1' reports
    assert stderr == ""


def test_global_options_move_before_the_command() -> None:
    assert global_options_first(["run", "x", "--registry", "f.toml", "--set", "epochs=1"]) == \
        ["--registry", "f.toml", "run", "x", "--set", "epochs=1"]
    assert global_options_first(["show", "x", "--plugins-dir=d", "--registry=f.toml"]) == \
        ["--plugins-dir=d", "--registry=f.toml", "show", "x"]
    assert global_options_first(["run", "--", "--registry", "f"]) == ["run", "--", "--registry", "f"]
    with pytest.raises(ConfigError, match="--registry needs a value"):
        global_options_first(["show", "x", "--registry"])


def test_registry_after_the_command_name_works(tmp_path: Path) -> None:
    (tmp_path / "extra.toml").write_text('[architectures.wee]\ncomponent = "mlp"\nhidden = [8]\n', encoding="utf-8")
    for args in (["show", "wee", "--registry", "extra.toml", "--json"],
                 ["show", "wee", "--registry=extra.toml", "--json"]):
        result = subprocess.run([zoo_executable(), *args], cwd=tmp_path, env=subprocess_env(), capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["params"]["hidden"] == [8]
    result = subprocess.run([zoo_executable(), "show", "wee", "--registry"], cwd=tmp_path, env=subprocess_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("error: --registry needs a value")
