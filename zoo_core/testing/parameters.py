"""Checks for every kind: the spec, its parameters, and a light module import."""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import Any

from zoo_core._util.text import suggest
from zoo_core.components import REQUIRED, Component
from zoo_core.errors import ConfigError, PluginError, ZooError
from zoo_core.testing.results import Broken, Checks, CheckResult, Skip, resolve

#: The parameter name used to check that unknown parameters are refused.
UNKNOWN_PARAMETER = "zoo_conformance_unknown_parameter"
#: Modules that must not be imported by a plugin module at import time.
HEAVY_MODULES = ("tensorflow", "keras", "torch", "jax")


def check_parameters(kind: str, component: str | Component, params: dict[str, Any] | None = None, *,
                     catalog: Any = None) -> list[CheckResult]:
    """Run only the parameter checks of a component (every kind's checks start with these).

    ``spec`` (name, factory, signature), ``parameters_documented`` (a type
    and an ``Args:`` help line each), ``defaults_valid`` (each default passes
    its own type check and can be written to config.toml),
    ``defaults_accepted`` (``params``, and defaults for the rest, are
    accepted) and ``unknown_parameter_refused``.
    """
    return begin_checks(kind, component, params, catalog, light_import=False)[1].results


def begin_checks(kind: str, component: str | Component, params: dict[str, Any] | None, catalog: Any,
                 light_import: bool) -> tuple[Component, Checks, dict[str, Any] | None]:
    """The checks every kind starts with: find the component, check its parameters and,
    if ``light_import``, that its module imports without TensorFlow.

    Returns the component, the Checks that record results, and the checked parameter values.
    A key of ``params`` that the component does not declare, or a value its parameter refuses, raises
    ConfigError (see :func:`reject_unknown_params`): that is a mistake in the test, not in the component.
    """
    component = resolve(kind, component, catalog)
    reject_unknown_params(component, params)
    checks = Checks(component.kind, component.name)
    values = parameter_checks(checks, component, params)
    if light_import:
        checks.run("import_is_light", check_light_import, component, needs=["spec"])
    return component, checks, values


def reject_unknown_params(component: Component, params: dict[str, Any] | None) -> None:
    """Raise ConfigError naming the component's real parameters if ``params`` has a key it does not declare,
    or naming the key and its type if it gives a value that parameter refuses.

    A component whose parameters cannot be read is left alone: the ``spec`` check reports it.
    """
    if not params:
        return
    try:
        parameters = component.parameters()
    except ZooError:
        return
    declared = list(parameters)
    unknown = [key for key in params if key not in declared]
    if unknown:
        listed = ", ".join(repr(key) for key in unknown)
        raise ConfigError(f"params for {component.kind} '{component.name}': it has no parameter {listed}",
                          hint=suggest(unknown[0], declared, "its parameters"), key=unknown[0])
    for key, value in params.items():  # a value the test gave that its parameter refuses: not the defaults' fault
        try:
            parameters[key].check(value, f"params for {component.kind} '{component.name}'")
        except ConfigError as error:
            raise ConfigError(error.message, key=key, hint=f"give the kit a value that '{key}' accepts "
                              f"({parameters[key].type_name}), e.g. params={{{key!r}: ...}}") from None


def parameter_checks(checks: Checks, component: Component, params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Record the parameter checks in ``checks``; return the checked values (None if refused)."""
    params = dict(params or {})
    checks.run("spec", _check_spec, component)
    checks.run("parameters_documented", _check_documented, component, needs=["spec"])
    checks.run("defaults_valid", _check_defaults, component, needs=["spec"])
    values = checks.run("defaults_accepted", _check_accepted, component, params, needs=["spec"])
    checks.run("unknown_parameter_refused", _check_unknown_refused, component, params, needs=["spec"])
    return values


def _check_spec(component: Component) -> None:
    try:
        component.validate_spec()
        component.parameters()
    except PluginError as error:
        raise Broken(f"the spec is malformed: {error}") from None


def _check_documented(component: Component) -> None:
    problems = []
    for parameter in component.parameters().values():
        if parameter.annotation is Any:
            problems.append(f"'{parameter.name}' has no type, so zoo cannot check the values users give it: "
                            f"annotate it, e.g. '{parameter.name}: int = 3'")
        if not parameter.help:
            problems.append(f"'{parameter.name}' has no help for 'zoo show': add a line "
                            f"'{parameter.name}: what it does' to the factory docstring's Args: section")
    if problems:
        raise Broken("; ".join(problems))


def _check_defaults(component: Component) -> None:
    import tomli_w

    problems = []
    for parameter in component.parameters().values():
        if parameter.default is REQUIRED or parameter.default is None:
            continue
        try:
            parameter.check(parameter.default, "default")
        except ConfigError as error:
            problems.append(f"the default of '{parameter.name}' ({parameter.default!r}) fails its own type check "
                            f"({error.message}): make the default match the annotation")
            continue
        try:
            tomli_w.dumps({parameter.name: parameter.default})
        except (TypeError, ValueError):
            problems.append(f"the default of '{parameter.name}' ({parameter.default!r}) cannot be written to a "
                            f"run's config.toml: use int, float, bool, str or a list of them")
    if problems:
        raise Broken("; ".join(problems))


def _check_accepted(component: Component, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return component.check_params(params, "conformance kit")
    except ConfigError as error:
        raise Broken(f"the parameters were refused: {error}. Give every parameter a default, "
                     f"or pass the required ones to the kit (params={{...}})") from None


def _check_unknown_refused(component: Component, params: dict[str, Any]) -> None:
    try:
        component.check_params({**params, UNKNOWN_PARAMETER: 1}, "conformance kit")
    except ConfigError:
        return
    raise Broken(f"the unknown parameter '{UNKNOWN_PARAMETER}' was accepted; zoo must refuse unknown "
                 f"parameters (do not override Component.check_params)")


_light_imports: dict[str, str] = {}

#: Run in a fresh interpreter: import a module by name (or a loose file by path), print the heavy modules it pulled in.
_IMPORT_PROBE = """
import importlib, importlib.util, sys
target, by_path = sys.argv[1], sys.argv[2] == "path"
if by_path:
    spec = importlib.util.spec_from_file_location("zoo_conformance_probe", target)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
else:
    importlib.import_module(target)
print(",".join(m for m in sys.argv[3:] if m in sys.modules))
"""


def check_light_import(component: Component) -> None:
    """Import the factory's module in a fresh interpreter; fail if it pulls in TensorFlow (or similar)."""
    if isinstance(component.factory, str):
        module, path = component.factory.partition(":")[0], None
    else:
        module = getattr(component.factory, "__module__", "") or ""
        path = inspect.getsourcefile(component.factory) if module == "__main__" or \
            module.startswith("zoo_plugins_dir.") else None
    if not module or (module == "__main__" and not path):
        raise Skip("the factory has no importable module")
    target = path or module
    if target not in _light_imports:
        done = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, target, "path" if path else "name",
                               *HEAVY_MODULES], capture_output=True, text=True, timeout=120,
                              env=_child_environment())
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            _light_imports[target] = f"importing {target} failed: {lines[-1] if lines else done.returncode}"
        else:
            heavy = done.stdout.strip()
            _light_imports[target] = (f"importing {target} imports {heavy}: import it inside the factory "
                                      f"function, so that 'zoo list' stays fast") if heavy else ""
    if _light_imports[target]:
        raise Broken(_light_imports[target])


def _child_environment() -> dict[str, str]:
    """The environment for the import check: this process's sys.path as PYTHONPATH."""
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    return env
