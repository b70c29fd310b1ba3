"""Built-in exporter: SavedModel in TensorFlow Serving's layout, verified after writing."""

from __future__ import annotations

from typing import Any

from zoo_core import Component, hookimpl


def savedmodel(context: Any, version: int = 0, verify_samples: int = 0, max_abs_diff: float = 1e-5) -> Any:
    """SavedModel for servers: <dest>/<model name>/<version>/, TF Serving layout.

    Args:
        version: version folder to write; 0 picks the next free number. An
            existing version is never overwritten.
        verify_samples: test examples run through the reloaded model (0: all).
        max_abs_diff: largest allowed difference of any class probability from the Keras model.
    """
    from zoo_core.errors import ExportError

    raise ExportError("savedmodel export is not implemented yet")


@hookimpl
def register_exporters() -> list[Component]:
    return [Component("savedmodel", savedmodel)]
