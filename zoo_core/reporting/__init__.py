"""What a run leaves to read: ``metrics.json`` (:mod:`.metrics`), ``plots/`` (:mod:`.plots`), ``report.md``.

Importing it imports numpy, scikit-learn and matplotlib (never TensorFlow): keep it off the CLI's fast path.
"""

from zoo_core.reporting.metrics import METRIC_KEYS, classification_metrics
from zoo_core.reporting.plots import PLOT_NAMES, PLOTS, Plot, PlotInputs, write_plots
from zoo_core.reporting.report import render_report, write_report

__all__ = [
    "METRIC_KEYS",
    "PLOTS",
    "PLOT_NAMES",
    "Plot",
    "PlotInputs",
    "classification_metrics",
    "render_report",
    "write_plots",
    "write_report",
]
