"""A fully resolved run (:class:`RunConfig`) and its TOML form.

``config.toml`` in a run directory uses the same schema as a ``[runs.NAME]``
table of ``registry.toml``, with every component written as an inline table
of its exact identity (``plugin:name``) and final parameters, so ``zoo run
--config config.toml`` repeats the run whatever plugins are installed later.
Runs written before names were qualified there have bare names; the plugin
each came from is in their manifest.json (:func:`recorded_plugins`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo_core.components import LISTED_KINDS, Component
from zoo_core.registry.settings import SETTINGS

#: The components every run has, in the order they are built.
RUN_COMPONENT_KINDS = ("dataset", "architecture", "optimizer", "loss")
#: Every key a run table (``[runs.NAME]``, ``config.toml``) may have.
RUN_KEYS = ("summary", "recipe", *RUN_COMPONENT_KINDS, *LISTED_KINDS, *SETTINGS)


@dataclass
class ComponentChoice:
    """A component chosen for a run, with its complete, checked parameters."""

    kind: str
    ref: str  # the name as written: a component, a preset or plugin:name
    component: Component
    params: dict[str, Any] = field(default_factory=dict)
    #: every name followed to reach the component, from ``ref`` on: ``["mlp-128-64-10", "mlp"]``
    chain: list[str] = field(default_factory=list)

    def to_table(self) -> dict[str, Any]:
        """``{"component": "plugin:name", **params}``, the inline-table form."""
        return {"component": self.component.qualified_name, **self.params}

    def build(self, *context: Any) -> Any:
        """Call the factory with the framework's context arguments and the params."""
        return self.component.load_factory()(*context, **self.params)


@dataclass
class RunConfig:
    """Everything a run needs, resolved and checked."""

    recipe: str
    dataset: ComponentChoice
    architecture: ComponentChoice
    optimizer: ComponentChoice
    loss: ComponentChoice
    exporters: list[ComponentChoice] = field(default_factory=list)
    callbacks: list[ComponentChoice] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    def choices(self) -> list[ComponentChoice]:
        """The four run components, then the exporters, then the callbacks."""
        return [self.dataset, self.architecture, self.optimizer, self.loss, *self.exporters, *self.callbacks]

    def to_dict(self) -> dict[str, Any]:
        """The ``config.toml`` table: every component as ``plugin:name`` with its final parameters."""
        data: dict[str, Any] = {"recipe": self.recipe}
        if self.summary:
            data["summary"] = self.summary
        data.update(self.settings)
        for key in LISTED_KINDS:  # exporters, callbacks
            data[key] = [choice.to_table() for choice in getattr(self, key)]
        for kind in RUN_COMPONENT_KINDS:
            data[kind] = getattr(self, kind).to_table()
        return data

    def to_toml(self) -> str:
        """The resolved run as TOML text, loadable with ``zoo run --config``."""
        import tomli_w

        header = (
            "# The fully resolved run, written by zoo. Repeat it with:\n"
            "#   zoo run --config config.toml\n"
            "# Components are named plugin:name, so other plugins installed later change nothing.\n"
        )
        return header + tomli_w.dumps(self.to_dict())


def recorded_plugins(manifest: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(kind, component name) -> plugin, from a run manifest's ``components`` records.

    Runs written before config.toml qualified every name have bare names
    there; this is how their components are found again when a bare name has
    become ambiguous. Malformed records are skipped.
    """
    found: dict[tuple[str, str], str] = {}
    records = manifest.get("components") if isinstance(manifest, dict) else None
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict):
            continue
        kind, name, plugin = record.get("kind"), record.get("component"), record.get("plugin")
        if all(isinstance(value, str) and value for value in (kind, name, plugin)):
            found[(kind, name)] = plugin
    return found


def component_records(config: RunConfig) -> list[dict[str, Any]]:
    """The manifest's record of each component: its exact identity, the names followed to it, and its params.

    ``name`` is the name as written (a preset, a component or plugin:name),
    ``chain`` every name followed from it to the component (``["mlp-128-64-10",
    "mlp"]``), ``component`` and ``plugin`` the component it resolved to,
    with the ``distribution`` and ``version`` that provided it.
    """
    return [{"kind": c.kind, "name": c.ref, "chain": list(c.chain) or [c.ref], "component": c.component.name,
             "plugin": c.component.plugin, "distribution": c.component.distribution, "version": c.component.version,
             "params": c.params}
            for c in config.choices()]
