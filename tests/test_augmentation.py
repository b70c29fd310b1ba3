"""Augmentation: declared parameters of image datasets, random changes of the training batches only, the same
changes for the same seed, in every input pipeline, and exactly again after a resume."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

from zoo_core.augmentation import Augmentation
from zoo_core.data import Dataset, DatasetInfo, check_dataset
from zoo_core.errors import DataError

from conftest import run_cli
from test_distributed import FakeStrategy
from test_reliability import (SLICE, assert_same_results, history_but_seconds, manifest, start, wait_for_epochs,
                              zoo)

EVERYTHING = Augmentation(flip="horizontal", rotation=0.05, zoom=0.1, translation=0.1, contrast=0.2, brightness=0.1)
#: mnist's augmentation parameters, all in use.
AUGMENTED = ["--set", "dataset.random_rotation=0.03", "--set", "dataset.random_zoom=0.1",
             "--set", "dataset.random_translation=0.1", "--set", "dataset.random_brightness=0.05"]


def digits(count: int) -> np.ndarray:
    with np.load(Path(__file__).parents[1] / "plugins/zoo_plugins/datasets/mnist.npz") as data:
        return data["x_train"][:count].astype(np.float32) / 255.0


def test_the_same_step_gives_the_same_changes_and_another_step_others() -> None:
    from zoo_core.training.augmentation import augment, step_seed

    images = digits(16)
    first = augment(images, EVERYTHING, step_seed(42, 3), (0.0, 1.0)).numpy()
    again = augment(images, EVERYTHING, step_seed(42, 3), (0.0, 1.0)).numpy()
    other = augment(images, EVERYTHING, step_seed(42, 4), (0.0, 1.0)).numpy()
    assert first.shape == images.shape and first.dtype == np.float32
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert all(not np.allclose(first[k], images[k]) for k in range(16))  # every image was changed
    assert first.min() >= 0.0 and first.max() <= 1.0  # the value range is kept


def test_a_slice_of_the_batch_gets_the_draws_of_its_examples() -> None:
    """A replica training examples 5..11 of a step's 16 changes them as a one-process run does."""
    from zoo_core.training.augmentation import augment, step_seed

    images = digits(16)
    whole = augment(images, EVERYTHING, step_seed(7, 10), (0.0, 1.0)).numpy()
    part = augment(images[5:11], EVERYTHING, step_seed(7, 10), (0.0, 1.0), offset=5, total=16).numpy()
    np.testing.assert_array_equal(part, whole[5:11])


def test_a_flip_mirrors_about_half_of_the_images_and_changes_nothing_else() -> None:
    from zoo_core.training.augmentation import augment, step_seed

    images = digits(64)
    flipped = augment(images, Augmentation(flip="horizontal"), step_seed(1, 0), (0.0, 1.0)).numpy()
    mirrored = [np.array_equal(a, b[:, ::-1]) for a, b in zip(flipped, images)]
    kept = [np.array_equal(a, b) for a, b in zip(flipped, images)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert 16 <= sum(mirrored) <= 48


def test_rgb_images_keep_their_channels_and_colours_in_range() -> None:
    from zoo_core.training.augmentation import augment, step_seed

    images = np.random.default_rng(0).uniform(0, 255, (4, 12, 10, 3)).astype(np.float32)
    changed = augment(images, EVERYTHING, step_seed(3, 0), (0.0, 255.0)).numpy()
    assert changed.shape == (4, 12, 10, 3)
    assert changed.min() >= 0.0 and changed.max() <= 255.0


def test_the_distributed_stream_augments_as_the_one_process_stream() -> None:
    from zoo_core.training import input_pipeline

    x, y = digits(50), np.arange(50, dtype=np.int64)
    single, steps = input_pipeline.training_dataset(x, y, 8, seed=7, shuffle=True, first_epoch=1, epochs=3,
                                                    augmentation=EVERYTHING)
    expected = [images for images, _ in single.as_numpy_iterator()]
    assert len(expected) == 2 * steps
    plain, _ = input_pipeline.training_dataset(x, y, 8, seed=7, shuffle=True, first_epoch=1, epochs=3)
    assert not any(np.array_equal(a, b) for a, (b, _) in zip(expected, plain.as_numpy_iterator()))
    streams, _ = input_pipeline.training_dataset(x, y, 8, seed=7, shuffle=True, first_epoch=1, epochs=3,
                                                 tf_strategy=FakeStrategy(1, 2), augmentation=EVERYTHING)
    slices = [images for images, _ in streams[0].as_numpy_iterator()]
    for step, batch in enumerate(expected):
        np.testing.assert_allclose(np.concatenate(slices[2 * step: 2 * step + 2]), batch, atol=1e-5)  # float sums


def test_feature_vectors_and_ranges_out_of_bounds_are_refused() -> None:
    vectors = DatasetInfo(name="table", input_shape=(4,), num_classes=2, class_names=["a", "b"], image=False)
    x, y = np.zeros((4, 4), np.float32), np.array([0, 1, 0, 1])
    with pytest.raises(DataError, match="augmentation changes images, but the examples are not images"):
        check_dataset(Dataset(x, y, x, y, vectors, Augmentation(rotation=0.1)), "dataset 'table'")
    check_dataset(Dataset(x, y, x, y, vectors, Augmentation()), "dataset 'table'")  # nothing asked: fine
    images = DatasetInfo(name="pictures", input_shape=(2, 2), num_classes=2, class_names=["a", "b"])
    x = np.zeros((4, 2, 2), np.float32)
    with pytest.raises(DataError, match=r"augmentation zoom must be a fraction in \[0, 0.9\], got 2.0"):
        check_dataset(Dataset(x, y, x, y, images, Augmentation(zoom=2.0)), "dataset 'pictures'")
    with pytest.raises(DataError, match="flip must be one of none, horizontal, vertical, both"):
        check_dataset(Dataset(x, y, x, y, images, Augmentation(flip="sideways")), "dataset 'pictures'")


def test_zoo_show_gives_each_parameter_its_range_and_zoo_refuses_one_outside() -> None:
    shown = run_cli("show", "image-folder")
    assert shown.exit_code == 0, shown.output
    for name, kind in [("random_flip", "'none' | 'horizontal' | 'vertical' | 'both'"),
                       ("random_rotation", "float in [0, 0.5]"), ("random_zoom", "float in [0, 0.9]"),
                       ("random_translation", "float in [0, 0.5]"), ("random_contrast", "float in [0, 1]"),
                       ("random_brightness", "float in [0, 1]")]:
        assert any(line.split()[:1] == [name] and kind in line for line in shown.output.splitlines()), name
    refused = run_cli("train", "-d", "mnist", "-a", "mlp", "--set", "dataset.random_rotation=0.7")
    assert refused.exit_code == 2, refused.output
    assert "random_rotation" in refused.output and "[0, 0.5]" in refused.output


@pytest.mark.slow
def test_augmented_runs_repeat_and_resume_exactly_after_sigkill(tmp_path: Path) -> None:
    """Two augmented runs of one seed agree to the last digit; one killed in epoch 3 and resumed agrees too;
    a run without augmentation does not (the changes were made).

    The reference and the plain run train in-process, to save two TensorFlow start-ups; the killed run and its
    resume are real ``zoo`` processes, so the reference is also compared across processes."""
    reference = run_cli("run", "mnist-mlp", "--runs-dir", str(tmp_path / "reference"), *SLICE, *AUGMENTED, "--quiet")
    assert reference.exit_code == 0, reference.output
    (reference_dir,) = (tmp_path / "reference").iterdir()

    root = tmp_path / "killed"
    process = start("run", "mnist-mlp", "--runs-dir", str(root), *SLICE, *AUGMENTED)
    run_dir = wait_for_epochs(process, root, 2)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert 2 <= manifest(run_dir)["epochs_done"] < 5
    resumed = zoo("resume", str(run_dir), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_results(run_dir, reference_dir)

    plain = run_cli("run", "mnist-mlp", "--runs-dir", str(tmp_path / "plain"), *SLICE, "--set", "epochs=1", "--quiet")
    assert plain.exit_code == 0, plain.output
    (plain_dir,) = (tmp_path / "plain").iterdir()
    assert history_but_seconds(plain_dir)[0]["loss"] != history_but_seconds(reference_dir)[0]["loss"]


def test_streamed_images_are_augmented_as_their_in_memory_twins(tmp_path: Path) -> None:
    """The streaming pipeline changes raw pixels before scaling, the array path scaled ones: the same images."""
    import tensorflow as tf

    from zoo_core.data import StreamingDataset
    from zoo_core.training import input_pipeline, streaming

    pixels = (digits(40) * 255).round().astype(np.uint8)
    files = []
    for index, image in enumerate(pixels):
        np.save(tmp_path / f"{index}.npy", image)
        files.append(str(tmp_path / f"{index}.npy"))
    labels = np.arange(40, dtype=np.int64) % 10
    info = DatasetInfo(name="digits", input_shape=(28, 28), num_classes=10, class_names=[str(d) for d in range(10)])

    def decode(file: object) -> object:
        return tf.numpy_function(lambda name: np.load(name.item() if hasattr(name, "item") else name), [file], tf.uint8)

    streamed = StreamingDataset(files, labels, files, labels, decode, info, augmentation=EVERYTHING)
    stream, steps = streaming.training_stream(streamed, np.asarray(files), labels, 8, seed=5, shuffle=True,
                                              first_epoch=1, epochs=2)
    arrays, _ = input_pipeline.training_dataset(pixels.astype(np.float32) / 255.0, labels, 8, seed=5, shuffle=True,
                                                first_epoch=1, epochs=2, augmentation=EVERYTHING)
    pairs = list(zip(stream.as_numpy_iterator(), arrays.as_numpy_iterator()))
    assert len(pairs) == steps == 5
    for (streamed_x, streamed_y), (array_x, array_y) in pairs:
        np.testing.assert_array_equal(streamed_y, array_y)
        np.testing.assert_allclose(streamed_x, array_x, atol=1e-5)
