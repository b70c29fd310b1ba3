"""Exporter checks: a verified artifact in the destination, reported truly, never overwritten."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from zoo_core.components import Component
from zoo_core.data import Dataset
from zoo_core.testing.examples import example_model
from zoo_core.testing.parameters import begin_checks
from zoo_core.testing.results import Broken, CheckResult

#: The comparison figures a verified export reports (``zoo_core.export.compare_probabilities``).
COMPARISON_FIGURES = ("accuracy", "keras_accuracy", "max_abs_diff", "argmax_agreement", "samples")
#: Every this-many-th test label is moved to the next class in the data the kit exports with, so that the Keras
#: model's accuracy there is a figure only a real comparison reports (a tiny model is often simply perfect).
SHIFTED_LABELS_EVERY = 4


def check_exporter(component: str | Component, params: dict[str, Any] | None = None, *,
                   catalog: Any = None, dataset: Any = None, model: Any = None, max_samples: int = 500,
                   repeat: bool = True, light_import: bool = True) -> list[CheckResult]:
    """Check an exporter: it writes a verified artifact into the destination and reports it truly.

    ``dataset`` (a ``Dataset`` or a registered name; default synthetic) and
    ``model`` (default: a tiny model trained on it) make the export context.
    ``repeat`` exports twice to check that nothing is overwritten.
    ``verified`` checks that the figures come from comparing the artifact
    with the Keras model on the test examples, as the contract promises:
    every :data:`SHIFTED_LABELS_EVERY`-th test label is moved to the next
    class first, and the reported Keras accuracy must be the one the kit
    computes on those labels.
    """
    component, checks, values = begin_checks("exporter", component, params, catalog, light_import)
    context_data = checks.run("example_model", example_model, dataset, model, catalog, max_samples)
    with tempfile.TemporaryDirectory(prefix="zoo-conformance-") as folder:
        destination = Path(folder) / "exports"
        first = checks.run("exports", _export, component, values, context_data, destination,
                           needs=["defaults_accepted", "example_model"])
        checks.run("result_matches_artifact", _check_artifact, first, destination, needs=["exports"])
        checks.run("verified", _check_verified, first, context_data, needs=["exports"])
        checks.run("no_leftovers", _check_no_leftovers, destination, needs=["exports"])
        if repeat:
            checks.run("never_overwrites", _check_never_overwrites, component, values, context_data,
                       destination, first, needs=["result_matches_artifact"])
    return checks.results


def _export(component: Component, values: dict[str, Any], context_data: tuple[Dataset, Any],
            destination: Path) -> Any:
    from zoo_core.export import ExportContext, ExportResult

    data, model = context_data
    context = ExportContext(model=model, dataset=shifted_labels(data), destination=destination,
                            model_name="conformance", metadata={"run_id": "conformance-kit"})
    result = component.load_factory()(context, **values)
    if not isinstance(result, ExportResult):
        raise Broken(f"the factory returned {type(result).__name__}; an exporter must return a "
                     f"zoo_core.export.ExportResult (and raise ExportError when verification fails)")
    if result.status != "ok":
        raise Broken(f"the export reported status {result.status!r}: {result.message or '(no message)'}; "
                     f"a verified export has status 'ok' (raise ExportError when it cannot verify)")
    return result


def _check_artifact(result: Any, destination: Path) -> None:
    from zoo_core.export import sha256_of, size_of

    path = Path(result.path)
    if not result.path or not path.exists():
        raise Broken(f"ExportResult.path {result.path!r} does not exist: return the artifact's final path")
    if destination.resolve() not in path.resolve().parents:
        raise Broken(f"the artifact {path} is outside context.destination {destination}: write only there")
    problems = []
    if not result.format:
        problems.append("ExportResult.format is empty")
    if result.size_bytes != size_of(path):
        problems.append(f"size_bytes is {result.size_bytes} but the artifact has {size_of(path)} bytes")
    if result.sha256 != sha256_of(path):
        problems.append("sha256 does not match the artifact (use zoo_core.export.sha256_of on the final file)")
    if problems:
        raise Broken("the ExportResult does not describe what was written: " + "; ".join(problems))


def shifted_labels(data: Dataset) -> Dataset:
    """``data`` with every :data:`SHIFTED_LABELS_EVERY`-th test label moved to the next class."""
    labels = data.y_test.copy()
    labels[::SHIFTED_LABELS_EVERY] = (labels[::SHIFTED_LABELS_EVERY] + 1) % data.info.num_classes
    return Dataset(data.x_train, data.y_train, data.x_test, labels, data.info)


def _check_verified(result: Any, context_data: tuple[Dataset, Any]) -> None:
    """The figures are those of a comparison with the Keras model on the kit's test examples."""
    figures = result.figures or {}
    missing = [key for key in COMPARISON_FIGURES
               if isinstance(figures.get(key), bool) or not isinstance(figures.get(key), (int, float))]
    if missing:
        raise Broken(f"the figures have no {', '.join(missing)} (got {sorted(figures) or 'none'}): verify by running "
                     f"the artifact on the test examples and comparing its answers with the Keras model's; record "
                     f"zoo_core.export.compare_probabilities' figures (compare_with_keras does both)")
    data = shifted_labels(context_data[0])
    samples = int(figures["samples"])
    if not 1 <= samples <= len(data.y_test):
        raise Broken(f"the figures say {samples} examples were compared, but the test set has {len(data.y_test)}: "
                     f"compare on verification_slice(context.dataset, verify_samples)")
    _check_keras_accuracy(figures, context_data[1], data, samples)
    _check_consistent(figures, result.thresholds or {})


def _check_keras_accuracy(figures: dict[str, Any], model: Any, data: Dataset, samples: int) -> None:
    import numpy as np

    from zoo_core.export import keras_probabilities

    answers = keras_probabilities(model, data.x_test[:samples]).argmax(axis=1)
    expected = float(np.mean(answers == data.y_test[:samples]))
    if abs(float(figures["keras_accuracy"]) - expected) > 1.0 / samples + 1e-9:  # one borderline example allowed
        raise Broken(f"the figures say the Keras model's accuracy is {figures['keras_accuracy']:.4f}, but on the first "
                     f"{samples} test examples of context.dataset it is {expected:.4f}: compare with context.model "
                     f"on context.dataset's test examples and labels (the kit moved every "
                     f"{SHIFTED_LABELS_EVERY}th label to the next class)")


def _check_consistent(figures: dict[str, Any], thresholds: dict[str, float]) -> None:
    from zoo_core.export import THRESHOLD_CHECKS, failed_thresholds

    ranges = {key: float(figures[key]) for key in ("accuracy", "keras_accuracy", "argmax_agreement")}
    if any(not 0.0 <= value <= 1.0 for value in ranges.values()) or float(figures["max_abs_diff"]) < 0:
        raise Broken(f"the figures are out of range: {ranges}, max_abs_diff {figures['max_abs_diff']} "
                     f"(shares are in [0, 1], max_abs_diff at least 0)")
    gap, disagreement = abs(ranges["accuracy"] - ranges["keras_accuracy"]), 1.0 - ranges["argmax_agreement"]
    if gap > disagreement + 1e-9:
        raise Broken(f"the figures contradict each other: accuracy {ranges['accuracy']:.4f} and keras_accuracy "
                     f"{ranges['keras_accuracy']:.4f} differ by more than the share of examples where the artifact "
                     f"and Keras disagree ({disagreement:.4f}): take them from one comparison (compare_probabilities)")
    failures = failed_thresholds(figures, {key: limit for key, limit in thresholds.items() if key in THRESHOLD_CHECKS})
    if failures:
        raise Broken(f"status 'ok', but the figures miss the thresholds: {'; '.join(failures)}: raise "
                     f"zoo_core.export.verification_error(...) instead of returning a result")


def _check_no_leftovers(destination: Path) -> None:
    hidden = sorted(str(p.relative_to(destination)) for p in destination.rglob(".*"))
    if hidden:
        raise Broken(f"temporary files were left in the destination: {', '.join(hidden)}; remove or move "
                     f"them (zoo_core.export.staged does both)")


def _check_never_overwrites(component: Component, values: dict[str, Any], context_data: tuple[Dataset, Any],
                            destination: Path, first: Any) -> None:
    from zoo_core.export import sha256_of

    second = _export(component, values, context_data, destination)
    if Path(second.path).resolve() == Path(first.path).resolve():
        raise Broken(f"a second export wrote to the same path {first.path}: never overwrite an earlier "
                     f"artifact; pick the next free name (zoo_core.export.next_free_path)")
    if not Path(first.path).exists() or sha256_of(Path(first.path)) != first.sha256:
        raise Broken(f"a second export changed or removed the first artifact {first.path}")
