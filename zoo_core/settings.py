# TEMP-SHIM: remove at merge
"""Moved to zoo_core.registry.settings; import the names from zoo_core.registry."""

from zoo_core.registry.settings import MAX_INT_SETTING, SETTINGS, Setting, check_settings

__all__ = ["MAX_INT_SETTING", "SETTINGS", "Setting", "check_settings"]
