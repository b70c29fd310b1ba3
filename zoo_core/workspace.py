"""The public Python entry point: the plugins and registry that runs are built from.

A notebook or script does what the ``zoo`` command does::

    from zoo_core import training
    from zoo_core.workspace import Workspace

    registry = Workspace().registry()
    training.train(registry.resolve_recipe("mnist-mlp", ["epochs=2"]))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from zoo_core.plugins import Catalog, load_catalog
from zoo_core.registry import Registry, load_registry


@dataclass
class Workspace:
    """The plugin catalog and the registry, each loaded once, on first use.

    ``registry_file`` is an extra registry.toml layered on the built-in one
    and ./registry.toml (``zoo --registry``); ``plugins_dir`` is a folder of
    loose .py plugin files (``zoo --plugins-dir``).
    """

    registry_file: Optional[Path] = None
    plugins_dir: Optional[Path] = None
    _catalog: Optional[Catalog] = field(default=None, repr=False)
    _registry: Optional[Registry] = field(default=None, repr=False)

    def catalog(self) -> Catalog:
        """Every plugin and component found (loaded on the first call)."""
        if self._catalog is None:
            self._catalog = load_catalog(self.plugins_dir)
        return self._catalog

    def registry(self) -> Registry:
        """The presets, recipes and sweeps of the registry files, over the catalog (loaded on the first call)."""
        if self._registry is None:
            self._registry = load_registry(self.catalog(), self.registry_file)
        return self._registry

    def forget(self) -> None:
        """Drop the loaded catalog and registry; the next call loads them again (e.g. after editing a file)."""
        self._catalog = self._registry = None
