# TEMP-SHIM: remove at merge
"""Moved to :mod:`zoo_core.reporting.plots`."""

from zoo_core.reporting.plots import PLOT_NAMES, PLOTS, write_plots

__all__ = ["PLOTS", "PLOT_NAMES", "write_plots"]
