"""The PNG pictures of a run (``plots/``): data, curves, confusion matrix, weights, predictions.

Every figure is a plain :class:`matplotlib.figure.Figure` drawn on an Agg
canvas (no display, no pyplot global state, nothing to close) and written
atomically. Nothing here assumes a particular dataset: shapes, class names
and value ranges come from :class:`~zoo_core.data.DatasetInfo`. Inputs that
are not images (``info.image`` false) are drawn as heat strips of their
feature vectors.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from zoo_core.data import DatasetInfo
from zoo_core.files import atomic_path

log = logging.getLogger(__name__)

PLOT_NAMES = ("samples", "curves", "confusion_matrix", "weights", "weight_distributions", "predictions")
"""The plots :func:`write_plots` draws, in order; each becomes ``<name>.png``."""

DPI = 100
MAX_ANNOTATED_CLASSES = 20  # confusion matrix: counts written in the cells up to this many classes
MAX_WEIGHT_UNITS = 64  # weights.png: hidden units shown as images
MAX_WEIGHT_LAYERS = 10  # weight_distributions.png: layers shown
MAX_IMAGE_SIDE = 64  # examples wider or taller than this are averaged down for display (keeps PNGs small)
MAX_WEIGHT_SIDE = 32  # the same for weight tiles
RIGHT, WRONG, NEUTRAL, FRAME = "tab:blue", "tab:red", "#777777", "#999999"


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
    skipped. A plot that fails is logged and skipped too, so one bad picture
    never loses a finished training run; pass ``strict=True`` to raise instead.
    ``metrics`` is the result of :func:`zoo_core.metrics.classification_metrics`
    (its confusion matrix is drawn; it is recomputed from the labels if absent).
    """
    plot_dir = Path(plot_dir)
    jobs: dict[str, Callable[[Path], Path | None]] = {
        "samples": lambda p: plot_samples(p, info=info, x=x_train, y=y_train),
        "curves": lambda p: plot_curves(p, history=history),
        "confusion_matrix": lambda p: plot_confusion_matrix(
            p, matrix=_confusion_matrix(metrics, y_test, probabilities, info.num_classes), class_names=info.class_names
        ),
        "weights": lambda p: plot_weights(p, info=info, kernel=first_layer_weights),
        "weight_distributions": lambda p: plot_weight_distributions(p, weight_history=weight_history),
        "predictions": lambda p: plot_predictions(p, info=info, x=x_test, y=y_test, probabilities=probabilities),
    }
    written: dict[str, Path] = {}
    for name, job in jobs.items():
        try:
            path = job(plot_dir / f"{name}.png")
        except Exception:
            if strict:
                raise
            log.warning("could not draw plot %s", name, exc_info=True)
            continue
        if path is not None:
            written[name] = path
    return written


# --------------------------------------------------------------------------- one function per plot


def plot_samples(path: Path, *, info: DatasetInfo, x: Any, y: Any, count: int = 25) -> Path:
    """A 5x5 grid of the first ``count`` training examples, each titled with its class name.

    Images are drawn in gray (1 channel) or RGB (3 channels) scaled by
    ``info.value_range``; other data as one heat map, a row per example.
    """
    x, y = np.asarray(x[:count]), _labels(y[:count])
    images = _shrink(_image_views(x, info), MAX_IMAGE_SIDE)
    if images is None:
        fig = _vector_samples_figure(x, y, info)
    else:
        fig = _image_grid_figure(images, [_name(info, label) for label in y])
    fig.suptitle(f"{info.name}: training examples", fontsize=12)
    return _save(fig, path)


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
            _note(ax, f"no {metric} recorded")
    if not any(history.get(key) for key in ("val_loss", "val_accuracy")):
        fig.text(0.5, 0.01, "no validation data (validation_split = 0)", ha="center", fontsize=9, color=NEUTRAL)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return _save(fig, path)


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
    labels = [_short(class_names[i]) for i in ticks]
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
    return _save(fig, path)


def plot_weights(
    path: Path, *, info: DatasetInfo, kernel: np.ndarray | None, max_units: int = MAX_WEIGHT_UNITS
) -> Path | None:
    """The first layer's weights; returns ``None`` (nothing written) when ``kernel`` is None.

    A Dense kernel ``(features, units)`` whose features are the pixels of an
    image input is drawn as one image per hidden unit (the first ``max_units``),
    blue negative, red positive (RGB templates for colour images). A
    convolution kernel ``(kh, kw, in, out)`` is drawn as one image per filter.
    Anything else is drawn as a heat map of the kernel matrix.
    """
    if kernel is None:
        return None
    kernel = np.asarray(kernel, dtype=np.float64)
    tiles, title = _weight_tiles(kernel, info, max_units)
    if tiles is None:
        fig = _kernel_heatmap_figure(kernel.reshape(-1, kernel.shape[-1]) if kernel.ndim > 1 else kernel[:, None])
    else:
        fig = _image_grid_figure(tiles, None, cmap="RdBu_r", vrange=(-1.0, 1.0), tile=1.1)
    fig.suptitle(title if tiles is not None else f"first layer kernel {kernel.shape} (features x units)", fontsize=12)
    return _save(fig, path)


def plot_weight_distributions(path: Path, *, weight_history: list[dict[str, np.ndarray]]) -> Path | None:
    """How each layer's kernel weights moved over the epochs; ``None`` if there is no history.

    One row per layer (up to 10): on the left the 5/25/50/75/95 % quantiles
    per epoch (epoch 0 = before training), on the right histograms of the
    weights before training, half way and at the end.
    """
    if not weight_history:
        return None
    layers = list(dict.fromkeys(name for snapshot in weight_history for name in snapshot))[:MAX_WEIGHT_LAYERS]
    if not layers:
        return None
    fig = Figure(figsize=(11, 2.6 * len(layers) + 0.6))
    for row, layer in enumerate(layers):
        epochs = [e for e, snapshot in enumerate(weight_history) if layer in snapshot]
        values = [np.asarray(weight_history[e][layer], dtype=np.float64).reshape(-1) for e in epochs]
        _draw_quantile_bands(fig.add_subplot(len(layers), 2, 2 * row + 1), layer, epochs, values)
        _draw_histograms(fig.add_subplot(len(layers), 2, 2 * row + 2), layer, epochs, values)
    fig.suptitle("Weight distributions over training (epoch 0 = initial weights)", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
    return _save(fig, path)


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
    y = _labels(y)
    chosen = _pick_examples(y, probabilities.argmax(axis=1), rows * cols)
    x_chosen = np.asarray(np.asarray(x)[chosen]) if len(chosen) else np.zeros((0,))
    images = _shrink(_image_views(x_chosen, info), MAX_IMAGE_SIDE) if len(chosen) else None
    value_range = _vector_range(x_chosen, info) if len(chosen) else (0.0, 1.0)
    rows = max(1, math.ceil(len(chosen) / cols))
    fig = Figure(figsize=(4 * cols, 2 * rows + 0.5))
    for slot, index in enumerate(chosen):
        predicted = int(probabilities[index].argmax())
        image_ax = fig.add_subplot(rows, 2 * cols, 2 * slot + 1)
        if images is not None:
            _draw_image(image_ax, images[slot])
        else:
            _draw_vector(image_ax, x_chosen[slot], value_range)
        confidence = 100 * probabilities[index, predicted]
        image_ax.set_xlabel(
            f"{_short(_name(info, predicted))} {confidence:.0f}% ({_short(_name(info, y[index]))})",
            color=RIGHT if predicted == y[index] else WRONG,
            fontsize=9,
        )
        _draw_probability_bars(fig.add_subplot(rows, 2 * cols, 2 * slot + 2), probabilities[index], predicted, y[index])
    if not len(chosen):
        _note(fig.add_subplot(1, 1, 1), "no test examples")
    wrong = int((probabilities.argmax(axis=1) != y).sum()) if len(y) else 0
    fig.suptitle(f"Test predictions ({wrong} of {len(y)} wrong; wrong labels in red)", fontsize=12)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.45 / height, top=1 - 0.6 / height, wspace=0.12, hspace=0.45)
    return _save(fig, path)


# --------------------------------------------------------------------------- turning arrays into pictures


def _image_views(x: np.ndarray, info: DatasetInfo) -> np.ndarray | None:
    """A batch of examples as displayable images in [0, 1]: ``(n, H, W)`` or ``(n, H, W, 3)``.

    ``None`` when the data are not images or cannot be shown as such.
    """
    if not info.image or x.ndim < 2:
        return None
    views = _to_hwc(np.asarray(x, dtype=np.float64), info.channels)
    if views is None:
        return None
    low, high = _vector_range(x, info)
    return np.clip((views - low) / (high - low), 0.0, 1.0)


def _to_hwc(x: np.ndarray, channels: int) -> np.ndarray | None:
    """Batch ``(n, ...)`` → ``(n, H, W)`` (gray) or ``(n, H, W, 3)`` (RGB), or ``None``.

    Accepts ``(n, H, W)``, ``(n, H, W, C)``, channels-first ``(n, C, H, W)`` and
    flattened square images ``(n, H*W*C)``. More than 3 channels are averaged.
    """
    channels = max(1, int(channels or 1))
    if x.ndim == 2:  # flattened: only if it is a square image
        side = math.isqrt(x.shape[1] // channels)
        if side < 2 or side * side * channels != x.shape[1]:
            return None
        x = x.reshape(len(x), side, side, channels)
    if x.ndim == 4 and x.shape[-1] != channels and x.shape[1] == channels:
        x = x.transpose(0, 2, 3, 1)
    if x.ndim == 3:
        return x
    if x.ndim != 4:
        return None
    if x.shape[-1] == 1:
        return x[..., 0]
    if x.shape[-1] in (3, 4):
        return x[..., :3]
    return x.mean(axis=-1)


def _shrink(images: np.ndarray | None, max_side: int) -> np.ndarray | None:
    """Average ``(n, H, W[, 3])`` images down by a whole factor until both sides are <= ``max_side``.

    A display only shows so many pixels: drawing more than that gives noise a
    PNG cannot compress. Trailing rows and columns that do not fill a block
    are dropped.
    """
    if images is None:
        return None
    height, width = images.shape[1:3]
    factor = math.ceil(max(height, width) / max_side)
    if factor <= 1:
        return images
    rows, cols = height // factor, width // factor
    cropped = images[:, : rows * factor, : cols * factor]
    blocks = cropped.reshape(len(images), rows, factor, cols, factor, *images.shape[3:])
    return blocks.mean(axis=(2, 4))


def _vector_range(x: np.ndarray, info: DatasetInfo) -> tuple[float, float]:
    """The value range to scale inputs by: ``info.value_range``, or the data's own if that is unusable."""
    try:
        low, high = (float(v) for v in info.value_range)
    except (TypeError, ValueError):
        low, high = math.nan, math.nan
    if math.isfinite(low) and math.isfinite(high) and high > low:
        return low, high
    finite = np.asarray(x, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0 or finite.max() <= finite.min():
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())


def _weight_tiles(kernel: np.ndarray, info: DatasetInfo, max_units: int) -> tuple[np.ndarray | None, str]:
    """First-layer weights as image tiles scaled to [-1, 1], or ``(None, "")`` if they are not images."""
    if kernel.ndim == 4:  # a convolution kernel (kh, kw, in, out): one tile per filter
        filters = np.moveaxis(kernel, -1, 0)[:max_units]
        tiles = _shrink(filters[..., :3] if filters.shape[-1] == 3 else filters.mean(axis=-1), MAX_WEIGHT_SIDE)
        count = kernel.shape[-1]
        title = f"first layer: {min(count, max_units)} of {count} filters ({kernel.shape[0]}x{kernel.shape[1]})"
        return _symmetric_scale(tiles), title
    if kernel.ndim != 2 or not info.image or kernel.shape[0] != int(np.prod(info.input_shape)):
        return None, ""
    units = kernel.shape[1]
    columns = kernel[:, :max_units].T.reshape(-1, *info.input_shape)
    tiles = _shrink(_to_hwc(columns, info.channels), MAX_WEIGHT_SIDE)
    if tiles is None:
        return None, ""
    shown = f"{max_units} of {units}" if units > max_units else f"all {units}"
    title = f"first Dense layer: weights into {shown} units (blue < 0 < red)"
    return _symmetric_scale(tiles), title


def _symmetric_scale(tiles: np.ndarray) -> np.ndarray:
    """Scale each tile by its own largest absolute weight, to [-1, 1] (RGB tiles then to [0, 1])."""
    axes = tuple(range(1, tiles.ndim))
    peak = np.abs(tiles).max(axis=axes, keepdims=True)
    scaled = np.divide(tiles, peak, out=np.zeros_like(tiles), where=peak > 0)
    return scaled * 0.5 + 0.5 if tiles.ndim == 4 else scaled


def _image_grid_figure(
    images: np.ndarray,
    titles: Sequence[str] | None,
    cmap: str = "gray",
    vrange: tuple[float, float] = (0.0, 1.0),
    tile: float = 2.0,
    gap_colour: str = "white",
) -> Figure:
    """A near-square grid of images, drawn as one montage (fast), with an optional title each."""
    count = max(1, len(images))
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    fig = Figure(figsize=(max(6.0, tile * cols + 0.4), max(3.0, tile * rows + 0.8)))
    ax = fig.add_axes((0.02, 0.02, 0.96, 1 - 0.7 / fig.get_figheight()))
    if not len(images):
        _note(ax, "no examples")
        return fig
    height, width = images.shape[1:3]
    gap_y = math.ceil((0.22 if titles else 0.06) * height) + 1
    gap_x = math.ceil(0.06 * width) + 1
    mosaic = _montage(images, rows, cols, gap_y, gap_x)
    if mosaic.ndim == 3:
        ax.imshow(mosaic, interpolation="nearest")
    else:
        colours = _colormap(cmap, gap_colour)
        ax.imshow(np.ma.masked_invalid(mosaic), cmap=colours, vmin=vrange[0], vmax=vrange[1], interpolation="nearest")
    frames = []
    for index in range(len(images)):
        row, col = divmod(index, cols)
        left, top = col * (width + gap_x) + gap_x - 0.5, row * (height + gap_y) + gap_y - 0.5
        frames.append(Rectangle((left, top), width, height))
        if titles:
            ax.text(left + width / 2, top, _short(titles[index]), ha="center", va="bottom",
                    fontsize=9 if tile >= 1.5 else 7, clip_on=False)
    ax.add_collection(PatchCollection(frames, facecolor="none", edgecolor=FRAME, linewidth=0.6))
    ax.set_axis_off()
    return fig


def _montage(images: np.ndarray, rows: int, cols: int, gap_y: int, gap_x: int) -> np.ndarray:
    """Tile ``(n, H, W[, 3])`` images into one array with gaps around and between them.

    Gaps are NaN for 2-D images (drawn in the colormap's "bad" colour) and
    white for RGB images. Each tile sits below its gap, leaving room for a title.
    """
    height, width = images.shape[1:3]
    shape = (rows * (height + gap_y) + gap_x, cols * (width + gap_x) + gap_x, *images.shape[3:])
    mosaic = np.full(shape, 1.0 if images.ndim == 4 else np.nan)
    for index, image in enumerate(images):
        row, col = divmod(index, cols)
        top, left = row * (height + gap_y) + gap_y, col * (width + gap_x) + gap_x
        mosaic[top : top + height, left : left + width] = image
    return mosaic


def _colormap(name: str, gap_colour: str) -> Any:
    """A copy of a matplotlib colormap whose masked (gap) cells are ``gap_colour``."""
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad=gap_colour)


def _vector_samples_figure(x: np.ndarray, y: np.ndarray, info: DatasetInfo) -> Figure:
    """Non-image examples as one heat map: a row per example, labelled with its class name."""
    vectors = x.reshape(len(x), -1) if len(x) else np.zeros((0, 1))
    fig = Figure(figsize=(10, max(3.0, 0.3 * len(vectors) + 1.5)))
    ax = fig.add_subplot(1, 1, 1)
    if len(vectors):
        low, high = _vector_range(vectors, info)
        image = ax.imshow(vectors, aspect="auto", cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
        fig.colorbar(image, ax=ax, label="value")
        ax.set_yticks(range(len(y)), [_short(_name(info, label)) for label in y], fontsize=8)
        ax.set_xlabel(f"feature (of {vectors.shape[1]})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        _note(ax, "no examples")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def _kernel_heatmap_figure(kernel: np.ndarray) -> Figure:
    """A 2-D kernel (features x units) as a diverging heat map centred on zero."""
    fig = Figure(figsize=(10, 6))
    ax = fig.add_subplot(1, 1, 1)
    peak = float(np.abs(kernel).max()) or 1.0
    image = ax.imshow(kernel, aspect="auto", cmap="RdBu_r", vmin=-peak, vmax=peak, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="weight")
    ax.set_xlabel(f"hidden unit (of {kernel.shape[1]})")
    ax.set_ylabel(f"input feature (of {kernel.shape[0]})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def _draw_image(ax: Any, image: np.ndarray, cmap: str = "gray", vrange: tuple[float, float] = (0.0, 1.0)) -> None:
    """One image without ticks: gray (2-D) through ``cmap``, or RGB as is."""
    if image.ndim == 3:
        ax.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
    else:
        ax.imshow(image, cmap=cmap, vmin=vrange[0], vmax=vrange[1], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_vector(ax: Any, vector: np.ndarray, value_range: tuple[float, float]) -> None:
    """A feature vector as a one-row heat strip without ticks."""
    ax.imshow(np.asarray(vector, dtype=np.float64).reshape(1, -1), aspect="auto", cmap="viridis",
              vmin=value_range[0], vmax=value_range[1], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


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


def _draw_quantile_bands(ax: Any, layer: str, epochs: list[int], values: list[np.ndarray]) -> None:
    """5-95 % and 25-75 % bands and the median of one layer's weights per epoch."""
    q = np.array([np.percentile(v, [5, 25, 50, 75, 95]) if v.size else [np.nan] * 5 for v in values])
    ax.fill_between(epochs, q[:, 0], q[:, 4], alpha=0.2, color="tab:blue", label="5-95 %")
    ax.fill_between(epochs, q[:, 1], q[:, 3], alpha=0.4, color="tab:blue", label="25-75 %")
    ax.plot(epochs, q[:, 2], color="tab:blue", marker="o" if len(epochs) <= 30 else None, markersize=3, label="median")
    ax.set_title(f"{layer} (n = {values[-1].size:,})", fontsize=10)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")


def _draw_histograms(ax: Any, layer: str, epochs: list[int], values: list[np.ndarray]) -> None:
    """Histograms of one layer's weights at the first, middle and last recorded epoch."""
    picks = sorted({0, len(values) // 2, len(values) - 1})
    finite = np.concatenate([values[i][np.isfinite(values[i])] for i in picks])
    if finite.size == 0:
        _note(ax, "no finite weights")
        return
    low, high = np.percentile(finite, [0.5, 99.5])
    bins = np.linspace(low, high if high > low else low + 1.0, int(np.clip(np.sqrt(values[-1].size), 15, 60)) + 1)
    for shade, i in zip(np.linspace(0.35, 1.0, len(picks)), picks):
        ax.hist(values[i], bins=bins, histtype="step", color=(0.1, 0.3, 0.7, shade), label=f"epoch {epochs[i]}")
    ax.set_title(f"{layer}: histogram", fontsize=10)
    ax.set_yticks([])
    ax.legend(fontsize=7)


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
    y_true = _labels(y_true)
    predicted = np.asarray(probabilities).argmax(axis=1)
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (y_true, predicted), 1)
    return matrix


# --------------------------------------------------------------------------- small helpers


def _labels(y: Any) -> np.ndarray:
    """Class indices as a flat int array (one-hot rows are reduced with ``argmax``)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    return y.reshape(-1).astype(int)


def _name(info: DatasetInfo, label: int) -> str:
    """The display name of class ``label`` (its index if the dataset gives no name)."""
    label = int(label)
    return str(info.class_names[label]) if 0 <= label < len(info.class_names) else str(label)


def _short(text: str, limit: int = 16) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for crowded axes."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _longest(labels: Sequence[str]) -> int:
    return max((len(label) for label in labels), default=0)


def _note(ax: Any, text: str) -> None:
    """Write ``text`` in the middle of an empty axes."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=NEUTRAL)
    ax.set_xticks([])
    ax.set_yticks([])


def _save(fig: Figure, path: Path) -> Path:
    """Render ``fig`` to PNG at ``path`` atomically.

    The figure is not registered with pyplot, so it is freed with its last
    reference; nothing needs closing.
    """
    FigureCanvasAgg(fig)
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=DPI)
    return Path(path)
