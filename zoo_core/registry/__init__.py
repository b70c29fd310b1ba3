"""registry.toml: presets of components, recipes (``[runs.NAME]``) and sweeps, resolved into a RunConfig.

Files are layered: zoo's built-in ``registry.toml``, then ``./registry.toml``,
then ``--registry FILE``; a later entry of the same name replaces the earlier
one. Everything is checked when the registry is loaded, before any work. The
schema is described in README.md ("registry.toml").
"""

from zoo_core.registry.overrides import apply_exporter_overrides, parse_override
from zoo_core.registry.reading import SECTIONS, builtin_registry_path, load_registry, registry_files
from zoo_core.registry.resolve import DEFAULTS, Entry, Preset, Recipe, Registry, Source
from zoo_core.registry.runconfig import RUN_COMPONENT_KINDS, RUN_KEYS, ComponentChoice, RunConfig, recorded_plugins
from zoo_core.registry.settings import MAX_INT_SETTING, SETTINGS, Setting, check_settings

__all__ = [
    "DEFAULTS", "MAX_INT_SETTING", "RUN_COMPONENT_KINDS", "RUN_KEYS", "SECTIONS", "SETTINGS", "ComponentChoice", "Entry",
    "Preset", "Recipe", "Registry", "RunConfig", "Setting", "Source", "apply_exporter_overrides", "builtin_registry_path",
    "check_settings", "load_registry", "parse_override", "recorded_plugins", "registry_files",
]
