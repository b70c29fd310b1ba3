# TEMP-SHIM: remove at merge
"""Moved to :mod:`zoo_core.reporting.metrics`."""

from zoo_core.reporting.metrics import METRIC_KEYS, classification_metrics

__all__ = ["METRIC_KEYS", "classification_metrics"]
