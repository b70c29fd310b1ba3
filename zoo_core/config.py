# TEMP-SHIM: remove at merge
"""Moved to zoo_core.registry.runconfig and zoo_core.registry.overrides; import them from zoo_core.registry."""

from zoo_core.registry.overrides import parse_override
from zoo_core.registry.runconfig import RUN_COMPONENT_KINDS, ComponentChoice, RunConfig

__all__ = ["RUN_COMPONENT_KINDS", "ComponentChoice", "RunConfig", "parse_override"]
