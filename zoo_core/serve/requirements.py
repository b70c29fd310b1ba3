"""Whether the optional ``serve`` extra (the ASGI stack) is installed, found without importing it."""

from __future__ import annotations

import importlib.util

from zoo_core.errors import ConfigError

#: The modules ``zoo serve`` needs beyond zoo's own dependencies.
SERVE_MODULES = ("starlette", "uvicorn", "prometheus_client")
INSTALL_HINT = "pip install 'zoo[serve]'  (installs Starlette, uvicorn and prometheus_client)"


def missing_modules() -> list[str]:
    """The modules of :data:`SERVE_MODULES` that are not installed."""
    return [module for module in SERVE_MODULES if importlib.util.find_spec(module) is None]


def require_serve_stack() -> None:
    """Nothing when the extra is installed; ConfigError (exit 2) with the pip command otherwise."""
    missing = missing_modules()
    if missing:
        raise ConfigError(f"zoo serve needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                          "not installed", hint=INSTALL_HINT)
