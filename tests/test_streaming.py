"""Streaming datasets (zoo_core.data.StreamingDataset, issue 25): files decoded as training reads them.

A loose plugin (``--plugins-dir``) serves the same MNIST digits two ways: ``digit-files`` streams them
from one ``.npy`` file per example (a third-party streaming dataset in a few lines), ``digit-arrays``
returns them as arrays. Both runs give the same figures; so do the ``cache`` settings; a streamed run
killed with SIGKILL resumes exactly; two workers read disjoint shards that cover each epoch; a file
that breaks only when decoded is an error naming it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli, subprocess_env

MNIST = Path(__file__).resolve().parents[1] / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz"
ZOO = str(Path(sys.executable).with_name("zoo"))

DIGITS_PLUGIN = '''
    """Digits as one .npy file per example (INDEX-LABEL.npy), streamed or as arrays."""

    import time
    from pathlib import Path
    from typing import Any, Literal

    from zoo_core import Component, hookimpl


    def _listing(path: str) -> Any:
        import numpy as np

        files = sorted(str(file) for file in Path(path).glob("*.npy"))
        labels = np.asarray([int(Path(file).stem.split("-")[1]) for file in files], dtype=np.int64)
        return np.asarray(files), labels


    def _info() -> Any:
        from zoo_core.data import DatasetInfo

        return DatasetInfo(name="digits", input_shape=(28, 28), num_classes=10, class_names=[str(d) for d in range(10)])


    def digit_files(path: str = "", slow: float = 0.0, cache: Literal["none", "memory", "disk"] = "none") -> Any:
        """Digits streamed from their files.

        Args:
            path: the folder of INDEX-LABEL.npy files.
            slow: seconds of sleep per decoded file.
            cache: none, memory or disk.
        """
        import numpy as np
        import tensorflow as tf

        from zoo_core.data import StreamingDataset

        files, labels = _listing(path)

        def load(file: Any) -> Any:
            time.sleep(slow)
            return np.load(file.item() if hasattr(file, "item") else file)

        def decode(file: Any) -> Any:
            return tf.numpy_function(load, [file], tf.uint8)

        cut = len(files) * 3 // 4
        return StreamingDataset(files[:cut], labels[:cut], files[cut:], labels[cut:], decode, _info(), cache=cache)


    def digit_arrays(path: str = "") -> Any:
        """The same digits, decoded into arrays.

        Args:
            path: the folder of INDEX-LABEL.npy files.
        """
        import numpy as np

        from zoo_core.data import Dataset

        files, labels = _listing(path)
        x = np.stack([np.load(file) for file in files]).astype(np.float32) * np.float32(1 / 255)
        cut = len(files) * 3 // 4
        return Dataset(x[:cut], labels[:cut], x[cut:], labels[cut:], _info())


    @hookimpl
    def register_datasets() -> list:
        return [Component("digit-files", digit_files), Component("digit-arrays", digit_arrays)]
'''
QUICK = ["--set", "epochs=3", "--set", "exporters=[]", "--set", "architecture.hidden=[16]", "--set", "batch_size=16",
         "--set", "validation_split=0.2", "--quiet"]


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(plugins folder, folder of 320 digit files: MNIST's first, in its order, which mixes the classes)."""
    root = tmp_path_factory.mktemp("streaming")
    (root / "plugins").mkdir()
    (root / "plugins" / "digit_files.py").write_text(textwrap.dedent(DIGITS_PLUGIN), encoding="utf-8")
    with np.load(MNIST) as data:
        images, labels = data["x_train"][:320], data["y_train"][:320]
    folder = root / "digits"
    folder.mkdir()
    for index, (image, label) in enumerate(zip(images, labels)):
        np.save(folder / f"{index:04d}-{label}.npy", image)
    return root / "plugins", folder


def train(plugins: Path, runs: Path, dataset: str, *settings: str) -> Path:
    result = run_cli("--plugins-dir", str(plugins), "train", "--dataset", dataset, "--architecture", "mlp",
                     "--runs-dir", str(runs), *QUICK, *settings)
    assert result.exit_code == 0, result.output
    (run_dir,) = [path for path in runs.iterdir() if path.is_dir()]
    return run_dir


def figures(run_dir: Path) -> tuple[dict[str, Any], list[str]]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = [",".join(line.split(",")[:-1]) for line in (run_dir / "history.csv").read_text().splitlines()]
    return metrics, history  # history.csv without its last column (the epoch's seconds)


@pytest.fixture(scope="module")
def runs(digits: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same digits trained from arrays, streamed, and streamed with each cache."""
    plugins, folder = digits
    root, path = tmp_path_factory.mktemp("runs"), f"dataset.path={folder}"
    return {"arrays": train(plugins, root / "arrays", "digit-arrays", "--set", path),
            "streamed": train(plugins, root / "streamed", "digit-files", "--set", path),
            "memory": train(plugins, root / "memory", "digit-files", "--set", path, "--set", "dataset.cache=memory"),
            "disk": train(plugins, root / "disk", "digit-files", "--set", path, "--set", "dataset.cache=disk")}


@pytest.mark.slow
def test_a_streamed_run_gives_the_figures_of_an_in_memory_run(runs: dict[str, Path]) -> None:
    (metrics, history), (expected, twin_history) = figures(runs["streamed"]), figures(runs["arrays"])
    assert history[0] == twin_history[0] and len(history) == 4
    for row, twin in zip(history[1:], twin_history[1:]):  # epoch, loss, accuracy, val_loss, val_accuracy...
        assert np.allclose([float(v) for v in row.split(",")], [float(v) for v in twin.split(",")], rtol=1e-5)
    assert metrics["accuracy"] == expected["accuracy"]
    assert metrics["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert figures(runs["memory"]) == figures(runs["streamed"]) == figures(runs["disk"])
    assert not (runs["disk"] / "cache").exists()  # the disk cache goes once training is done
    manifest = json.loads((runs["streamed"] / "manifest.json").read_text())
    record = manifest["input_pipeline"]
    assert record["streaming"] is True and record["examples_per_second"] > 0
    assert 0 <= record["waited_fraction"] <= 1 and record["batches"] == 3 * 12  # 192 examples at batch 16, 3 epochs
    assert manifest["samples"] == {"train": 240, "test": 80}
    assert json.loads((runs["arrays"] / "manifest.json").read_text())["input_pipeline"]["streaming"] is False


@pytest.mark.slow
def test_a_streamed_run_killed_with_sigkill_resumes_exactly(digits: tuple[Path, Path], runs: dict[str, Path],
                                                            tmp_path: Path) -> None:
    """Killed after its first epoch (decoding is slowed so that it is still training), resumed in a new process:
    the figures of the uninterrupted streamed run."""
    plugins, folder = digits
    command = [ZOO, "--plugins-dir", str(plugins), "train", "--dataset", "digit-files", "--architecture", "mlp",
               "--runs-dir", str(tmp_path), *QUICK, "--set", f"dataset.path={folder}", "--set", "dataset.slow=0.01"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=subprocess_env())
    try:
        run_dir = _wait_for_epoch(process, tmp_path)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    assert json.loads((run_dir / "manifest.json").read_text())["epochs_done"] < 3
    resumed = subprocess.run([ZOO, "--plugins-dir", str(plugins), "resume", str(run_dir), "--quiet"],
                             capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert resumed.returncode == 0, resumed.stderr
    assert figures(run_dir) == figures(runs["streamed"])


def _wait_for_epoch(process: subprocess.Popen[str], root: Path, timeout: float = 180) -> Path:
    """The run directory under ``root``, once its first epoch is committed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in root.glob("*/manifest.json"):
            try:
                if json.loads(path.read_text()).get("epochs_done", 0) >= 1:
                    return path.parent
            except ValueError:
                pass
        if process.poll() is not None:
            pytest.fail(f"zoo exited with {process.returncode} before its first epoch: {process.communicate()}")
        time.sleep(0.01)
    pytest.fail(f"no epoch within {timeout} s")


class _TwoWorkers:
    """A stand-in tf.distribute strategy: hands back the input function, which the test calls per worker."""

    def distribute_datasets_from_function(self, function: Any) -> Any:
        return function


def test_two_workers_read_disjoint_shards_that_cover_every_epoch() -> None:
    import tensorflow as tf

    from zoo_core.data import DatasetInfo, StreamingDataset
    from zoo_core.training.streaming import training_stream

    count, batch = 50, 8
    records = [str(number) for number in range(count)]  # records, not files: decode reads the number itself
    info = DatasetInfo(name="numbers", input_shape=(1,), num_classes=2, class_names=["even", "odd"], image=False,
                       value_range=(0.0, 100.0))
    dataset = StreamingDataset(records, np.arange(count) % 2, records[:2], [0, 1],
                               lambda record: tf.reshape(tf.strings.to_number(record), (1,)), info)
    function, steps = training_stream(dataset, dataset.train_files, dataset.y_train, batch, seed=3, shuffle=True,
                                      first_epoch=0, epochs=2, tf_strategy=_TwoWorkers())
    read = []
    for worker in (0, 1):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker, num_replicas_in_sync=2)
        batches = [x.numpy().ravel().astype(int).tolist() for x, _ in function(context)]
        assert len(batches) == 2 * steps  # one slice of every global step of both epochs
        read.append([batches[:steps], batches[steps:]])
    for epoch in (0, 1):
        first = [n for part in read[0][epoch] for n in part]
        second = [n for part in read[1][epoch] for n in part]
        assert not set(first) & set(second) and sorted(first + second) == list(range(count))
        for step in range(steps):  # each global step holds the global batch, split between the workers
            assert len(read[0][epoch][step]) + len(read[1][epoch][step]) == min(batch, count - step * batch)
    assert read[0][0] != read[0][1]  # every epoch is shuffled anew


def test_an_image_damaged_beyond_its_header_is_named_when_first_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for index in range(8):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "pets" / name /
                                                                                    f"{index}.jpg")
    damaged = tmp_path / "pets" / "dogs" / "3.jpg"
    damaged.write_bytes(damaged.read_bytes()[:-100])  # the header reads; the pixels do not
    result = run_cli("train", "-d", "image-folder", "-a", "mlp", "--runs-dir", str(tmp_path / "runs"), "--set",
                     f"dataset.path={tmp_path / 'pets'}", "--set", "dataset.color=rgb", "--set", "epochs=1",
                     "--set", "exporters=[]", "--quiet")
    assert result.exit_code == 2, result.output
    assert f"cannot read image '{damaged}' (not a readable image: image file is truncated" in result.output
    assert "Traceback" not in result.output and "replace or delete the file" in result.output


# --------------------------------------------------------------------------- the conformance kit


def _numbers(decode: Any, labels: Any = None) -> Any:
    """A streaming dataset of records "0".."19" (decoded by ``decode``), two classes."""
    from zoo_core.data import DatasetInfo, StreamingDataset

    records = [str(number) for number in range(20)]
    info = DatasetInfo(name="numbers", input_shape=(2,), num_classes=2, class_names=["even", "odd"], image=False,
                       value_range=(0.0, 100.0))
    labels = np.arange(20) % 2 if labels is None else labels
    return StreamingDataset(records[:16], labels[:16], records[16:], labels[16:], decode, info)


def sound() -> Any:
    import tensorflow as tf

    return _numbers(lambda record: tf.fill((2,), tf.strings.to_number(record)))


def one_value_each() -> Any:
    import tensorflow as tf

    return _numbers(lambda record: tf.reshape(tf.strings.to_number(record), (1,)))


def labels_three() -> Any:
    import tensorflow as tf

    return _numbers(lambda record: tf.fill((2,), tf.strings.to_number(record)), labels=np.arange(20) % 3)


def _batched(offset: float, read: Any) -> Any:
    """``sound`` with a decode_batch (``offset`` added: it disagrees with decode) and a read."""
    import dataclasses

    import tensorflow as tf

    return dataclasses.replace(
        sound(), read=read,
        decode_batch=lambda records: tf.tile(tf.strings.to_number(records)[:, None] + offset, (1, 2)))


def batched() -> Any:
    return _batched(0.0, lambda record: record.encode())


def batch_disagrees() -> Any:
    return _batched(1.0, lambda record: record.encode())


def read_gives_text() -> Any:
    return _batched(0.0, str)


@pytest.mark.parametrize(("factory", "broken", "words"), [
    (sound, set(), ""),
    (batched, set(), ""),
    (batch_disagrees, {"pipeline"}, "decode_batch(files) gives other examples than decode(file)"),
    (read_gives_text, {"reads"}, "read('0') gives a str; give the entry's stored bytes"),
    (one_value_each, {"decodes"}, "decode('0') gives shape (1,), but info.input_shape is (2,)"),
    (labels_three, {"labels_in_range"}, "y_train holds labels 0..2, but info.num_classes is 2"),
])
def test_the_conformance_kit_checks_a_streaming_dataset(factory: Any, broken: set[str], words: str) -> None:
    from zoo_core.components import Component
    from zoo_core.testing import check_component

    results = check_component("dataset", Component("numbers", factory), light_import=False)
    problems = {r.check: r.message for r in results if r.status == "failed"}
    assert set(problems) == broken, problems
    assert all(words in message for message in problems.values())
    passed = {r.check for r in results if r.passed}
    if not broken:
        assert {"files", "decodes", "pipeline", "values_in_range", "runner_accepts", "deterministic"} <= passed
        assert ("reads" in passed) == (factory is batched)
