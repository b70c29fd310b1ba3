# TEMP-SHIM: remove at merge
"""Moved to :mod:`zoo_core.reporting.report`."""

from zoo_core.reporting.report import render_report, write_report

__all__ = ["render_report", "write_report"]
