"""Exporters and callbacks check their parameters before any work: their factory called with a stand-in.

The plugin guide asks factories to check their parameters at the top,
before any work. So zoo calls each exporter and callback factory once
before training (:func:`dry_run`) with a :class:`StandIn` of its context:
what is known already is real, and reading anything else (the model, the
destination, the run directory...) means the factory has checked its
parameters and starts working, which ends the call. A mistake it finds
(``max_abs_diff=-1``, a monitor that needs validation data) is a
ConfigError, exit code 2 with a hint, before a run directory exists.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import warnings
from typing import Any

from zoo_core.components import REQUIRED
from zoo_core.errors import ConfigError, ZooError
from zoo_core.registry import ComponentChoice, RunConfig
from zoo_core.runs import safe_name
from zoo_core.training.callbacks.components import keys
from zoo_core.training.native_logs import quiet_native_stderr


class _ReachedTheWork(BaseException):
    """A factory called by :func:`dry_run` got past its parameter checks (a BaseException, so that a
    factory's own ``except Exception`` does not take it for a failure)."""


class StandIn:
    """A factory's context while it checks its parameters: the ``known`` attributes are real; reading any other
    means the factory starts working, and ends the dry run."""

    def __init__(self, **known: Any) -> None:
        self.__dict__.update(known)

    def __getattr__(self, name: str) -> Any:
        raise _ReachedTheWork


def dry_run(choice: ComponentChoice, stand_in: StandIn) -> ZooError | None:
    """Call ``choice``'s factory with ``stand_in`` up to its first use of the work; the ZooError it raised, or None.

    What it prints and warns is hidden (the real call shows it), and so are
    TensorFlow's native log lines when the factory imports it (a factory that
    imports keras at its top would print them before every run). Any other
    failure is not a parameter check: it is left to the real call, which
    reports it.
    """
    with quiet_native_stderr():  # nothing but KeyboardInterrupt leaves: the lines it hid stay hidden
        return _dry_run(choice, stand_in)


def _dry_run(choice: ComponentChoice, stand_in: StandIn) -> ZooError | None:
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            choice.build(stand_in)
    except _ReachedTheWork:
        return None
    except ZooError as error:
        return error
    except Exception:  # noqa: BLE001 - not a parameter check: the real call reports it
        return None
    return None


def check_exporters(exporters: list[ComponentChoice], dataset: Any, model_name: str,
                    set_prefix: str = "exporters.{name}.") -> None:
    """Dry-run each exporter (its dataset, model name and metadata are real): a mistake it finds is a ConfigError.

    So a range error, or an optional extra the exporter needs and that is not
    installed (with the pip command), is known before training (``zoo run``)
    or export (``zoo export``) starts; ``zoo bench`` lists such an exporter
    as not applicable, with the reason. ``set_prefix`` is how ``--set`` names the
    exporter's parameters in the command at hand (``{name}`` is the
    exporter's name).
    """
    for choice in exporters:
        problem = choice.component.requirement_problem()  # an optional extra (onnx): the pip command, before any work
        if problem:
            raise ConfigError(f"exporter '{choice.ref}' {problem}",
                              hint="install it, or choose another format ('zoo list exporters')")
        error = dry_run(choice, StandIn(dataset=dataset, model_name=safe_name(model_name), metadata={}))
        if error is not None:
            raise ConfigError(f"exporter '{choice.ref}' refuses its parameters: {error.message}",
                              hint=error.hint or _parameter_hint(choice, error.message,
                                                                  set_prefix.format(name=choice.ref)))


def check_callbacks(config: RunConfig, dataset_info: Any) -> None:
    """Dry-run each callback (settings, config and dataset are real; the run is not): a mistake is a ConfigError."""
    settings = dict(config.settings)
    for key, choice in zip(keys(config.callbacks), config.callbacks):
        stand_in = StandIn(recipe=config.recipe, config=config.to_dict(), settings=settings, dataset=dataset_info,
                           name=key, is_chief=True, initial_epoch=0, steps_per_epoch=0, epochs=int(settings["epochs"]))
        error = dry_run(choice, stand_in)
        if error is not None:
            raise ConfigError(f"callback '{choice.ref}' refuses its parameters: {error.message}",
                              hint=error.hint or f"'zoo show {choice.component.name}' lists its parameters; "
                                                 f"e.g. --set callbacks.{choice.ref}.PARAMETER=...")


def _parameter_hint(choice: ComponentChoice, message: str, set_prefix: str) -> str:
    """'e.g. --set exporters.savedmodel.max_abs_diff=1e-05 (the default)' for the parameter the message names."""
    listing = f"'zoo show {choice.component.name}' lists its parameters"
    for name, parameter in choice.component.parameters().items():
        if re.search(rf"\b{re.escape(name)}\b", message) and parameter.default not in (None, REQUIRED):
            return f"e.g. --set {set_prefix}{name}={json.dumps(parameter.default)} (the default); {listing}"
    return listing
