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
from zoo_core.reporting import figures, plots, vector_plots, weight_plots
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
    "wine-like vectors: named, standardised features": (
        DatasetInfo("wine", (13,), 3, ["cultivar 1", "cultivar 2", "cultivar 3"], image=False,
                    value_range=(-3.0, 3.0), feature_names=[f"feature {i}" for i in range(13)],
                    feature_mean=[10.0 ** (i % 4) for i in range(13)], feature_std=[1.0 + i for i in range(13)]),
        {},
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


# --------------------------------------------------------------------------- every class; feature vectors


WINE = CASES["wine-like vectors: named, standardised features"][0]


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions save, in order, for checking what they show."""
    figures_saved = []
    real = figures.save_png

    def capture(fig, path):
        figures_saved.append(fig)
        return real(fig, path)

    monkeypatch.setattr(plots, "save_png", capture)
    monkeypatch.setattr(weight_plots, "save_png", capture)
    return figures_saved


def tick_labels(ax, axis="x"):
    return [label.get_text() for label in getattr(ax, f"get_{axis}ticklabels")()]


def class_sorted(info, samples=200, seed=0):
    run = make_run(info, samples=samples, seed=seed)
    order = np.argsort(run["y_train"], kind="stable")
    return run["x_train"][order], run["y_train"][order]


def test_pick_per_class_covers_every_class_in_turns_and_is_deterministic():
    y = np.repeat([0, 1, 2], [50, 30, 2])  # sorted by class: the first 25 are all class 0
    chosen = figures.pick_per_class(y, 25)
    assert np.bincount(y[chosen]).tolist() == [12, 11, 2]  # class 2 has only two; the rest share evenly
    assert chosen.tolist()[:3] == [0, 1, 2] and chosen.tolist()[-2:] == [80, 81]  # first ones, grouped by class
    assert figures.pick_per_class(y, 25).tolist() == chosen.tolist()
    assert figures.pick_per_class(np.arange(40) % 40, 25).tolist() == list(range(25))  # more classes than count
    assert figures.pick_per_class(np.eye(3)[[2, 0, 1, 1]], 3).tolist() == [1, 2, 0]  # one-hot labels
    assert figures.pick_per_class(np.zeros(0, dtype=int), 5).tolist() == []


def test_samples_of_class_sorted_images_show_every_class(tmp_path, drawn):
    info = DatasetInfo("mnist", (28, 28), 10, DIGITS)
    x, y = class_sorted(info)
    assert_png(plots.plot_samples(tmp_path / "s.png", info=info, x=x, y=y))
    fig = drawn[-1]
    titles = [text.get_text() for text in fig.axes[0].texts]
    assert len(titles) == 25 and set(titles) == set(DIGITS)
    assert titles == sorted(titles)  # grouped by class
    assert "all 10 classes" in fig._suptitle.get_text()


def test_samples_show_one_of_each_class_when_there_are_more_classes_than_count(tmp_path, drawn):
    info = DatasetInfo("many", (8, 8), 40, [f"c{i}" for i in range(40)])
    x, y = class_sorted(info, samples=400)
    plots.plot_samples(tmp_path / "s.png", info=info, x=x, y=y)
    titles = [text.get_text() for text in drawn[-1].axes[0].texts]
    present = sorted({f"c{label}" for label in y})
    assert sorted(titles) == present


def test_samples_of_feature_vectors_are_a_table_of_named_features_and_classes(tmp_path, drawn):
    x, y = class_sorted(WINE, samples=90)
    assert_png(plots.plot_samples(tmp_path / "s.png", info=WINE, x=x, y=y))
    fig = drawn[-1]
    ax = fig.axes[0]
    assert tick_labels(ax) == WINE.feature_names
    rows = tick_labels(ax, "y")
    assert len(rows) == 25 and set(rows) == set(WINE.class_names) and rows == sorted(rows)
    assert "all 3 classes" in fig._suptitle.get_text()
    assert ax.get_title() == "raw values (before the recorded normalisation)"
    first = np.asarray(x[0], dtype=np.float64) * np.asarray(WINE.feature_std) + np.asarray(WINE.feature_mean)
    cells = [text.get_text() for text in ax.texts]
    assert len(cells) == 25 * 13
    assert cells[:13] == [vector_plots._cell_text(v) for v in first]  # raw units, not model inputs
    assert 980 < float(cells[3]) < 1020  # feature 3: mean 1000, std 4, model inputs within -3..3


def test_softmax_regression_weights_are_named_by_feature_and_class(tmp_path, drawn):
    kernel = np.random.default_rng(4).normal(size=(13, 3))
    history = [{"dense": kernel.ravel()}] * 3  # the only layer with a kernel: its outputs are the classes
    assert weight_plots.outputs_are_classes(kernel, WINE, history)
    run = make_run(WINE)
    run.update(first_layer_weights=kernel, weight_history=history)
    written = plots.write_plots(tmp_path, strict=True, **run)
    assert_png(written["weights"])
    fig = next(f for f in drawn if f._suptitle is not None and "weights (13, 3)" in f._suptitle.get_text())
    ax = fig.axes[0]
    assert tick_labels(ax) == WINE.class_names and ax.get_xlabel() == "class"
    assert tick_labels(ax, "y") == WINE.feature_names
    assert "classes" in fig._suptitle.get_text() and "unit" not in fig._suptitle.get_text()


def test_a_hidden_layer_of_as_many_units_as_classes_stays_hidden_units(tmp_path, drawn):
    kernel = np.random.default_rng(5).normal(size=(13, 3))
    history = [{"dense": kernel.ravel(), "dense_1": np.zeros(9)}]
    assert not weight_plots.outputs_are_classes(kernel, WINE, history)
    assert not weight_plots.outputs_are_classes(kernel, WINE, [])  # no history: zoo cannot tell
    plots.plot_weights(tmp_path / "w.png", info=WINE, kernel=kernel, output_layer=False)
    assert drawn[-1].axes[0].get_xlabel() == "hidden unit (of 3)"


def test_an_image_softmax_regression_has_a_weight_image_per_class(tmp_path, drawn):
    info = CASES["32x32x3 colour"][0]
    kernel = np.random.default_rng(6).normal(size=(32 * 32 * 3, 10))
    assert_png(plots.plot_weights(tmp_path / "w.png", info=info, kernel=kernel, output_layer=True))
    assert [text.get_text() for text in drawn[-1].axes[0].texts] == info.class_names
    assert "each of the 10 classes" in drawn[-1]._suptitle.get_text()


def test_predictions_of_feature_vectors_name_the_classes_and_draw_feature_bars(tmp_path, drawn):
    run = make_run(WINE)
    assert_png(plots.plot_predictions(tmp_path / "p.png", info=WINE, x=run["x_test"], y=run["y_test"],
                                      probabilities=run["probabilities"]))
    axes = drawn[-1].axes
    assert len(axes) == 30
    assert all(tick_labels(ax) == WINE.class_names for ax in axes[1::2])  # probability bars: class names
    assert all(len(ax.patches) == 13 and not ax.images for ax in axes[0::2])  # a bar per feature, no colour strip
    assert all(ax.get_xlabel().split(" ")[0] == "cultivar" for ax in axes[0::2])


def test_thousands_of_features_draw_a_bounded_evenly_spaced_sample(tmp_path, drawn):
    """5,000 features (20,000 took over 90 s, a bar each in every prediction panel): 100 drawn, numbered right."""
    count = 5000
    info = DatasetInfo("wide", (count,), 3, ["a", "b", "c"], image=False, value_range=(-3.0, 3.0),
                       feature_names=[f"f{index}" for index in range(count)])
    run = make_run(info, samples=30)
    plots.plot_samples(tmp_path / "s.png", info=info, x=run["x_train"], y=run["y_train"])
    ax = drawn[-1].axes[0]
    assert ax.images[0].get_array().shape[1] == 100
    assert "100 of 5,000 features drawn, evenly spaced" in ax.get_xlabel()
    shown = vector_plots.plotted_features(count)
    assert len(shown) == vector_plots.MAX_PLOTTED_FEATURES == 100 and shown[0] == 0 and shown[-1] == count - 1
    numbers = [int(text) for text in tick_labels(ax) if text]
    assert numbers and set(numbers) <= set(shown.tolist())  # ticks name the features' numbers, not positions
    plots.plot_predictions(tmp_path / "p.png", info=info, x=run["x_test"], y=run["y_test"],
                           probabilities=run["probabilities"])
    assert all(len(ax.patches) == 100 for ax in drawn[-1].axes[0::2])
    assert "100 of 5,000 features drawn" in drawn[-1]._suptitle.get_text()


def test_predictions_of_images_are_unchanged(tmp_path, drawn):
    info = CASES["32x32x3 colour"][0]
    run = make_run(info)
    plots.plot_predictions(tmp_path / "p.png", info=info, x=run["x_test"], y=run["y_test"],
                           probabilities=run["probabilities"])
    axes = drawn[-1].axes
    assert all(ax.images for ax in axes[0::2])
    assert all(tick_labels(ax) == [str(i) for i in range(10)] for ax in axes[1::2])  # class numbers, as before


def test_table_cells_are_short():
    assert [vector_plots._cell_text(v) for v in (1234.5, 13.24, -0.3943, -0.000625, 0.0, 2e-5)] == [
        "1234", "13.2", "-0.394", "-0.00063", "0", "2e-05"]
