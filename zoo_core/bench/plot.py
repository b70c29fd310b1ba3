"""bench.png: accuracy against single-image latency and against size, one point per model × format.

Both x axes are logarithmic; each model has a colour and each format a
marker (both in the legend). Points are labelled with their format when
there are few of them, else only the front's, so labels never crowd; the Pareto front of each panel (the points that nothing
beats on both accuracy and cost, :func:`~zoo_core.bench.pareto.pareto_front`)
is ringed and joined by a dashed step line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.bench.pareto import pareto_front
from zoo_core.bench.suite import BenchResult

#: Up to this many points per panel, every point is labelled with its format; beyond, only the Pareto front's.
MAX_LABELLED = 8
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
PANELS = (("latency_us", "single-image latency (µs, log scale)"), ("size_bytes", "size (KB, log scale)"))


def plot_bench(path: Path, result: BenchResult) -> Path:
    """Draw the two panels for the measured rows of ``result``; write the PNG atomically."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from zoo_core.reporting.figures import note, save_png

    rows = [row for row in result.rows if row.get("status") == "ok"]
    models = list(dict.fromkeys(row["model"] for row in rows))
    formats = list(dict.fromkeys(row["format"] for row in rows))
    colours = {model: f"C{index % 10}" for index, model in enumerate(models)}
    markers = {name: MARKERS[index % len(MARKERS)] for index, name in enumerate(formats)}
    fig = Figure(figsize=(13, 5.2))
    for index, (key, label) in enumerate(PANELS):
        ax = fig.add_subplot(1, 2, index + 1)
        if not rows:
            note(ax, "nothing was measured")
            continue
        scale = 1024.0 if key == "size_bytes" else 1.0
        costs = [float(row[key]) / scale for row in rows]
        accuracies = [float(row["accuracy"]) for row in rows]
        front = pareto_front(costs, accuracies)
        labelled = set(range(len(rows))) if len(rows) <= MAX_LABELLED else set(front)
        _draw_points(ax, rows, costs, accuracies, colours, markers, labelled)
        _draw_front(ax, costs, accuracies, front)
        _plain_log_ticks(ax)
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3, which="both")
        ax.set_title(f"accuracy against {'latency' if key == 'latency_us' else 'size'}")
    handles = [Line2D([], [], color=colours[model], marker="o", linestyle="", label=model) for model in models]
    handles += [Line2D([], [], color="dimgrey", marker=markers[name], linestyle="", label=name) for name in formats]
    handles.append(Line2D([], [], color="black", marker="o", markerfacecolor="none", markersize=11, linestyle="--",
                          label="Pareto front"))
    columns = min(len(handles), 7)
    fig.legend(handles=handles, loc="lower center", ncol=columns, frameon=False, fontsize=9)
    fig.suptitle(f"zoo bench, {result.created[:10]}: upper left is better", fontsize=12)
    legend_rows = -(-len(handles) // columns)
    fig.tight_layout(rect=(0, 0.04 + 0.045 * legend_rows, 1, 0.95))
    return save_png(fig, path)


def _draw_points(ax: Any, rows: list[dict[str, Any]], costs: list[float], accuracies: list[float],
                 colours: dict[str, str], markers: dict[str, str], labelled: set[int]) -> None:
    """One marker per row; the rows in ``labelled`` get their format as a label, kept apart and inside the axes."""
    for row, cost, accuracy in zip(rows, costs, accuracies):
        ax.plot([cost], [accuracy], linestyle="", marker=markers[row["format"]], color=colours[row["model"]],
                markersize=7)
    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.12)
    ax.autoscale_view()
    chosen = sorted(labelled)
    texts = [rows[index]["format"] for index in chosen]
    anchors = [tuple(ax.transData.transform((costs[index], accuracies[index]))) for index in chosen]
    for index, text, offset in zip(chosen, texts, label_offsets(anchors, texts)):
        ax.annotate(text, (costs[index], accuracies[index]), xytext=offset, textcoords="offset points", fontsize=7,
                    color=colours[rows[index]["model"]], clip_on=True)


def label_offsets(anchors: list[tuple[float, float]], texts: list[str], size: float = 7.0) -> list[tuple[float, float]]:
    """An offset (points) per label beside its point, moved up or down until it overlaps no label placed before.

    ``anchors`` are the points in display pixels (at the figure's DPI); a
    label is a box about ``0.6 * size`` points wide per character and
    ``size`` tall.
    """
    from zoo_core.reporting.figures import DPI

    pixels = DPI / 72.0
    placed: list[tuple[float, float, float, float]] = []
    offsets = []
    for (x, y), text in zip(anchors, texts):
        width, height = 0.6 * size * len(text) * pixels, 1.2 * size * pixels
        for step in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5):
            dy = 4 + step * 1.3 * size
            box = (x + 5 * pixels, y + dy * pixels, x + 5 * pixels + width, y + dy * pixels + height)
            if not any(box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]
                       for other in placed):
                break
        placed.append(box)
        offsets.append((5.0, dy))
    return offsets


def _plain_log_ticks(ax: Any) -> None:
    """Log-scale ticks written as plain numbers (``20``, ``500``, ``1,000``): at 1, 2, 5 × 10^n over up to
    three decades, at the powers of ten only over more."""
    import math

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = ax.get_xlim()
    decades = math.log10(high / low) if low > 0 and high > low else 0.0
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 3 else (1.0,)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.10g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _draw_front(ax: Any, costs: list[float], accuracies: list[float], front: list[int]) -> None:
    """Ring the front's points and join them with a dashed step line, cheapest first."""
    if not front:
        return
    xs, ys = [costs[index] for index in front], [accuracies[index] for index in front]
    ax.plot(xs, ys, linestyle="", marker="o", markersize=13, markerfacecolor="none", markeredgecolor="black",
            markeredgewidth=1.0)
    ax.plot(xs, ys, linestyle="--", color="black", linewidth=0.9, drawstyle="steps-post", alpha=0.7)
