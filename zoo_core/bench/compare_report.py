"""compare.png (training curves of every run overlaid) and compare.md (the tables and the plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core.bench.compare import Comparison
from zoo_core.files import write_text_atomic
from zoo_core.reporting import markdown


def plot_comparison(path: Path, comparison: Comparison) -> Path:
    """Loss and accuracy per epoch, one colour per run, training dashed and validation solid; written atomically."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    from zoo_core.reporting.figures import note, save_png

    fig = Figure(figsize=(12, 4.8))
    for index, metric in enumerate(("loss", "accuracy")):
        ax = fig.add_subplot(1, 2, index + 1)
        drawn = False
        for number, history in enumerate(comparison.histories):
            for key, style, face in ((metric, "--", "none"), (f"val_{metric}", "-", f"C{number % 10}")):
                points = [(row["epoch"], row[key]) for row in history if key in row and "epoch" in row]
                if points:
                    epochs, values = zip(*points)
                    ax.plot(epochs, values, style, color=f"C{number % 10}", marker="o" if len(points) <= 30 else None,
                            markersize=4, markerfacecolor=face)
                    drawn = True
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if not drawn:
            note(ax, f"no {metric} recorded")
    handles = [Line2D([], [], color=f"C{number % 10}", label=run["label"]) for number, run in enumerate(comparison.runs)]
    handles += [Line2D([], [], color="gray", linestyle="--", marker="o", markerfacecolor="none", label="training"),
                Line2D([], [], color="gray", linestyle="-", marker="o", label="validation")]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), frameon=False, fontsize=9)
    fig.suptitle("zoo compare: " + ", ".join(run["label"] for run in comparison.runs), fontsize=12)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    return save_png(fig, path)


def comparison_markdown(comparison: Comparison) -> str:
    """compare.md: the runs, the settings that differ (the identical ones in one line), the metrics, the plot."""
    labels = [markdown.cell(run["label"]) for run in comparison.runs]
    lines = ["# zoo compare", ""]
    lines += markdown.table(["run", "id", "recipe", "status", "started"],
                            ([markdown.cell(run[key]) for key in ("label", "id", "recipe", "status", "started")]
                             for run in comparison.runs))
    lines += ["", "## Settings that differ", ""]
    if comparison.differ:
        lines += markdown.table(["setting", *labels], ([markdown.cell(key), *map(markdown.cell, values)]
                                                       for key, values in comparison.differ))
    else:
        lines.append("None: the runs have the same settings.")
    lines += ["", markdown.inline(same_summary(comparison)), "", "## Metrics", ""]
    lines += markdown.table(["metric", *labels], ([markdown.cell(key), *map(markdown.cell, values)]
                                                  for key, values in comparison.metrics))
    lines += ["", "## Training curves", "", "Training dashed, validation solid, one colour per run.", "",
              "![training curves](compare.png)", ""]
    return "\n".join(lines)


def same_summary(comparison: Comparison) -> str:
    """'12 settings are the same in every run: epochs = 1, batch_size = 32, ...', as plain text on one line (for
    the terminal; compare.md writes it through :func:`~zoo_core.reporting.markdown.inline`)."""
    if not comparison.same:
        return "No setting is the same in every run."
    listed = ", ".join(f"{key} = {value}" for key, value in comparison.same)
    return f"{len(comparison.same)} settings are the same in every run: {' '.join(listed.split())}"


def write_comparison(comparison: Comparison, folder: Path) -> dict[str, Any]:
    """Write compare.png and compare.md into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"png": plot_comparison(folder / "compare.png", comparison),
            "md": write_text_atomic(folder / "compare.md", comparison_markdown(comparison))}
