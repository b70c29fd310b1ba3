"""A fully resolved run (:class:`RunConfig`), its TOML form, and ``--set`` parsing.

``config.toml`` in a run directory uses the same schema as a ``[runs.NAME]``
table of ``registry.toml``, with every component written as an inline table
of its final parameters, so ``zoo run --config config.toml`` repeats the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from zoo_core._util.toml import TOMLDecodeError, parse_toml
from zoo_core.components import Component
from zoo_core.errors import ConfigError

RUN_COMPONENT_KINDS = ("dataset", "architecture", "optimizer", "loss")


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


_KEY = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z0-9_][\w:.-]*)?$")
# A bare word (sgd, int8) or a path (/data/mnist.npz, ./x.npz, ~/x) is taken as a string.
_BARE_WORD = re.compile(r"^[A-Za-z_./~][\w./~:+-]*$")


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``--set key=value``; the value is a TOML literal, never code.

    A bare word that is not a TOML literal (``--set optimizer=sgd``) is taken
    as a string, so the shell quoting of TOML strings is rarely needed.
    """
    key, equals, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    where = f"--set '{text}'"
    if not equals or not key:
        raise ConfigError(f"{where}: expected key=value", hint="e.g. --set epochs=3 or --set optimizer.learning_rate=0.01")
    if not _KEY.match(key):
        raise ConfigError(f"{where}: '{key}' is not a valid key",
                          hint="keys are a setting (epochs) or kind.parameter (optimizer.learning_rate)")
    if raw == "":
        raise ConfigError(f"{where}: no value after '='", hint=f"e.g. --set {key}=1")
    if "\n" in raw or "\r" in raw:
        raise ConfigError(f"{where}: the value must be on one line")
    try:
        parsed = parse_toml(f"value = {raw}")
    except TOMLDecodeError as error:
        if _BARE_WORD.match(raw):
            return key, raw
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise ConfigError(
            f"{where}: {raw!r} is not a TOML value ({reason})",
            hint="use a number, true/false, a quoted string or an array, e.g. --set 'architecture.hidden=[256, 128]'",
        ) from None
    if set(parsed) != {"value"}:
        raise ConfigError(f"{where}: {raw!r} is not a single TOML value")
    return key, parsed["value"]
