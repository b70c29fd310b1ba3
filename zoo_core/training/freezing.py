"""The ``freeze`` setting: which layers' weights do not train, chosen by name.

``backbone`` is every layer but the head: the output layer ``probabilities``
and the layers whose name starts with ``head`` (the built-in architectures
name their classifier so). A list holds layer names or glob patterns
(``block1_*``); one that matches no layer is a ConfigError naming it and the
model's layers. A frozen layer is ``trainable = False``, which in Keras 3
also keeps a BatchNormalization layer in inference mode (its moving mean and
variance stay). The optimizer is built for every weight before anything is
frozen (zoo_core.training.prepare), so a layer unfrozen later (the
``fine-tune`` callback) trains with the same optimizer and checkpoints keep
the same variables.
"""

from __future__ import annotations

import fnmatch
import sys
from typing import Any, Callable

from zoo_core.errors import ConfigError

#: The output layer of every built-in architecture, and the prefix of the other layers of a head.
OUTPUT_LAYER, HEAD_PREFIX = "probabilities", "head"


def is_head(name: str) -> bool:
    """Whether a layer of this name belongs to the head (what ``backbone`` leaves trainable)."""
    return name == OUTPUT_LAYER or name.startswith(HEAD_PREFIX)


def all_layers(model: Any) -> list[Any]:
    """Every layer of ``model``, nested models' layers after the model holding them."""
    found = []
    for layer in getattr(model, "layers", None) or []:
        found.append(layer)
        found.extend(all_layers(layer))
    return found


def select_layers(model: Any, patterns: list[str], where: str) -> list[Any]:
    """The layers whose name matches one of ``patterns`` (names or globs); a ConfigError for a pattern matching none."""
    layers = all_layers(model)
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(layer.name, pattern) for layer in layers):
            names = ", ".join(layer.name for layer in layers)
            raise ConfigError(f"{where}: no layer of the model is named '{pattern}'", key=where.split(" ")[-1],
                              hint=f"the model's layers: {names}")
    return [layer for layer in layers if any(fnmatch.fnmatchcase(layer.name, pattern) for pattern in patterns)]


def layers_to_freeze(model: Any, freeze: str | list[str]) -> list[Any]:
    """The layers the ``freeze`` setting names (none for ``none``)."""
    if freeze == "none":
        return []
    if freeze == "backbone":
        return [layer for layer in getattr(model, "layers", None) or [] if not is_head(layer.name)]
    return select_layers(model, list(freeze), "setting freeze")


def freeze_layers(model: Any, freeze: str | list[str]) -> list[str]:
    """Freeze what ``freeze`` names; the names of the frozen layers that hold weights (manifest.json's ``frozen``)."""
    chosen = layers_to_freeze(model, freeze)
    for layer in chosen:
        layer.trainable = False
    frozen = [layer.name for layer in chosen if layer.weights]
    if chosen and not model.trainable_weights:
        raise ConfigError(f"setting freeze: {freeze!r} leaves no weight to train (a head is a layer named "
                          f"'{OUTPUT_LAYER}' or '{HEAD_PREFIX}*')", key="freeze",
                          hint="freeze fewer layers, e.g. --set 'freeze=[\"dense_1\"]'")
    if frozen:
        training = [layer.name for layer in all_layers(model) if layer.trainable_weights and not _children(layer)]
        print(f"zoo: freeze {freeze if isinstance(freeze, str) else ', '.join(freeze)}: {len(frozen)} layer(s) "
              f"frozen; training {', '.join(training) or 'nothing'}", file=sys.stderr, flush=True)
    return frozen


def _children(layer: Any) -> list[Any]:
    return list(getattr(layer, "layers", None) or [])


def thaw_layers(model: Any, freeze: str | list[str]) -> None:
    """Make the layers ``freeze`` names trainable again, as the architecture built them (before model.keras is saved).

    A model.keras saved with frozen layers holds an optimizer of more weights
    than Keras builds for it when it loads the file (only the trainable ones),
    and every ``zoo evaluate``, ``export`` or ``predict`` would warn that the
    optimizer state was skipped.
    """
    for layer in layers_to_freeze(model, freeze):
        layer.trainable = True


def follow_trainable(model: Any, make: Callable[[], Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """A train function that makes itself again (``make()``) whenever the model's trainable weights change.

    A traced step trains the weights that were trainable when it was traced:
    after a layer is unfrozen in the middle of ``fit`` (the ``fine-tune``
    callback) the next call traces a step that trains it too.
    """
    made: dict[tuple[int, ...], Callable[[Any], Any]] = {}

    def train_function(iterator: Any) -> Any:
        key = tuple(id(variable) for variable in model.trainable_variables)
        if key not in made:
            made.clear()
            made[key] = make()
        return made[key](iterator)

    return train_function
