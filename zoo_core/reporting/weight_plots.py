"""The weight plots of a run: ``weights.png`` (the first layer) and ``weight_distributions.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zoo_core.data import DatasetInfo
from zoo_core.reporting.figures import class_name, image_grid_figure, note, save_png, shrink, to_hwc
from zoo_core.reporting.vector_plots import feature_labels, name_axis

MAX_WEIGHT_UNITS = 64  # weights.png: hidden units shown as images
MAX_WEIGHT_LAYERS = 10  # weight_distributions.png: layers shown
MAX_WEIGHT_SIDE = 32  # weight tiles wider or taller than this are averaged down for display
MAX_ANNOTATED_COLUMNS = 16  # kernel heat map: weights written in the cells up to this many units...
MAX_ANNOTATED_ROWS = 40  # ...and this many input features


def plot_weights(
    path: Path, *, info: DatasetInfo, kernel: np.ndarray | None, max_units: int = MAX_WEIGHT_UNITS,
    output_layer: bool = False,
) -> Path | None:
    """The first layer's weights; returns ``None`` (nothing written) when ``kernel`` is None.

    A Dense kernel ``(features, units)`` whose features are the pixels of an
    image input is drawn as one image per hidden unit (the first ``max_units``),
    blue negative, red positive (RGB templates for colour images). A
    convolution kernel ``(kh, kw, in, out)`` is drawn as one image per filter.
    Anything else is drawn as a heat map of the kernel matrix, its rows named
    by ``info.feature_names`` for feature vectors.

    ``output_layer``: the layer is also the model's last (e.g. a softmax
    regression), so its units are the classes: tiles and columns are named
    by class (see :func:`outputs_are_classes`).
    """
    if kernel is None:
        return None
    kernel = np.asarray(kernel, dtype=np.float64)
    output_layer = output_layer and kernel.ndim == 2 and kernel.shape[1] == info.num_classes
    tiles, title = _weight_tiles(kernel, info, max_units, output_layer)
    if tiles is None:
        matrix = kernel.reshape(-1, kernel.shape[-1]) if kernel.ndim > 1 else kernel[:, None]
        fig = _kernel_heatmap_figure(matrix, info, output_layer)
        title = (f"output layer weights {kernel.shape} (input features x classes)" if output_layer
                 else f"first layer kernel {kernel.shape} (features x units)")
    else:
        titles = [class_name(info, unit) for unit in range(len(tiles))] if output_layer else None
        fig = image_grid_figure(tiles, titles, cmap="RdBu_r", vrange=(-1.0, 1.0), tile=1.1 if titles is None else 1.6)
    fig.suptitle(title, fontsize=12)
    return save_png(fig, path)


def outputs_are_classes(kernel: np.ndarray | None, info: DatasetInfo, weight_history: list[dict[str, Any]]) -> bool:
    """Whether the first layer with a kernel is the model's only one, so its outputs are the classes.

    ``weight_history`` (snapshots of every layer's kernel, as a run records
    them) tells how many layers have kernels; without it zoo cannot tell, and
    says "units".
    """
    layers = {name for snapshot in weight_history or [] for name in snapshot}
    return (kernel is not None and np.ndim(kernel) == 2 and np.shape(kernel)[1] == info.num_classes
            and len(layers) == 1)


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
    return save_png(fig, path)


# --------------------------------------------------------------------------- pieces


def _weight_tiles(kernel: np.ndarray, info: DatasetInfo, max_units: int,
                  output_layer: bool = False) -> tuple[np.ndarray | None, str]:
    """First-layer weights as image tiles scaled to [-1, 1], or ``(None, "")`` if they are not images."""
    if kernel.ndim == 4:  # a convolution kernel (kh, kw, in, out): one tile per filter
        filters = np.moveaxis(kernel, -1, 0)[:max_units]
        tiles = shrink(filters[..., :3] if filters.shape[-1] == 3 else filters.mean(axis=-1), MAX_WEIGHT_SIDE)
        count = kernel.shape[-1]
        title = f"first layer: {min(count, max_units)} of {count} filters ({kernel.shape[0]}x{kernel.shape[1]})"
        return _symmetric_scale(tiles), title
    if kernel.ndim != 2 or not info.image or kernel.shape[0] != int(np.prod(info.input_shape)):
        return None, ""
    units = kernel.shape[1]
    columns = kernel[:, :max_units].T.reshape(-1, *info.input_shape)
    tiles = shrink(to_hwc(columns, info.channels), MAX_WEIGHT_SIDE)
    if tiles is None:
        return None, ""
    shown = f"{max_units} of {units}" if units > max_units else f"all {units}"
    title = (f"Dense output layer: weights into each of the {units} classes (blue < 0 < red)" if output_layer
             else f"first Dense layer: weights into {shown} units (blue < 0 < red)")
    return _symmetric_scale(tiles), title


def _symmetric_scale(tiles: np.ndarray) -> np.ndarray:
    """Scale each tile by its own largest absolute weight, to [-1, 1] (RGB tiles then to [0, 1])."""
    axes = tuple(range(1, tiles.ndim))
    peak = np.abs(tiles).max(axis=axes, keepdims=True)
    scaled = np.divide(tiles, peak, out=np.zeros_like(tiles), where=peak > 0)
    return scaled * 0.5 + 0.5 if tiles.ndim == 4 else scaled


def _kernel_heatmap_figure(kernel: np.ndarray, info: DatasetInfo, output_layer: bool) -> Figure:
    """A 2-D kernel (features x units) as a diverging heat map centred on zero.

    Rows are named by ``info.feature_names`` when they are a feature-vector
    input's features; columns by class name for an output layer. Small
    kernels have their weights written in the cells.
    """
    rows, cols = kernel.shape
    fig = Figure(figsize=(min(14.0, max(7.0, 0.9 * cols + 4.0)) if cols <= 40 else 10.0,
                          min(14.0, max(4.5, 0.32 * rows + 1.8)) if rows <= 40 else 6.0))
    ax = fig.add_subplot(1, 1, 1)
    peak = float(np.abs(kernel).max()) or 1.0
    image = ax.imshow(kernel, aspect="auto", cmap="RdBu_r", vmin=-peak, vmax=peak, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="weight")
    if output_layer:
        name_axis(ax, "x", [class_name(info, index) for index in range(cols)], f"class (of {cols})", rotation=30)
    else:
        ax.set_xlabel(f"hidden unit (of {cols})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not info.image and rows == int(np.prod(info.input_shape)) and info.feature_names:
        name_axis(ax, "y", feature_labels(info, rows), f"input feature (of {rows})")
    else:
        ax.set_ylabel(f"input feature (of {rows})")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if cols <= MAX_ANNOTATED_COLUMNS and rows <= MAX_ANNOTATED_ROWS:
        for (row, col), weight in np.ndenumerate(kernel):
            ax.text(col, row, f"{weight:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(weight) > 0.6 * peak else "black")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


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
        note(ax, "no finite weights")
        return
    low, high = np.percentile(finite, [0.5, 99.5])
    bins = np.linspace(low, high if high > low else low + 1.0, int(np.clip(np.sqrt(values[-1].size), 15, 60)) + 1)
    for shade, i in zip(np.linspace(0.35, 1.0, len(picks)), picks):
        ax.hist(values[i], bins=bins, histtype="step", color=(0.1, 0.3, 0.7, shade), label=f"epoch {epochs[i]}")
    ax.set_title(f"{layer}: histogram", fontsize=10)
    ax.set_yticks([])
    ax.legend(fontsize=7)
