"""zoo_core.reporting.plots: every plot is a valid, reasonably sized PNG for any dataset shape.

Synthetic arrays only (no training, no TensorFlow).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo_core.data import DatasetInfo
from zoo_core.reporting import figures, plots, weight_plots
from zoo_core.reporting.metrics import classification_metrics

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 500 * 1024


def make_run(info: DatasetInfo, *, samples: int = 60, units: int = 32, epochs: int = 3,
             validation: bool = True, seed: int = 0) -> dict:
    """Keyword arguments for write_plots: random data shaped by ``info``, mostly right predictions."""
    rng = np.random.default_rng(seed)
    low, high = info.value_range
    x = rng.uniform(low, high, size=(samples, *info.input_shape)).astype(np.float32)
    y = rng.integers(0, info.num_classes, samples)
    logits = rng.normal(size=(samples, info.num_classes))
    logits[np.arange(samples), y] += 2.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    features = int(np.prod(info.input_shape))
    history = {"loss": list(np.linspace(1.0, 0.3, epochs)), "accuracy": list(np.linspace(0.6, 0.9, epochs))}
    if validation:
        history["val_loss"] = list(np.linspace(1.1, 0.4, epochs))
        history["val_accuracy"] = list(np.linspace(0.55, 0.85, epochs))
    weight_history = [
        {"dense": rng.normal(0, 0.05 * (1 + e / 4), features * units),
         "dense_1": rng.normal(0, 0.2, units * info.num_classes)}
        for e in range(epochs + 1)
    ]
    return dict(
        info=info, x_train=x, y_train=y, x_test=x, y_test=y, probabilities=probabilities, history=history,
        first_layer_weights=rng.normal(0, 0.05, (features, units)), weight_history=weight_history,
        metrics=classification_metrics(y, probabilities, info.class_names, loss=0.4),
    )


def assert_png(path: Path, min_width: int = 300, min_height: int = 200) -> None:
    """A real, non-blank PNG of plausible size that does not weigh too much."""
    assert path.is_file(), path
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert 1_000 < len(data) < MAX_BYTES, (path, len(data))
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
        assert min_width <= width <= 2500 and min_height <= height <= 2500, (path, image.size)
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 5, f"{path} looks blank"


def no_leftovers(directory: Path) -> None:
    """Atomic writes leave no temporary files behind."""
    assert not [p.name for p in directory.iterdir() if p.name.startswith(".") or ".tmp" in p.name]


DIGITS = [str(i) for i in range(10)]
CASES = {
    "mnist-like 28x28, 10 classes": (DatasetInfo("mnist", (28, 28), 10, DIGITS), {}),
    "8x8 grayscale in [0, 16]": (DatasetInfo("digits", (8, 8), 10, DIGITS, value_range=(0.0, 16.0)), {}),
    "32x32x3 colour": (
        DatasetInfo("cifar", (32, 32, 3), 10, ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                "horse", "ship", "truck"], channels=3),
        {},
    ),
    "vectors, 2 classes, no validation": (
        DatasetInfo("blobs", (12,), 2, ["negative", "positive"], image=False, value_range=(-3.0, 3.0)),
        {"validation": False},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_write_plots_draws_every_plot(tmp_path, case):
    info, options = CASES[case]
    written = plots.write_plots(tmp_path / "plots", strict=True, **make_run(info, **options))
    assert list(written) == list(plots.PLOT_NAMES)
    for name, path in written.items():
        assert path == tmp_path / "plots" / f"{name}.png"
        assert_png(path)
    no_leftovers(tmp_path / "plots")


def test_many_classes_and_long_names(tmp_path):
    info = DatasetInfo("cifar100", (16, 16, 3), 100, [f"a rather long class name {i}" for i in range(100)], channels=3)
    run = make_run(info, samples=150, units=20, epochs=2)
    path = plots.plot_confusion_matrix(tmp_path / "cm.png", matrix=run["metrics"]["confusion_matrix"],
                                       class_names=info.class_names)
    assert_png(path, min_width=800, min_height=800)
    assert_png(plots.plot_predictions(tmp_path / "p.png", info=info, x=run["x_test"], y=run["y_test"],
                                      probabilities=run["probabilities"]))


def test_plots_without_weights_are_skipped(tmp_path):
    run = make_run(DatasetInfo("mnist", (28, 28), 10, DIGITS))
    run.update(first_layer_weights=None, weight_history=[])
    written = plots.write_plots(tmp_path, strict=True, **run)
    assert set(written) == set(plots.PLOT_NAMES) - {"weights", "weight_distributions"}
    assert not (tmp_path / "weights.png").exists()
    assert plots.plot_weights(tmp_path / "w.png", info=run["info"], kernel=None) is None
    assert plots.plot_weight_distributions(tmp_path / "d.png", weight_history=[]) is None


def test_weights_of_a_dense_layer_not_fed_by_pixels_become_a_heat_map(tmp_path):
    info = DatasetInfo("mnist", (28, 28), 10, DIGITS)
    path = plots.plot_weights(tmp_path / "w.png", info=info, kernel=np.random.default_rng(1).normal(size=(300, 40)))
    assert_png(path)


def test_weights_of_a_convolution_kernel_are_drawn_per_filter(tmp_path):
    info = DatasetInfo("cifar", (32, 32, 3), 10, DIGITS, channels=3)
    kernel = np.random.default_rng(2).normal(size=(3, 3, 3, 16))
    assert weight_plots._weight_tiles(kernel, info, 64)[0].shape == (16, 3, 3, 3)
    assert_png(plots.plot_weights(tmp_path / "w.png", info=info, kernel=kernel))


def test_curves_with_only_training_values_and_with_nothing(tmp_path):
    assert_png(plots.plot_curves(tmp_path / "a.png", history={"loss": [0.5], "accuracy": [0.8]}))
    assert_png(plots.plot_curves(tmp_path / "b.png", history={}))


def test_a_failing_plot_is_logged_and_skipped_unless_strict(tmp_path, monkeypatch, caplog):
    def broken(path, **kwargs):
        raise RuntimeError("boom")

    def fake(path, **kwargs):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PNG_SIGNATURE)
        return path

    for name in ("plot_samples", "plot_confusion_matrix", "plot_weights", "plot_weight_distributions",
                 "plot_predictions"):
        monkeypatch.setattr(plots, name, fake)
    monkeypatch.setattr(plots, "plot_curves", broken)
    run = make_run(DatasetInfo("digits", (8, 8), 10, DIGITS))
    with caplog.at_level(logging.WARNING, logger="zoo_core.reporting.plots"):
        written = plots.write_plots(tmp_path, **run)
    assert list(written) == [name for name in plots.PLOT_NAMES if name != "curves"]
    assert "curves" in caplog.text and "boom" in caplog.text
    with pytest.raises(RuntimeError, match="boom"):
        plots.write_plots(tmp_path, strict=True, **run)


def test_no_figures_are_left_open_or_alive(tmp_path):
    import gc

    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    def alive() -> int:
        gc.collect()
        return sum(isinstance(o, Figure) for o in gc.get_objects())

    open_before, alive_before = plt.get_fignums(), alive()
    run = make_run(DatasetInfo("digits", (8, 8), 10, DIGITS))
    plots.plot_curves(tmp_path / "c.png", history=run["history"])
    plots.plot_samples(tmp_path / "s.png", info=run["info"], x=run["x_train"], y=run["y_train"])
    assert plt.get_fignums() == open_before
    assert alive() == alive_before


def test_an_existing_plot_is_replaced_whole(tmp_path):
    target = tmp_path / "curves.png"
    target.write_bytes(b"old")
    plots.plot_curves(target, history={"loss": [1.0, 0.5]})
    assert target.read_bytes()[:8] == PNG_SIGNATURE
    no_leftovers(tmp_path)


@pytest.mark.parametrize(
    "shape, channels, expected",
    [
        ((5, 8, 8), 1, (5, 8, 8)),  # gray
        ((5, 8, 8, 1), 1, (5, 8, 8)),  # gray with a channel axis
        ((5, 8, 8, 3), 3, (5, 8, 8, 3)),  # RGB
        ((5, 3, 8, 8), 3, (5, 8, 8, 3)),  # channels first
        ((5, 64), 1, (5, 8, 8)),  # flattened square image
        ((5, 8, 8, 5), 5, (5, 8, 8)),  # many channels: averaged
        ((5, 10), 1, None),  # not a square image
    ],
)
def test_image_views_adapt_to_the_input_shape(shape, channels, expected):
    info = DatasetInfo("x", shape[1:], 2, ["a", "b"], channels=channels)
    x = np.random.default_rng(0).uniform(0, 1, shape)
    views = figures.image_views(x, info)
    assert (None if views is None else views.shape) == expected
    if views is not None:
        assert views.min() >= 0.0 and views.max() <= 1.0


def test_image_views_scale_by_the_value_range():
    info = DatasetInfo("x", (2, 2), 2, ["a", "b"], value_range=(-1.0, 1.0))
    views = figures.image_views(np.array([[[-1.0, 0.0], [1.0, 3.0]]]), info)
    assert views.tolist() == [[[0.0, 0.5], [1.0, 1.0]]]


def test_non_image_data_is_never_drawn_as_an_image():
    info = DatasetInfo("tab", (16,), 2, ["a", "b"], image=False)
    assert figures.image_views(np.zeros((3, 16)), info) is None


def test_predictions_show_the_first_examples_then_errors():
    y = np.zeros(40, dtype=int)
    predicted = np.zeros(40, dtype=int)
    predicted[[3, 20, 25, 30, 31, 32, 33]] = 1  # index 3 is among the first ten anyway
    chosen = plots._pick_examples(y, predicted, 15)
    assert chosen == list(range(10)) + [20, 25, 30, 31, 32]
    no_errors = plots._pick_examples(y, y, 15)
    assert no_errors == list(range(15))
    assert plots._pick_examples(y[:4], predicted[:4], 15) == [0, 1, 2, 3]


def test_one_hot_labels_are_read_as_class_indices():
    assert figures.class_indices(np.eye(3)[[2, 0, 1]]).tolist() == [2, 0, 1]
    assert figures.class_indices(np.array([[1], [0]])).tolist() == [1, 0]


def test_large_images_are_averaged_down_for_display():
    images = np.arange(2 * 130 * 70 * 3, dtype=float).reshape(2, 130, 70, 3)
    small = figures.shrink(images, 64)
    assert small.shape == (2, 43, 23, 3)  # factor 3; the last row and column that fill no block are dropped
    assert small[0, 0, 0, 0] == images[0, :3, :3, 0].mean()
    assert figures.shrink(images[:, :64, :64], 64).shape == (2, 64, 64, 3)
    assert figures.shrink(None, 64) is None


def test_big_colour_images_stay_small_files(tmp_path):
    info = DatasetInfo("photos", (96, 96, 3), 5, list("abcde"), channels=3)
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(96 * 96 * 3, 64))
    assert_png(plots.plot_weights(tmp_path / "w.png", info=info, kernel=kernel))
