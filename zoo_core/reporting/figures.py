"""Drawing helpers shared by the plots: arrays into displayable images, image grids, labels, saving.

Every figure is a plain :class:`matplotlib.figure.Figure` drawn on an Agg
canvas (no display, no pyplot global state, nothing to close) and written
atomically by :func:`save_png`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from zoo_core.data import DatasetInfo
from zoo_core.files import atomic_path

DPI = 100
MAX_IMAGE_SIDE = 64  # examples wider or taller than this are averaged down for display (keeps PNGs small)
RIGHT, WRONG, NEUTRAL, FRAME = "tab:blue", "tab:red", "#777777", "#999999"


# --------------------------------------------------------------------------- turning arrays into pictures


def image_views(x: np.ndarray, info: DatasetInfo) -> np.ndarray | None:
    """A batch of examples as displayable images in [0, 1]: ``(n, H, W)`` or ``(n, H, W, 3)``.

    ``None`` when the data are not images or cannot be shown as such.
    """
    if not info.image or x.ndim < 2:
        return None
    views = to_hwc(np.asarray(x, dtype=np.float64), info.channels)
    if views is None:
        return None
    low, high = display_range(x, info)
    return np.clip((views - low) / (high - low), 0.0, 1.0)


def to_hwc(x: np.ndarray, channels: int) -> np.ndarray | None:
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


def shrink(images: np.ndarray | None, max_side: int) -> np.ndarray | None:
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


def display_range(x: np.ndarray, info: DatasetInfo) -> tuple[float, float]:
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


# --------------------------------------------------------------------------- figures and axes


def image_grid_figure(
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
        note(ax, "no examples")
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
            ax.text(left + width / 2, top, shorten(titles[index]), ha="center", va="bottom",
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


def draw_image(ax: Any, image: np.ndarray, cmap: str = "gray", vrange: tuple[float, float] = (0.0, 1.0)) -> None:
    """One image without ticks: gray (2-D) through ``cmap``, or RGB as is."""
    if image.ndim == 3:
        ax.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
    else:
        ax.imshow(image, cmap=cmap, vmin=vrange[0], vmax=vrange[1], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def note(ax: Any, text: str) -> None:
    """Write ``text`` in the middle of an empty axes."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=NEUTRAL)
    ax.set_xticks([])
    ax.set_yticks([])


def save_png(fig: Figure, path: Path) -> Path:
    """Render ``fig`` to PNG at ``path`` atomically.

    The figure is not registered with pyplot, so it is freed with its last
    reference; nothing needs closing.
    """
    FigureCanvasAgg(fig)
    with atomic_path(path) as temporary:
        fig.savefig(temporary, format="png", dpi=DPI)
    return Path(path)


# --------------------------------------------------------------------------- labels


def class_indices(y: Any) -> np.ndarray:
    """Class indices as a flat int array (one-hot rows are reduced with ``argmax``)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    return y.reshape(-1).astype(int)


def pick_per_class(y: Any, count: int) -> np.ndarray:
    """Indices of up to ``count`` examples that cover every class present, grouped by class.

    Deterministic: each class gives its first examples in data order, one
    class after another in turns, so class-sorted data shows every class and
    the classes get equal shares (when they have enough examples). With more
    classes than ``count``, the first ``count`` classes get one each.
    """
    labels = class_indices(y)
    order = np.argsort(labels, kind="stable")  # by class, data order within a class
    classes, starts, sizes = np.unique(labels[order], return_index=True, return_counts=True)
    share = np.zeros(len(classes), dtype=int)
    remaining = min(int(count), len(labels))
    while remaining > 0:
        open_classes = np.flatnonzero(share < sizes)
        for index in open_classes[:remaining]:
            share[index] += 1
        remaining -= min(remaining, len(open_classes))
    return np.concatenate([order[start:start + taken] for start, taken in zip(starts, share)]
                          or [np.zeros(0, dtype=int)]).astype(int)


def class_name(info: DatasetInfo, label: int) -> str:
    """The display name of class ``label`` (its index if the dataset gives no name)."""
    label = int(label)
    return str(info.class_names[label]) if 0 <= label < len(info.class_names) else str(label)


def shorten(text: str, limit: int = 16) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for crowded axes."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
