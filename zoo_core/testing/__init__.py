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
    test_some = conformance_tests(names=["wine", "extras:softmax"], kinds=["architectures", "datasets"])

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
  earlier export;
- callback: returns a new ``keras.callbacks.Callback`` that trains a tiny
  model, whose ``zoo_state()`` is JSON, that resumes from that state and
  takes ``on_run_end(summary)``.

Importing this package does not import TensorFlow; the checks import it.
An architecture that refuses the dataset's input shape with ConfigError (as
docs/plugins.md allows) is not broken: its ``builds`` check is skipped with
the reason, and so are the checks that need a model.

Layout: ``results`` (CheckResult, the report), ``selection`` (which
components, by plugin, kind and name; their ``params``), ``parameters``
(checks for every kind), ``datasets``, ``models`` (architectures,
optimizers, losses), ``exporters``, ``callbacks``, ``examples`` (the synthetic dataset and
tiny model the checks run on); this module holds the entry points.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable

from zoo_core.components import Component
from zoo_core.testing.callbacks import check_callback
from zoo_core.testing.datasets import check_dataset
from zoo_core.testing.examples import synthetic_dataset, tiny_model, trained_tiny_model
from zoo_core.testing.exporters import check_exporter
from zoo_core.testing.models import check_architecture, check_loss, check_optimizer
from zoo_core.errors import ZooError
from zoo_core.testing.parameters import check_parameters, reject_unknown_params
from zoo_core.testing.results import CheckResult, ConformanceError, kind_of, refusal, report
from zoo_core.testing.selection import (case_name, check_params_keys, nothing_selected, params_for,
                                        select_components)

__all__ = [
    "CheckResult", "ConformanceError", "check_component", "assert_conforms", "check_plugin",
    "check_parameters", "check_dataset", "check_architecture", "check_optimizer", "check_loss",
    "check_exporter", "check_callback", "conformance_cases", "conformance_tests", "refusal", "report", "synthetic_dataset",
    "tiny_model", "trained_tiny_model",
]

CHECKERS: dict[str, Callable[..., list[CheckResult]]] = {
    "dataset": check_dataset,
    "architecture": check_architecture,
    "optimizer": check_optimizer,
    "loss": check_loss,
    "exporter": check_exporter,
    "callback": check_callback,
}
#: Every option some kind's check function takes (besides the component, params and catalog).
OPTIONS = sorted(set().union(*(inspect.signature(c).parameters for c in CHECKERS.values()))
                 - {"component", "params", "catalog"})


def check_component(kind: str, component: str | Component, params: dict[str, Any] | None = None, *,
                    catalog: Any = None, **options: Any) -> list[CheckResult]:
    """Run every check of ``kind`` on ``component``; return the results (failures do not raise).

    ``kind`` is singular or plural (``"architecture"``, ``"architectures"``).
    ``component`` is a registered name (``plugin:name`` works), or a
    :class:`Component` spec. ``params`` are its parameters; a key it does not
    declare raises ConfigError naming the real ones. ``catalog`` defaults to
    every installed plugin (``load_catalog()``). ``options`` go to the kind's
    check function; an option that function does not take is ignored, so one
    set of options (e.g. ``dataset="digits"``) can serve every kind:
    ``dataset``, ``model``, ``max_samples``, ``repeat``, ``deterministic``,
    ``light_import``.
    """
    checker = CHECKERS[kind_of(kind)]
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(sorted(unknown))} for the conformance kit; "
                        f"options: {', '.join(OPTIONS)}")
    accepted = set(inspect.signature(checker).parameters)
    chosen = {key: value for key, value in options.items() if key in accepted}
    return checker(component, params, catalog=catalog, **chosen)


def assert_conforms(kind: str, component: str | Component, params: dict[str, Any] | None = None, *,
                    catalog: Any = None, **options: Any) -> list[CheckResult]:
    """Like :func:`check_component`, but raise :class:`ConformanceError` (an AssertionError) on any failure."""
    results = check_component(kind, component, params, catalog=catalog, **options)
    if any(not result.passed for result in results):
        raise ConformanceError(results)
    return results


def _catalog(catalog: Any) -> Any:
    """``catalog``, or every installed plugin's."""
    if catalog is None:
        from zoo_core.plugins import load_catalog

        catalog = load_catalog()
    return catalog


def conformance_cases(plugin: str | None = None, *, kinds: Iterable[str] | str | None = None,
                      names: Iterable[str] | str | None = None, catalog: Any = None) -> list[tuple[str, str]]:
    """``(kind, name)`` of every component of ``plugin`` (all plugins if None), for parametrising tests.

    ``kinds`` (singular or plural) and ``names`` (bare or ``plugin:name``)
    narrow the selection; an unknown kind raises ValueError, a name that
    matches nothing UnknownNameError. Names are ``plugin:name`` when the
    bare name is ambiguous.
    """
    loaded = _catalog(catalog)
    return [(c.kind, case_name(loaded, c)) for c in select_components(loaded, plugin, kinds, names)]


def check_plugin(plugin: str | None = None, *, names: Iterable[str] | str | None = None,
                 kinds: Iterable[str] | str | None = None, catalog: Any = None,
                 params: dict[str, dict[str, Any]] | None = None, **options: Any) -> list[CheckResult]:
    """Check every component a plugin registers (every plugin's if None), or those ``names`` and ``kinds`` select.

    ``params`` maps a component's name (bare or ``plugin:name``) to its
    parameters. Every key and parameter name is checked before any check
    runs: a typo raises (UnknownNameError / ConfigError with did-you-mean).
    """
    loaded = _catalog(catalog)
    components = select_components(loaded, plugin, kinds, names)
    if not components:
        raise ValueError(nothing_selected(loaded, plugin, kinds))
    check_params_keys(params, components)
    for component in components:
        reject_unknown_params(component, params_for(component, params))
    results = []
    for component in components:
        results += check_component(component.kind, case_name(loaded, component), params_for(component, params),
                                   catalog=loaded, **options)
    return results


def _failing_test(message: str) -> Callable[..., None]:
    """A pytest test that fails with ``message``: the selection itself is wrong, or nothing is installed."""
    import pytest

    def test_conformance_selection() -> None:
        pytest.fail(message, pytrace=False)

    return test_conformance_selection


def conformance_tests(plugin: str | None = None, *, names: Iterable[str] | str | None = None,
                      kinds: Iterable[str] | str | None = None, params: dict[str, dict[str, Any]] | None = None,
                      catalog: Any = None, **options: Any) -> Callable[..., None]:
    """A pytest test function, parametrised with one case per component of ``plugin`` (or ``names``).

    In a plugin's test module::

        from zoo_core.testing import conformance_tests

        test_conformance = conformance_tests("my-plugin", params={"my-dataset": {"size": 10}})
        test_two = conformance_tests(names=["wine", "extras:softmax"], dataset="wine")

    Each case runs :func:`assert_conforms`; a failing case's message lists
    every broken contract, and a case whose component refuses the data (an
    architecture that raises ConfigError for the dataset's shape) is skipped
    with the reason. If the plugin is not installed (or failed to load), or
    the selection is wrong (an unknown kind or name, a ``params`` key that
    names no selected component), a single test fails and says so.
    """
    import pytest

    loaded = _catalog(catalog)
    try:
        components = select_components(loaded, plugin, kinds, names)
        check_params_keys(params, components)
    except (ZooError, ValueError) as error:
        return _failing_test(str(error))
    if not components:
        return _failing_test(nothing_selected(loaded, plugin, kinds))
    cases = [(c.kind, case_name(loaded, c)) for c in components]
    given = {case: params_for(c, params) for case, c in zip(cases, components)}

    @pytest.mark.parametrize(("kind", "name"), cases, ids=[f"{kind}-{name}" for kind, name in cases])
    def test_component_conforms(kind: str, name: str) -> None:
        try:
            results = assert_conforms(kind, name, given[(kind, name)], catalog=loaded, **options)
        except ZooError as error:  # a mistake in the test (e.g. a misspelt parameter), not in the component
            mistake = f"{type(error).__name__}: {error}"
        else:
            mistake = ""
        if mistake:
            pytest.fail(mistake, pytrace=False)
        refused = refusal(results)
        if refused is not None:
            pytest.skip(f"{kind} '{name}' does not apply: {refused.message}")

    return test_component_conforms
