"""Figures for feature-vector data (``info.image`` false): a table of examples, feature bars, named axes.

Images are drawn by :mod:`.plots` and :mod:`.figures`; these pieces take over
where a picture of the data would be a meaningless colour strip.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from zoo_core.data import DatasetInfo
from zoo_core.reporting.figures import FRAME, NEUTRAL, class_name, note, shorten

MAX_TABLE_TEXT_FEATURES = 24  # samples table: values written in the cells up to this many features
MAX_NAMED_TICKS = 40  # feature or class names on an axis up to this many, else numbered ticks
Z_LIMIT = 2.5  # samples table: colours saturate this many standard deviations from a feature's mean
MAX_PLOTTED_FEATURES = 100  # samples table and feature bars: beyond this many features, this many evenly spaced


def plotted_features(count: int, limit: int = MAX_PLOTTED_FEATURES) -> np.ndarray:
    """The indices of the features a figure draws: every one up to ``limit``, else ``limit`` evenly spaced ones
    (the first and the last among them), so 20,000 features draw as fast as 100."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(np.int64))


def sampled_note(count: int, limit: int = MAX_PLOTTED_FEATURES) -> str:
    """'100 of 5,000 features drawn, evenly spaced' when a figure draws a sample of ``count`` features, else ''."""
    return f"{len(plotted_features(count, limit))} of {count:,} features drawn, evenly spaced" if count > limit else ""


def feature_labels(info: DatasetInfo, count: int) -> list[str]:
    """A label per feature: ``info.feature_names`` when they fit, else ``f0``, ``f1``..."""
    names = list(info.feature_names or [])
    return [str(name) for name in names] if len(names) == count else [f"f{index}" for index in range(count)]


def raw_features(vectors: np.ndarray, info: DatasetInfo) -> tuple[np.ndarray, bool]:
    """``vectors`` (model inputs) back in raw units, and whether they changed (the inverse of normalisation).

    Undoes :meth:`DatasetInfo.normalise` along the last axis: ``x * std +
    mean``, then ``(value - offset) / scale``.
    """
    values = np.asarray(vectors, dtype=np.float64)
    mean, std = info.feature_mean, info.feature_std
    scale, offset = float(info.scale or 1.0), float(info.offset or 0.0)
    changed = False
    if mean is not None and std is not None and len(mean) == values.shape[-1] == len(std):
        values = values * np.asarray(std, dtype=np.float64) + np.asarray(mean, dtype=np.float64)
        changed = True
    if scale != 1.0 or offset != 0.0:
        values = (values - offset) / scale
        changed = True
    return values, changed


def vector_samples_figure(x: np.ndarray, y: np.ndarray, info: DatasetInfo) -> Figure:
    """Feature vectors as a table: a row per example (its class name), a column per feature (its name).

    Cells hold the raw values (before the recorded normalisation) when there
    are few enough features, coloured by how far each lies from its feature's
    mean over the rows shown (blue below, red above), so features of very
    different scales read alike. Rows are grouped by class, separated by lines.
    """
    vectors = x.reshape(len(x), -1) if len(x) else np.zeros((0, 1))
    shown = plotted_features(vectors.shape[1])
    features = len(shown)
    fig = Figure(figsize=(min(16.0, max(7.0, 0.8 * features + 3.0)), min(20.0, max(3.5, 0.3 * len(vectors) + 2.2))))
    ax = fig.add_subplot(1, 1, 1)
    if not len(vectors):
        note(ax, "no examples")
        return fig
    values, raw = raw_features(vectors, info)
    values = values[:, shown]
    spread = values.std(axis=0)
    z = np.divide(values - values.mean(axis=0), spread, out=np.zeros_like(values), where=spread > 0)
    image = ax.imshow(np.clip(z, -Z_LIMIT, Z_LIMIT), aspect="auto", cmap="RdBu_r", vmin=-Z_LIMIT, vmax=Z_LIMIT,
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="below / above the feature's mean (std)")
    if features <= MAX_TABLE_TEXT_FEATURES and len(values) <= 60:
        for (row, col), value in np.ndenumerate(values):
            ax.text(col, row, _cell_text(value), ha="center", va="center", fontsize=7,
                    color="white" if abs(z[row, col]) > 1.6 else "black")
    count = vectors.shape[1]
    names = feature_labels(info, count)
    name_axis(ax, "x", [names[index] for index in shown], f"feature ({sampled_note(count) or f'of {count}'})",
              rotation=45, numbers=shown)
    ax.set_yticks(range(len(y)), [shorten(class_name(info, label)) for label in y], fontsize=8)
    for row in np.flatnonzero(np.diff(y)):  # a line between classes
        ax.axhline(row + 0.5, color=FRAME, linewidth=1.2)
    ax.set_ylabel("class")
    ax.set_title("raw values (before the recorded normalisation)" if raw else "values as the model takes them",
                 fontsize=9, color=NEUTRAL)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def _cell_text(value: float) -> str:
    """A table cell: whole numbers from 100 on, 3 significant digits down to 0.01, 2 below."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


def name_axis(ax: Any, axis: str, names: Sequence[str], fallback: str, rotation: int = 0,
              numbers: Sequence[int] | None = None) -> None:
    """Tick every position of ``axis`` ("x" or "y") with ``names``, or number them when there are too many (by
    ``numbers[position]`` if given: the feature numbers of a sample)."""
    set_label = ax.set_xlabel if axis == "x" else ax.set_ylabel
    if len(names) <= MAX_NAMED_TICKS:
        labels = [shorten(name, 14) for name in names]
        if axis == "x":
            ax.set_xticks(range(len(names)), labels, rotation=rotation if max(map(len, labels), default=0) > 3 else 0,
                          ha="right" if rotation and max(map(len, labels), default=0) > 3 else "center", fontsize=8)
        else:
            ax.set_yticks(range(len(names)), labels, fontsize=8)
        set_label(fallback.split(" (")[0])
        return
    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True))
    if numbers is not None:
        getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(
            lambda value, _: str(numbers[int(round(value))]) if 0 <= round(value) < len(numbers) else ""))
    set_label(fallback)


def draw_feature_bars(ax: Any, vector: np.ndarray, value_range: tuple[float, float]) -> None:
    """One example's features as bars around zero (model inputs), on the y range ``value_range``; beyond
    MAX_PLOTTED_FEATURES, evenly spaced ones (:func:`plotted_features`)."""
    values = np.asarray(vector, dtype=np.float64).reshape(-1)
    values = values[plotted_features(len(values))]
    low, high = value_range
    colours = np.where(values >= 0, "tab:red", "tab:blue")
    ax.bar(range(len(values)), values, color=colours, width=0.8)
    ax.axhline(0.0, color=NEUTRAL, linewidth=0.6)
    ax.set_ylim(min(low, 0.0), max(high, 0.0))
    ax.set_xlim(-0.6, len(values) - 0.4)
    ax.set_xticks([])
    ax.tick_params(axis="y", labelsize=6)


def name_class_bars(ax: Any, info: DatasetInfo, classes: int) -> None:
    """Label probability bars with class names (up to 10 classes; more stay unlabelled)."""
    if classes > 10:
        return
    labels = [shorten(class_name(info, index), 10) for index in range(classes)]
    crowded = classes > 3 or max(map(len, labels), default=0) > 6
    ax.set_xticks(range(classes), labels, rotation=40 if crowded else 0, ha="right" if crowded else "center",
                  fontsize=7)
