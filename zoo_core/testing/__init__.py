"""The conformance kit: check that a component honours its kind's contract.

In the spirit of scikit-learn's ``check_estimator``: give it a component (a
registered name, ``plugin:name``, or a :class:`~zoo_core.Component` you built
yourself) and it runs the checks of that kind, each reported as a
:class:`CheckResult` whose message names the broken contract and the fix::

    from zoo_core.testing import assert_conforms, check_component

    results = check_component("architecture", "small-cnn")   # list[CheckResult]
    assert_conforms("dataset", "digits")                     # AssertionError listing failures

From pytest, one line per plugin gives one test per component::

    from zoo_core.testing import conformance_tests

    test_conformance = conformance_tests("zoo-digits")

What is checked, per kind (see docs/plugins.md for the contracts):

- every kind: the spec is well formed; parameters are typed, documented,
  their defaults are valid and storable in ``config.toml``; the defaults are
  accepted and an unknown parameter is refused; the factory's module imports
  without TensorFlow (so ``zoo list`` stays fast);
- dataset: a ``Dataset`` of numpy arrays of the declared shape and dtype,
  labels in ``0..num_classes-1``, values inside ``value_range``, consistent
  ``DatasetInfo``, the same data on every call;
- architecture: a ``keras.Model`` for the dataset's input shape whose output
  is ``(batch, num_classes)`` probabilities summing to one, that trains one
  step and survives ``model.keras`` save and safe-mode reload;
- optimizer / loss: a new Keras object per call that works in a one-step fit
  of a tiny model and survives save and safe-mode reload (a loss must also
  prefer right answers);
- exporter: with a tiny trained model, returns an ``ExportResult`` with
  status ok, whose path exists inside the destination with the recorded
  size and sha256, leaves no temporary files, and never overwrites an
  earlier export.

Importing this package does not import TensorFlow; the checks import it.
Layout: ``results`` (CheckResult, the report), ``parameters`` (checks for
every kind), ``datasets``, ``models`` (architectures, optimizers, losses),
``exporters``, ``examples`` (the synthetic dataset and tiny model the checks
run on); this module holds the entry points.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable

from zoo_core.components import KINDS, Component
from zoo_core.testing.datasets import check_dataset
from zoo_core.testing.examples import synthetic_dataset, tiny_model, trained_tiny_model
from zoo_core.testing.exporters import check_exporter
from zoo_core.testing.models import check_architecture, check_loss, check_optimizer
from zoo_core.testing.parameters import check_parameters
from zoo_core.testing.results import CheckResult, ConformanceError, report

__all__ = [
    "CheckResult", "ConformanceError", "check_component", "assert_conforms", "check_plugin",
    "check_parameters", "check_dataset", "check_architecture", "check_optimizer", "check_loss",
    "check_exporter", "conformance_cases", "conformance_tests", "report", "synthetic_dataset", "tiny_model",
    "trained_tiny_model",
]

CHECKERS: dict[str, Callable[..., list[CheckResult]]] = {
    "dataset": check_dataset,
    "architecture": check_architecture,
    "optimizer": check_optimizer,
    "loss": check_loss,
    "exporter": check_exporter,
}


def check_component(kind: str, component: str | Component, params: dict[str, Any] | None = None, *,
                    catalog: Any = None, **options: Any) -> list[CheckResult]:
    """Run every check of ``kind`` on ``component``; return the results (failures do not raise).

    ``component`` is a registered name (``plugin:name`` works), or a
    :class:`Component` spec. ``catalog`` defaults to every installed plugin
    (``load_catalog()``). ``options`` go to the kind's check function; an
    option that function does not take is ignored, so one set of options
    (e.g. ``dataset="digits"``) can serve every kind:
    ``dataset``, ``model``, ``max_samples``, ``repeat``, ``deterministic``,
    ``light_import``.
    """
    if kind not in CHECKERS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    checker = CHECKERS[kind]
    accepted = set(inspect.signature(checker).parameters)
    unknown = set(options) - set().union(*(inspect.signature(c).parameters for c in CHECKERS.values()))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(sorted(unknown))} for the conformance kit")
    chosen = {key: value for key, value in options.items() if key in accepted}
    return checker(component, params, catalog=catalog, **chosen)


def assert_conforms(kind: str, component: str | Component, params: dict[str, Any] | None = None, *,
                    catalog: Any = None, **options: Any) -> list[CheckResult]:
    """Like :func:`check_component`, but raise :class:`ConformanceError` (an AssertionError) on any failure."""
    results = check_component(kind, component, params, catalog=catalog, **options)
    if any(not result.passed for result in results):
        raise ConformanceError(results)
    return results


def conformance_cases(plugin: str | None = None, *, kinds: Iterable[str] | None = None,
                      catalog: Any = None) -> list[tuple[str, str]]:
    """``(kind, name)`` of every component of ``plugin`` (all plugins if None), for parametrising tests.

    Names are ``plugin:name`` when the bare name is ambiguous.
    """
    if catalog is None:
        from zoo_core.plugins import load_catalog

        catalog = load_catalog()
    wanted = set(kinds or KINDS)
    cases = []
    for component in catalog.components():
        if component.kind in wanted and (plugin is None or component.plugin == plugin):
            ambiguous = len(catalog.by_kind[component.kind][component.name]) > 1
            cases.append((component.kind, component.qualified_name if ambiguous else component.name))
    return cases


def check_plugin(plugin: str, *, catalog: Any = None, params: dict[str, dict[str, Any]] | None = None,
                 **options: Any) -> list[CheckResult]:
    """Check every component a plugin registers. ``params`` maps a component name to its parameters."""
    if catalog is None:
        from zoo_core.plugins import load_catalog

        catalog = load_catalog()
    cases = conformance_cases(plugin, catalog=catalog)
    if not cases:
        raise ValueError(_no_plugin_message(plugin, catalog))
    results = []
    for kind, name in cases:
        results += check_component(kind, name, (params or {}).get(name), catalog=catalog, **options)
    return results


def _no_plugin_message(plugin: str, catalog: Any) -> str:
    records = {record.name: record for record in catalog.plugins}
    if plugin in records and records[plugin].status != "loaded":
        record = records[plugin]
        return f"plugin '{plugin}' is {record.status}: {record.error}"
    if plugin in records:
        return f"plugin '{plugin}' registers no components"
    installed = ", ".join(sorted(records)) or "(none)"
    return (f"no plugin named '{plugin}' is installed (installed: {installed}); install your package "
            f"(pip install -e .) so that its 'zoo' entry point is found")


def conformance_tests(plugin: str | None = None, *, kinds: Iterable[str] | None = None,
                      params: dict[str, dict[str, Any]] | None = None, catalog: Any = None,
                      **options: Any) -> Callable[..., None]:
    """A pytest test function, parametrised with one case per component of ``plugin``.

    In a plugin's test module::

        from zoo_core.testing import conformance_tests

        test_conformance = conformance_tests("my-plugin", params={"my-dataset": {"size": 10}})

    Each case runs :func:`assert_conforms`; a failing case's message lists
    every broken contract. If the plugin is not installed (or failed to
    load), a single case fails and says so.
    """
    import pytest

    loaded = catalog
    if loaded is None:
        from zoo_core.plugins import load_catalog

        loaded = load_catalog()
    cases = conformance_cases(plugin, kinds=kinds, catalog=loaded)
    if not cases:
        message = _no_plugin_message(plugin, loaded) if plugin else "no components are installed"

        def test_plugin_is_installed() -> None:
            pytest.fail(message)

        return test_plugin_is_installed

    @pytest.mark.parametrize(("kind", "name"), cases, ids=[f"{kind}-{name}" for kind, name in cases])
    def test_component_conforms(kind: str, name: str) -> None:
        assert_conforms(kind, name, (params or {}).get(name), catalog=loaded, **options)

    return test_component_conforms
