"""The ``zoo`` commands that train, evaluate and export (they import TensorFlow lazily)."""

from __future__ import annotations

from zoo_core.cli import app  # noqa: F401
