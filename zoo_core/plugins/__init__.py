"""Finding and loading plugins, each in isolation, into a catalog of components.

Plugins are Python modules named by entry points in the ``zoo`` group (the
built-ins are declared exactly the same way in zoo's own ``pyproject.toml``)
or loose ``.py`` files in a ``--plugins-dir``. Two plugins that register the
same name in one kind both stay reachable as ``plugin:name``. The isolation
policy and the ``ZOO_PLUGINS*`` variables are described in docs/plugins.md.
"""

from zoo_core.plugins.catalog import Catalog, PluginRecord, ambiguity, component_origin
from zoo_core.plugins.discovery import BUILTIN_DISTRIBUTION, ENTRY_POINT_GROUP
from zoo_core.plugins.loading import load_catalog

__all__ = ["BUILTIN_DISTRIBUTION", "ENTRY_POINT_GROUP", "Catalog", "PluginRecord", "ambiguity", "component_origin",
           "load_catalog"]
