"""Serve models over HTTP: the Python API behind ``zoo serve`` (docs/serve.md).

    from zoo_core.serve import ServeSettings, serve, served_models

    models = served_models(["mnist-mlp"], runs_root())
    serve(models, ServeSettings(port=8501))

TF Serving's REST API (``/v1/models/NAME``, ``/metadata``, ``:predict``), an
upload endpoint answering the top classes of an image or CSV rows, a page at
``/``, ``/healthz`` and Prometheus ``/metrics``, with server-side batching.
Needs the ``serve`` extra (``pip install 'zoo[serve]'``: Starlette, uvicorn,
prometheus_client); :func:`require_serve_stack` says so before anything
loads. ``create_app`` gives the ASGI app to run under another server.

Importing this package imports neither the ASGI stack, numpy nor TensorFlow, nor its own machinery
(``models``, ``app``, ``server``) until one of their names is used.
"""

from typing import TYPE_CHECKING, Any

from zoo_core.serve.requirements import INSTALL_HINT, require_serve_stack
from zoo_core.serve.settings import AUTO, TOKEN_ENV, ServeSettings

if TYPE_CHECKING:  # for type checkers and readers; at run time they come from __getattr__ below
    from zoo_core.serve.app import create_app
    from zoo_core.serve.models import FORMAT_ORDER, ServedModel, served_models
    from zoo_core.serve.server import serve

__all__ = ["AUTO", "FORMAT_ORDER", "INSTALL_HINT", "TOKEN_ENV", "ServeSettings", "ServedModel", "create_app",
           "require_serve_stack", "serve", "served_models"]

#: The public names that live in the machinery modules, imported when first used (so that ``zoo --help``,
#: which reads the settings' defaults, loads none of them).
_LAZY = {"FORMAT_ORDER": "models", "ServedModel": "models", "served_models": "models", "create_app": "app",
         "serve": "server"}


def __getattr__(name: str) -> Any:
    """The names of :data:`_LAZY`, from their module."""
    if name not in _LAZY:
        raise AttributeError(f"module 'zoo_core.serve' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(f"zoo_core.serve.{_LAZY[name]}"), name)
