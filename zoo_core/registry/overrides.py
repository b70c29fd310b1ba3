"""``--set key=value``: parsing it, and the one way to apply it to a run or to the exporters of ``zoo export``.

A key is a setting (``epochs``), a run component to swap (``optimizer=sgd``,
``exporters=[...]``, ``callbacks=[...]``), a component's parameter (``optimizer.learning_rate``)
or an exporter's or callback's parameter (``exporters.NAME.PARAMETER``,
``callbacks.NAME.PARAMETER``). Swaps take the run
table's place before anything is resolved (:func:`component_swaps`); the rest
are applied to the resolved run (:func:`apply_overrides`), so their order
does not matter. README.md ("--set overrides") is the user's description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from zoo_core._util.text import suggest
from zoo_core._util.toml import DEPTH_HINT, TOMLDecodeError, TooDeepError, parse_toml
from zoo_core.components import LISTED_KINDS
from zoo_core.errors import ConfigError
from zoo_core.registry.runconfig import RUN_COMPONENT_KINDS, ComponentChoice, RunConfig
from zoo_core.registry.settings import SETTINGS

#: The keys whose override replaces part of the run table rather than changing the resolved run.
SWAP_KEYS = (*RUN_COMPONENT_KINDS, *LISTED_KINDS)

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
    except TooDeepError as error:
        raise ConfigError(f"{where[:200]}{'...' if len(where) > 200 else ''}: the value's {error}",
                          hint=DEPTH_HINT) from None
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


@dataclass(frozen=True)
class Override:
    """One parsed ``--set``: its text as given, its key and its value."""

    text: str
    key: str
    value: Any

    @property
    def where(self) -> str:
        """How messages name it: ``--set 'epochs=3'``."""
        return f"--set '{self.text}'"


def parse_overrides(texts: list[str] | None) -> list[Override]:
    """Parse every ``--set``, in order; the first malformed one raises ConfigError."""
    return [Override(text, *parse_override(text)) for text in texts or []]


def component_swaps(overrides: list[Override]) -> dict[str, tuple[str, Any]]:
    """The overrides that replace a run component or the exporters: ``{key: (where, reference)}``, the last wins."""
    return {o.key: (o.where, o.value) for o in overrides if o.key in SWAP_KEYS}


def apply_overrides(config: RunConfig, overrides: list[Override]) -> None:
    """Apply every override that is not a swap (a setting or a parameter) to a resolved run."""
    for override in overrides:
        if override.key not in SWAP_KEYS:
            _apply_one(config, override)


def _apply_one(config: RunConfig, override: Override) -> None:
    where, key, value = override.where, override.key, override.value
    head, _, rest = key.partition(".")
    if head in SETTINGS and not rest:
        config.settings[head] = SETTINGS[head].check(value, where)
    elif head in RUN_COMPONENT_KINDS and rest:
        _set_parameter(getattr(config, head), rest, value, where)
    elif head in LISTED_KINDS and rest:  # exporters.NAME.PARAMETER, callbacks.NAME.PARAMETER
        kind, listed = LISTED_KINDS[head], getattr(config, head)
        name, _, parameter = rest.rpartition(".")
        if not name:
            example = "exporters.tflite.quantize=int8" if head == "exporters" else "callbacks.early-stopping.patience=3"
            raise ConfigError(f"{where}: say which {kind}", hint=f"e.g. --set {example}")
        targets = exporters_named(listed, name)
        if not targets:
            raise ConfigError(f"{where}: this run has no {kind} '{name}'",
                              hint=suggest(name, [c.ref for c in listed], f"its {head}")
                              + (f"; add it with --set '{head}=[...]'" if head == "callbacks" else ""))
        for choice in targets:
            _set_parameter(choice, parameter, value, where)
    else:
        raise unknown_key(key, where)


def is_known_key(key: str) -> bool:
    """Whether ``--set KEY=...`` names something a run has: a setting, a part to swap, or a part's parameter."""
    head, _, rest = key.partition(".")
    return (head in SETTINGS and not rest) or head in RUN_COMPONENT_KINDS or head in LISTED_KINDS


def unknown_key(key: str, where: str) -> ConfigError:
    """The error for a ``--set`` key no run has (:func:`is_known_key`), with a did-you-mean."""
    valid = [*SETTINGS, *RUN_COMPONENT_KINDS, *LISTED_KINDS]
    return ConfigError(f"{where}: unknown key '{key}'",
                       hint=suggest(key.partition(".")[0], valid, "valid keys (kinds take .parameter)"), key=key)


def apply_exporter_overrides(exporters: list[ComponentChoice], overrides: list[str]) -> None:
    """Apply ``zoo export --set`` overrides to the exporters chosen with ``--format``.

    ``NAME.PARAMETER=value`` sets it on the exporter NAME, found as in
    ``zoo run --set exporters.NAME.PARAMETER`` (:func:`exporters_named`);
    a bare ``PARAMETER=value`` sets it on every chosen exporter that has that
    parameter. Each choice's ``params`` are replaced by the checked result.
    """
    for override in parse_overrides(overrides):
        name, _, parameter = override.key.rpartition(".")
        if name:
            targets = exporters_named(exporters, name)
            if not targets:
                raise ConfigError(f"{override.where}: no chosen format is '{name}'",
                                  hint=suggest(name, [c.ref for c in exporters], "chosen formats"))
        else:
            targets = [c for c in exporters if parameter in c.component.parameters()]
            if not targets:
                raise ConfigError(f"{override.where}: no chosen format has a parameter '{parameter}'",
                                  hint="'zoo show tflite' lists an exporter's parameters")
        for choice in targets:  # a hint names the parameter as this --set did (zoo export has no exporters.NAME.)
            _set_parameter(choice, parameter, override.value, override.where, f"{name}." if name else "")


def exporters_named(exporters: list[ComponentChoice], name: str) -> list[ComponentChoice]:
    """The exporters (or callbacks) ``name`` means: those chosen under that name, else those of that component
    (or plugin:name)."""
    return ([c for c in exporters if c.ref == name]
            or [c for c in exporters if name in (c.component.name, c.component.qualified_name)])


def _set_parameter(choice: ComponentChoice, parameter: str, value: Any, where: str,
                   set_prefix: str | None = None) -> None:
    choice.params = choice.component.check_params({**choice.params, parameter: value}, where, set_prefix)
