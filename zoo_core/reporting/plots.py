"""The PNG pictures of a run (``plots/``): the one :data:`PLOTS` table, :func:`write_plots` and the plots.

Every figure is a plain :class:`matplotlib.figure.Figure` (no pyplot global
state), written atomically. Nothing assumes a particular dataset: shapes,
class names and value ranges come from :class:`~zoo_core.data.DatasetInfo`;
feature vectors (``info.image`` false) are drawn as tables and bar charts with
feature and class names (:mod:`.vector_plots`). Shared helpers are in
:mod:`.figures`, the weight plots in :mod:`.weight_plots`.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zoo_core._util.text import error_line
from zoo_core.data import DatasetInfo
from zoo_core.reporting.figures import (
    MAX_IMAGE_SIDE,
    NEUTRAL,
    RIGHT,
    WRONG,
    class_indices,
    class_name,
    display_range,
    draw_image,
    image_grid_figure,
    image_views,
    note,
    pick_per_class,
    save_png,
    shorten,
    shrink,
)
from zoo_core.reporting.vector_plots import draw_feature_bars, name_class_bars, sampled_note, vector_samples_figure
from zoo_core.reporting.weight_plots import outputs_are_classes, plot_weight_distributions, plot_weights

log = logging.getLogger(__name__)

MAX_ANNOTATED_CLASSES = 20  # confusion matrix: counts written in the cells up to this many classes
MAX_SAMPLE_CLASSES = 100  # samples plot: shows up to this many classes (more examples than ``count`` if needed)


# --------------------------------------------------------------------------- the table of plots


@dataclass(frozen=True)
class PlotInputs:
    """Everything a run hands to its plots: the keyword arguments of :func:`write_plots`."""

    info: DatasetInfo
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    probabilities: Any
    history: dict[str, list[float]]
    first_layer_weights: np.ndarray | None
    weight_history: list[dict[str, np.ndarray]]
    metrics: dict[str, Any]


@dataclass(frozen=True)
class Plot:
    """One picture of a run and the caption that heads it in report.md.

    ``draw(path, inputs)`` writes the PNG and returns its path, or ``None`` when there is nothing to show.
    """

    draw: Callable[[Path, PlotInputs], Path | None]
    caption: str


def _draw_samples(path: Path, run: PlotInputs) -> Path:
    return plot_samples(path, info=run.info, x=run.x_train, y=run.y_train)


def _draw_curves(path: Path, run: PlotInputs) -> Path:
    return plot_curves(path, history=run.history)


def _draw_confusion_matrix(path: Path, run: PlotInputs) -> Path:
    matrix = _confusion_matrix(run.metrics, run.y_test, run.probabilities, run.info.num_classes)
    return plot_confusion_matrix(path, matrix=matrix, class_names=run.info.class_names)


def _draw_weights(path: Path, run: PlotInputs) -> Path | None:
    return plot_weights(path, info=run.info, kernel=run.first_layer_weights,
                        output_layer=outputs_are_classes(run.first_layer_weights, run.info, run.weight_history))


def _draw_weight_distributions(path: Path, run: PlotInputs) -> Path | None:
    return plot_weight_distributions(path, weight_history=run.weight_history)


def _draw_predictions(path: Path, run: PlotInputs) -> Path:
    return plot_predictions(path, info=run.info, x=run.x_test, y=run.y_test, probabilities=run.probabilities)


PLOTS: dict[str, Plot] = {
    "samples": Plot(_draw_samples, "Training examples"),
    "curves": Plot(_draw_curves, "Loss and accuracy per epoch"),
    "confusion_matrix": Plot(_draw_confusion_matrix, "Confusion matrix (test set)"),
    "weights": Plot(_draw_weights, "First layer weights"),
    "weight_distributions": Plot(_draw_weight_distributions, "Weight distributions over training"),
    "predictions": Plot(_draw_predictions, "Test predictions (wrong ones in red)"),
}
"""Every plot of a run, in order: ``<name>.png`` for :func:`write_plots`, captions and order for report.md."""

PLOT_NAMES = tuple(PLOTS)
"""The plots :func:`write_plots` draws, in order; each becomes ``<name>.png``."""


# --------------------------------------------------------------------------- entry point


def write_plots(
    plot_dir: Path,
    *,
    info: DatasetInfo,
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    probabilities: Any,
    history: dict[str, list[float]],
    first_layer_weights: np.ndarray | None,
    weight_history: list[dict[str, np.ndarray]],
    metrics: dict[str, Any],
    strict: bool = False,
) -> dict[str, Path]:
    """Draw every plot of a run into ``plot_dir`` and return ``{name: path}`` of those written.

    A plot with nothing to show (no first-layer weights, no weight history) is
    skipped. A plot that fails is logged in one line (which plot, why; the
    traceback only with ``ZOO_DEBUG=1``) and skipped too, so one bad picture
    never loses a finished training run; pass ``strict=True`` to raise instead.
    ``metrics`` is the result of :func:`zoo_core.reporting.metrics.classification_metrics`
    (its confusion matrix is drawn; it is recomputed from the labels if absent).
    """
    plot_dir = Path(plot_dir)
    run = PlotInputs(
        info=info, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, probabilities=probabilities,
        history=history, first_layer_weights=first_layer_weights, weight_history=weight_history, metrics=metrics,
    )
    written: dict[str, Path] = {}
    for name, plot in PLOTS.items():
        try:
            path = plot.draw(plot_dir / f"{name}.png", run)
        except Exception as error:  # noqa: BLE001 - one bad picture never loses a finished run
            if strict:
                raise
            # One line: which plot and why; the traceback only when asked for (--debug, ZOO_DEBUG=1).
            log.warning("could not draw the %s plot (%s): %s: %s", name, f"{name}.png", type(error).__name__,
                        error_line(error), exc_info=bool(os.environ.get("ZOO_DEBUG")))
            continue
        if path is not None:
            written[name] = path
    return written


# --------------------------------------------------------------------------- one function per plot


def plot_samples(path: Path, *, info: DatasetInfo, x: Any, y: Any, count: int = 25) -> Path:
    """About ``count`` training examples of every class, grouped by class, each labelled with its class name.

    Examples are picked per class (:func:`~.figures.pick_per_class`: the
    first ones of each class, in turns), so class-sorted data still shows
    every class; with more classes than ``count``, one example each of up to
    100 classes. Images are drawn in gray (1 channel) or RGB (3 channels)
    scaled by ``info.value_range``; feature vectors as a table (a row per
    example, a column per feature).
    """
    labels = class_indices(y)
    chosen = pick_per_class(labels, max(count, min(info.num_classes, MAX_SAMPLE_CLASSES)))
    x, y = np.asarray(_indexable(x)[chosen]), labels[chosen]
    images = shrink(image_views(x, info), MAX_IMAGE_SIDE)
    if images is None:
        fig = vector_samples_figure(x, y, info)
    else:
        fig = image_grid_figure(images, [class_name(info, label) for label in y])
    shown, present = len(np.unique(y)), len(np.unique(labels))
    classes = f"{shown} of {present} classes" if shown < present else "both classes" if shown == 2 else f"all {shown} classes"
    fig.suptitle(f"{info.name}: training examples ({classes})", fontsize=12)
    return save_png(fig, path)


def plot_curves(path: Path, *, history: dict[str, Sequence[float]]) -> Path:
    """Loss and accuracy per epoch (1..N), training solid and validation dashed when recorded."""
    fig = Figure(figsize=(11, 4.2))
    for index, metric in enumerate(("loss", "accuracy")):
        ax = fig.add_subplot(1, 2, index + 1)
        drawn = False
        for key, label, style in ((metric, "training", "-"), (f"val_{metric}", "validation", "--")):
            values = [float(v) for v in history.get(key) or []]
            if values:
                epochs = range(1, len(values) + 1)
                ax.plot(epochs, values, style, marker="o" if len(values) <= 30 else None, markersize=4, label=label)
                drawn = True
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend()
        else:
            note(ax, f"no {metric} recorded")
    if not any(history.get(key) for key in ("val_loss", "val_accuracy")):
        fig.text(0.5, 0.01, "no validation data (validation_split = 0)", ha="center", fontsize=9, color=NEUTRAL)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return save_png(fig, path)


def plot_confusion_matrix(path: Path, *, matrix: Any, class_names: Sequence[str]) -> Path:
    """The confusion matrix (rows = true class, columns = predicted), coloured by row fraction.

    Counts are written in the cells for up to 20 classes; beyond that only the
    colours are drawn and tick labels are thinned out.
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    classes = len(matrix)
    side = min(16.0, max(5.0, 0.45 * classes + 2.5))
    fig = Figure(figsize=(side + 1.2, side))
    ax = fig.add_subplot(1, 1, 1)
    totals = matrix.sum(axis=1, keepdims=True)
    fraction = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    image = ax.imshow(fraction, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ticks = np.arange(0, classes, max(1, math.ceil(classes / 40)))
    labels = [shorten(class_names[i]) for i in ticks]
    fontsize = 9 if classes <= 20 else 7
    ax.set_xticks(ticks, labels, rotation=90 if classes > 10 or _longest(labels) > 6 else 0, fontsize=fontsize)
    ax.set_yticks(ticks, labels, fontsize=fontsize)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if classes <= MAX_ANNOTATED_CLASSES:
        for (row, col), count in np.ndenumerate(matrix):
            colour = "white" if fraction[row, col] > 0.5 else "black"
            ax.text(col, row, str(count), ha="center", va="center", fontsize=8 if classes > 12 else 9, color=colour)
    correct = int(np.trace(matrix))
    total = int(matrix.sum())
    ax.set_title(f"Confusion matrix: {correct} of {total} test examples right ({correct / max(total, 1):.2%})")
    fig.tight_layout()
    return save_png(fig, path)


def plot_predictions(
    path: Path, *, info: DatasetInfo, x: Any, y: Any, probabilities: Any, rows: int = 5, cols: int = 3
) -> Path:
    """Test examples with predicted class, confidence and true class, beside their probability bars.

    As the TensorFlow tutorial's ``plot_image`` / ``plot_value_array``: the
    label is blue when right and red when wrong; the predicted bar is red and
    the true bar blue (a right prediction shows one blue bar). Shows the first
    ``rows * cols - 5`` examples plus up to 5 wrong ones from the rest.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    y = class_indices(y)
    chosen = _pick_examples(y, probabilities.argmax(axis=1), rows * cols)
    x_chosen = np.asarray(_indexable(x)[chosen]) if len(chosen) else np.zeros((0,))
    images = shrink(image_views(x_chosen, info), MAX_IMAGE_SIDE) if len(chosen) else None
    value_range = display_range(x_chosen, info) if len(chosen) else (0.0, 1.0)
    rows = max(1, math.ceil(len(chosen) / cols))
    fig = Figure(figsize=(4 * cols, 2 * rows + 0.5))
    for slot, index in enumerate(chosen):
        predicted = int(probabilities[index].argmax())
        image_ax = fig.add_subplot(rows, 2 * cols, 2 * slot + 1)
        if images is not None:
            draw_image(image_ax, images[slot])
        else:
            draw_feature_bars(image_ax, x_chosen[slot], value_range)
        confidence = 100 * probabilities[index, predicted]
        image_ax.set_xlabel(
            f"{shorten(class_name(info, predicted))} {confidence:.0f}% ({shorten(class_name(info, y[index]))})",
            color=RIGHT if predicted == y[index] else WRONG,
            fontsize=9,
        )
        bars_ax = fig.add_subplot(rows, 2 * cols, 2 * slot + 2)
        _draw_probability_bars(bars_ax, probabilities[index], predicted, y[index])
        if images is None:
            name_class_bars(bars_ax, info, probabilities.shape[1])
    if not len(chosen):
        note(fig.add_subplot(1, 1, 1), "no test examples")
    wrong = int((probabilities.argmax(axis=1) != y).sum()) if len(y) else 0
    sampled = sampled_note(x_chosen[0].size) if images is None and len(chosen) else ""
    fig.suptitle(f"Test predictions ({wrong} of {len(y)} wrong; wrong labels in red{'; ' if sampled else ''}"
                 f"{sampled})", fontsize=12)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.45 / height, top=1 - 0.6 / height,
                        wspace=0.12 if images is not None else 0.3, hspace=0.45 if images is not None else 0.6)
    return save_png(fig, path)


# --------------------------------------------------------------------------- pieces


def _draw_probability_bars(ax: Any, probabilities: np.ndarray, predicted: int, true: int) -> None:
    """The tutorial's ``plot_value_array``: gray bars, predicted red, true blue."""
    classes = len(probabilities)
    bars = ax.bar(range(classes), probabilities, color=NEUTRAL)
    bars[predicted].set_color(WRONG)
    bars[true].set_color(RIGHT)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xticks(range(classes) if classes <= 10 else [])
    ax.tick_params(axis="x", labelsize=7)


def _pick_examples(y: np.ndarray, predicted: np.ndarray, count: int, errors: int = 5) -> list[int]:
    """The first ``count - errors`` examples, then up to ``errors`` wrong ones after them, then more in order."""
    first = list(range(min(len(y), max(0, count - errors))))
    wrong = [int(i) for i in np.flatnonzero(predicted != y) if i >= len(first)][:errors]
    chosen, taken = first + wrong, set(wrong)
    extra = (i for i in range(len(first), len(y)) if i not in taken)
    while len(chosen) < min(count, len(y)):
        chosen.append(next(extra))
    return chosen


def _confusion_matrix(metrics: dict[str, Any] | None, y_true: Any, probabilities: Any, classes: int) -> np.ndarray:
    """``metrics["confusion_matrix"]`` if present, otherwise computed from labels and probabilities."""
    if metrics and metrics.get("confusion_matrix") is not None:
        return np.asarray(metrics["confusion_matrix"], dtype=np.int64)
    y_true = class_indices(y_true)
    predicted = np.asarray(probabilities).argmax(axis=1)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (y_true, predicted), 1)
    return matrix


def _longest(labels: Sequence[str]) -> int:
    """The length of the longest label (0 for none)."""
    return max((len(label) for label in labels), default=0)


def _indexable(x: Any) -> Any:
    """``x`` as it can be indexed by an array of indices: an array or a streamed set's view (zoo_core.data.Examples,
    which then decodes only the examples picked) as it is, anything else as a numpy array."""
    return x if hasattr(x, "shape") and hasattr(x, "__getitem__") else np.asarray(x)
