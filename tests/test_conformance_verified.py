"""The conformance kit's ``verified`` check: an exporter is verified only by figures of a real comparison.

Each fake exporter below writes its artifact correctly (staged, never
overwriting, nothing left behind), so that every other check passes; they
differ only in where their figures come from. The honest one compares the
reloaded artifact with the Keras model and passes every check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from zoo_core import Component
from zoo_core.export import (ExportResult, compare_probabilities, keras_probabilities, sha256_of, size_of, staged,
                             verification_slice)
from zoo_core.testing import CheckResult, check_component
from zoo_core.testing.exporters import SHIFTED_LABELS_EVERY, shifted_labels

pytestmark = pytest.mark.slow


def export_weights(context: Any, figures: Callable[[Any, Path], dict[str, Any]],
                   thresholds: dict[str, float] | None = None) -> ExportResult:
    """Write the model's weights as .npz, correctly; report ``figures(context, artifact)``."""
    with staged(Path(context.destination), context.model_name, ".npz", exporter="fake") as stage:
        with open(stage.path, "wb") as handle:
            np.savez(handle, *context.model.get_weights())
        measured = figures(context, stage.path)
        size, digest = size_of(stage.path), sha256_of(stage.path)
    return ExportResult("npz", "float32", str(stage.final), size, digest, figures=measured,
                        thresholds=thresholds or {})


def reloaded_answers(context: Any, artifact: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The artifact loaded into a copy of the model: its answers, the Keras model's, and the labels."""
    import keras

    copy = keras.models.clone_model(context.model)
    with np.load(artifact) as loaded:
        copy.set_weights([loaded[f"arr_{index}"] for index in range(len(loaded.files))])
    x, y = verification_slice(context.dataset, 0)
    return keras_probabilities(copy, x), keras_probabilities(context.model, x), y


def honest(context: Any) -> ExportResult:
    """Compares the reloaded artifact with the Keras model (what the contract asks)."""
    return export_weights(context, lambda c, path: compare_probabilities(*reloaded_answers(c, path)),
                          {"max_abs_diff": 1e-6, "min_argmax_agreement": 0.999})


def names_a_check(context: Any) -> ExportResult:
    """Non-empty figures that compare nothing (what the kit used to accept)."""
    return export_weights(context, lambda c, path: {"checked": 1})


def invents_perfect_figures(context: Any) -> ExportResult:
    """The figures of a perfect export, without running anything."""
    samples = len(context.dataset.y_test)
    return export_weights(context, lambda c, path: {"accuracy": 1.0, "keras_accuracy": 1.0, "max_abs_diff": 0.0,
                                                    "argmax_agreement": 1.0, "samples": samples})


def uses_its_own_labels(context: Any) -> ExportResult:
    """Compares, but against labels of its own rather than context.dataset's."""
    def figures(c: Any, path: Path) -> dict[str, Any]:
        mine, reference, _ = reloaded_answers(c, path)
        return compare_probabilities(mine, reference, reference.argmax(1))

    return export_weights(context, figures)


def contradicts_itself(context: Any) -> ExportResult:
    """The Keras side measured, the artifact's accuracy made up."""
    def figures(c: Any, path: Path) -> dict[str, Any]:
        return {**compare_probabilities(*reloaded_answers(c, path)), "accuracy": 0.2}

    return export_weights(context, figures)


def ignores_its_thresholds(context: Any) -> ExportResult:
    """Measures a real disagreement, then reports status ok anyway."""
    def figures(c: Any, path: Path) -> dict[str, Any]:
        mine, reference, labels = reloaded_answers(c, path)
        return compare_probabilities(np.roll(mine, 1, axis=1), reference, labels)

    return export_weights(context, figures, {"min_argmax_agreement": 0.99})


def check(factory: Callable[[Any], ExportResult]) -> dict[str, CheckResult]:
    results = check_component("exporter", Component(f"fake-{factory.__name__}", factory), light_import=False)
    return {result.check: result for result in results}


def test_an_exporter_that_compares_with_keras_passes_every_check() -> None:
    results = check(honest)
    assert {name: r.status for name, r in results.items() if r.status != "passed"} == {}
    assert "verified" in results


@pytest.mark.parametrize(("factory", "words"), [
    (names_a_check, "the figures have no accuracy, keras_accuracy, max_abs_diff, argmax_agreement, samples"),
    (invents_perfect_figures, "the figures say the Keras model's accuracy is 1.0000, but on the first 48 test "
                              "examples of context.dataset it is 0.7500"),
    (uses_its_own_labels, "the Keras model's accuracy is 1.0000, but"),
    (contradicts_itself, "the figures contradict each other: accuracy 0.2000 and keras_accuracy 0.7500"),
    (ignores_its_thresholds, "status 'ok', but the figures miss the thresholds: argmax_agreement"),
], ids=lambda value: getattr(value, "__name__", ""))
def test_figures_that_are_not_a_real_comparison_fail_verified_only(factory: Callable, words: str) -> None:
    results = check(factory)
    failed = {name: r.message for name, r in results.items() if r.status == "failed"}
    assert set(failed) == {"verified"}, failed  # everything else about the export is right
    assert words in " ".join(failed["verified"].split()), failed["verified"]


def test_the_kit_s_test_labels_make_a_perfect_model_score_below_one() -> None:
    """Why invented perfect figures are caught: the kit's Keras accuracy is not 1 (the shift is the reason)."""
    from zoo_core.testing.examples import example_model

    data, model = example_model(None, None, None, 500)
    answers = keras_probabilities(model, data.x_test).argmax(1)
    assert float(np.mean(answers == data.y_test)) == 1.0  # the tiny model is perfect on the plain labels
    shifted = shifted_labels(data)
    assert float(np.mean(answers == shifted.y_test)) == pytest.approx(1 - 1 / SHIFTED_LABELS_EVERY)
    assert np.array_equal(data.y_test[1::SHIFTED_LABELS_EVERY], shifted.y_test[1::SHIFTED_LABELS_EVERY])
