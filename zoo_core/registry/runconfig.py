"""A fully resolved run (:class:`RunConfig`) and its TOML form.

``config.toml`` in a run directory uses the same schema as a ``[runs.NAME]``
table of ``registry.toml``, with every component written as an inline table
of its final parameters, so ``zoo run --config config.toml`` repeats the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo_core.components import Component
from zoo_core.registry.settings import SETTINGS

#: The components every run has, in the order they are built.
RUN_COMPONENT_KINDS = ("dataset", "architecture", "optimizer", "loss")
#: Every key a run table (``[runs.NAME]``, ``config.toml``) may have.
RUN_KEYS = ("summary", "recipe", *RUN_COMPONENT_KINDS, "exporters", *SETTINGS)


@dataclass
class ComponentChoice:
    """A component chosen for a run, with its complete, checked parameters."""

    kind: str
    ref: str  # the name as written: a component, a preset or plugin:name
    component: Component
    params: dict[str, Any] = field(default_factory=dict)

    def to_table(self, qualified: bool = False) -> dict[str, Any]:
        """``{"component": name, **params}``, the inline-table form."""
        name = self.component.qualified_name if qualified else self.component.name
        return {"component": name, **self.params}

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
    settings: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    def choices(self) -> list[ComponentChoice]:
        """The four run components, then the exporters."""
        return [self.dataset, self.architecture, self.optimizer, self.loss, *self.exporters]

    def to_dict(self, qualify: set[tuple[str, str]] | None = None) -> dict[str, Any]:
        """The ``config.toml`` table. ``qualify`` names (kind, name) pairs to write as plugin:name."""
        qualify = qualify or set()

        def table(choice: ComponentChoice) -> dict[str, Any]:
            return choice.to_table((choice.kind, choice.component.name) in qualify)

        data: dict[str, Any] = {"recipe": self.recipe}
        if self.summary:
            data["summary"] = self.summary
        data.update(self.settings)
        data["exporters"] = [table(choice) for choice in self.exporters]
        for kind in RUN_COMPONENT_KINDS:
            data[kind] = table(getattr(self, kind))
        return data

    def to_toml(self, qualify: set[tuple[str, str]] | None = None) -> str:
        """The resolved run as TOML text, loadable with ``zoo run --config``."""
        import tomli_w

        header = (
            "# The fully resolved run, written by zoo. Repeat it with:\n"
            "#   zoo run --config config.toml\n"
        )
        return header + tomli_w.dumps(self.to_dict(qualify))
