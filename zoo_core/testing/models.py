"""Checks of the kinds that make or train a Keras model: architectures, optimizers and losses."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from zoo_core.components import Component
from zoo_core.data import Dataset
from zoo_core.errors import ConfigError
from zoo_core.testing.examples import example_data, synthetic_dataset, tiny_model
from zoo_core.testing.parameters import begin_checks
from zoo_core.testing.results import Broken, CheckResult, Skip, first_line

#: Largest difference from 1 allowed for a row of probabilities.
SUM_TOLERANCE = 1e-3
#: Input shapes the kit builds an architecture for when no dataset is given, in order, until one is
#: accepted (an architecture may refuse a shape with ConfigError): grayscale, with a channel axis,
#: colour, a feature vector.
EXAMPLE_SHAPES: tuple[tuple[int, ...], ...] = ((8, 8), (8, 8, 1), (8, 8, 3), (16,))
#: What a loss receives, for failure messages.
LABELS_HINT = ("zoo calls a loss with integer class labels of shape (batch,) and probabilities of shape "
               "(batch, num_classes); a loss that wants one-hot labels must say so with "
               "loss.zoo_one_hot_labels = True")


def check_architecture(component: str | Component, params: dict[str, Any] | None = None, *,
                       catalog: Any = None, dataset: Any = None, max_samples: int = 500,
                       light_import: bool = True) -> list[CheckResult]:
    """Check an architecture: a Keras model for the dataset's shape that outputs class probabilities.

    ``dataset`` is a ``Dataset``, a ``DatasetInfo``, or a registered
    dataset's name; by default a synthetic 3-class dataset of the first
    shape in :data:`EXAMPLE_SHAPES` the architecture accepts. If it refuses
    the given dataset's shape with ConfigError (and builds for another
    shape), ``builds`` is skipped with the reason: it does not apply to
    that dataset.
    """
    component, checks, values = begin_checks("architecture", component, params, catalog, light_import)
    data = checks.run("example_data", example_data, dataset, catalog, max_samples)
    built = checks.run("builds", _build_model, component, values, data, dataset is None,
                       needs=["defaults_accepted", "example_data"])
    model, data = built if built is not None else (None, data)
    checks.run("input_shape", _check_model_input, model, data, needs=["builds"])
    probabilities = checks.run("output_shape", _check_model_output, model, data, needs=["builds"])
    checks.run("probabilities", _check_probabilities, probabilities, needs=["output_shape"])
    checks.run("trains_one_step", _check_model_trains, model, data, needs=["output_shape"])
    checks.run("saves_and_reloads", _check_model_reloads, model, data, needs=["output_shape"])
    checks.run("new_model_per_call", _check_new_model, component, values, data, model, needs=["builds"])
    return checks.results


def _build_model(component: Component, values: dict[str, Any], data: Dataset, synthetic: bool) -> tuple[Any, Dataset]:
    """The model for ``data`` and the data it was built for.

    A ConfigError is how an architecture refuses an input shape. On the
    synthetic data the next example shape is tried; on a dataset the user
    gave, the refusal is a skip if some example shape builds (so the shape,
    not a parameter, was refused), else a failure.
    """
    shape, classes = tuple(data.info.input_shape), data.info.num_classes
    try:
        return _new_model(component, values, shape, classes), data
    except ConfigError as error:
        refused = error
    accepted, model, refusals = _accepted_shape(component, values, classes)
    if synthetic and accepted is not None:
        return model, synthetic_dataset(accepted, classes)
    if synthetic:
        raise Broken(f"the factory raised ConfigError for every example input shape: {_reasons(refusals)}; if a "
                     f"parameter value is refused, fix its default; if the architecture takes other shapes, pass "
                     f"dataset=... (a Dataset, a DatasetInfo or a dataset's name) with one it takes")
    if accepted is None:
        raise Broken(f"the factory raised ConfigError for the dataset's input shape {shape}: {_reason(refused)}, "
                     f"and for every example input shape: {_reasons(refusals)}; so a parameter value, "
                     f"not only the shape, is refused")
    raise Skip(f"refuses the dataset's input shape {shape} with ConfigError: {_reason(refused)} "
               f"(it builds for {accepted}; zoo allows an architecture to refuse shapes it cannot take)")


def _new_model(component: Component, values: dict[str, Any], shape: tuple[int, ...], classes: int) -> Any:
    """Call the factory for ``shape``; it must return a keras.Model."""
    import keras

    model = component.load_factory()(shape, classes, **values)
    if not isinstance(model, keras.Model):
        raise Broken(f"the factory returned {type(model).__name__}; an architecture factory must return a "
                     f"keras.Model (uncompiled) built for input_shape {shape}")
    return model


def _accepted_shape(component: Component, values: dict[str, Any], classes: int) -> tuple[Any, Any, list[Any]]:
    """The first example shape the architecture builds for without ConfigError and its model
    (None, None if there is none), and the ``(shape, ConfigError)`` refusals before it."""
    refusals = []
    for shape in EXAMPLE_SHAPES:
        try:
            return shape, _new_model(component, values, shape, classes), refusals
        except ConfigError as error:
            refusals.append((shape, error))
    return None, None, refusals


def _reason(error: ConfigError) -> str:
    """A ConfigError's message with its hint, on one line."""
    return f"{error.message} ({error.hint})" if error.hint else error.message


def _reasons(refusals: list[tuple[tuple[int, ...], ConfigError]]) -> str:
    """'(8, 8), (8, 8, 1): reason; (16,): other reason': each distinct reason once, after its shapes."""
    shapes_by_reason: dict[str, list[str]] = {}
    for shape, error in refusals:
        shapes_by_reason.setdefault(_reason(error), []).append(str(shape))
    return "; ".join(f"{', '.join(shapes)}: {reason}" for reason, shapes in shapes_by_reason.items())


def _check_model_input(model: Any, data: Dataset) -> None:
    shape = tuple(data.info.input_shape)
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        raise Broken(f"the model has {len(inputs)} inputs; it must take one input of shape (batch, *input_shape)")
    declared = tuple(inputs[0].shape[1:])
    if any(side is not None and side != expected for side, expected in zip(declared, shape)) \
            or len(declared) != len(shape):
        raise Broken(f"the model's input is (batch, {', '.join(map(str, declared))}), but the dataset's "
                     f"input_shape is {shape}: build the model with keras.Input(shape=input_shape)")


def _check_model_output(model: Any, data: Dataset) -> np.ndarray:
    import keras

    x = data.x_test[:4]
    output = keras.ops.convert_to_numpy(model(x, training=False))
    expected = (len(x), data.info.num_classes)
    if output.shape != expected:
        raise Broken(f"for a batch of {len(x)} the model outputs shape {output.shape}, expected {expected} "
                     f"(batch, num_classes): end with keras.layers.Dense(num_classes, activation='softmax')")
    return output


def _check_probabilities(output: np.ndarray) -> None:
    sums = output.sum(axis=1)
    if not np.isfinite(output).all():
        raise Broken("the model outputs NaN or infinite values")
    if output.min() < -1e-6 or output.max() > 1 + 1e-6 or np.abs(sums - 1).max() > SUM_TOLERANCE:
        raise Broken(f"the output is not class probabilities: values from {output.min():.3g} to "
                     f"{output.max():.3g} (must be in [0, 1]), rows sum to {sums.min():.4g}..{sums.max():.4g} "
                     f"(must be 1): end the model with keras.layers.Dense(num_classes, activation='softmax') "
                     f"(zoo's losses, metrics and exporters expect probabilities, not logits)")


def _check_model_trains(model: Any, data: Dataset) -> None:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    before = _weights(model)
    if not before:
        raise Broken("the model has no trainable weights")
    loss = float(np.asarray(model.train_on_batch(data.x_train[:16], data.y_train[:16])).ravel()[0])
    if not math.isfinite(loss):
        raise Broken(f"one training step gave the loss {loss}")
    if all(np.array_equal(a, b) for a, b in zip(before, _weights(model))):
        raise Broken("one training step changed no weight: are all layers frozen, or is the output "
                     "disconnected from the weights?")


def _weights(model: Any) -> list[np.ndarray]:
    """Copies of the model's trainable weights as numpy arrays."""
    import keras

    return [np.array(keras.ops.convert_to_numpy(weight)) for weight in model.trainable_weights]


def _check_model_reloads(model: Any, data: Dataset) -> None:
    import keras

    from zoo_core.export import keras_probabilities

    with tempfile.TemporaryDirectory(prefix="zoo-conformance-") as folder:
        path = Path(folder) / "model.keras"
        try:
            model.save(path)
            loaded = keras.models.load_model(path, safe_mode=True)
        except Exception as error:  # noqa: BLE001
            raise Broken(f"model.keras does not save and load back in safe mode ({type(error).__name__}: "
                         f"{first_line(error)}); zoo saves every run's model this way and loads it for "
                         f"resume, evaluate, export and predict: register custom layers with "
                         f"@keras.saving.register_keras_serializable and avoid Lambda layers") from None
    x = data.x_test[:8]
    difference = float(np.abs(keras_probabilities(loaded, x) - keras_probabilities(model, x)).max())
    if difference > 1e-5:
        raise Broken(f"the reloaded model answers differently (max difference {difference:.3g}): "
                     f"some state is not saved (implement get_config / build for custom layers)")


def _check_new_model(component: Component, values: dict[str, Any], data: Dataset, first: Any) -> None:
    info = data.info
    second = _new_model(component, values, tuple(info.input_shape), info.num_classes)
    if second is first:
        raise Broken("the factory returned the same model object twice: build a new model on every call")


def check_optimizer(component: str | Component, params: dict[str, Any] | None = None, *,
                    catalog: Any = None, light_import: bool = True) -> list[CheckResult]:
    """Check an optimizer: a new keras Optimizer per call that works in a one-step fit and reloads."""
    component, checks, values = begin_checks("optimizer", component, params, catalog, light_import)
    optimizer = checks.run("builds", _build_optimizer, component, values, needs=["defaults_accepted"])
    checks.run("new_object_per_call", _check_new_object, component, values, optimizer, needs=["builds"])
    model = checks.run("fits_one_step", _fit_one_step, optimizer, None, needs=["builds"])
    checks.run("saves_and_reloads", _check_compiled_reloads, model, needs=["fits_one_step"])
    return checks.results


def _build_optimizer(component: Component, values: dict[str, Any]) -> Any:
    import keras

    optimizer = component.load_factory()(**values)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise Broken(f"the factory returned {type(optimizer).__name__}; an optimizer factory must return a "
                     f"new keras.optimizers.Optimizer")
    return optimizer


def _check_new_object(component: Component, values: dict[str, Any], first: Any) -> None:
    if component.load_factory()(**values) is first:
        raise Broken("the factory returned the same object twice: Keras binds an optimizer (and its state) "
                     "to one model, so build a new one on every call")


def check_loss(component: str | Component, params: dict[str, Any] | None = None, *,
               catalog: Any = None, light_import: bool = True) -> list[CheckResult]:
    """Check a loss: comparable labels and probabilities give a finite value that prefers right answers."""
    component, checks, values = begin_checks("loss", component, params, catalog, light_import)
    loss = checks.run("builds", _build_loss, component, values, needs=["defaults_accepted"])
    checks.run("prefers_right_answers", _check_loss_values, loss, needs=["builds"])
    model = checks.run("fits_one_step", _fit_one_step, None, loss, needs=["builds"])
    checks.run("saves_and_reloads", _check_compiled_reloads, model, needs=["fits_one_step"])
    return checks.results


def _build_loss(component: Component, values: dict[str, Any]) -> Any:
    loss = component.load_factory()(**values)
    if not callable(loss):
        raise Broken(f"the factory returned {type(loss).__name__}; a loss factory must return a keras.losses.Loss")
    return loss


def _loss_value(loss: Any, labels: np.ndarray, probabilities: np.ndarray, classes: int) -> float:
    import keras

    from zoo_core.training.input_pipeline import one_hot_if_needed

    y = one_hot_if_needed(loss, labels, classes)
    value = keras.ops.convert_to_numpy(loss(y, probabilities.astype(np.float32)))
    return float(np.mean(value))


def _check_loss_values(loss: Any) -> None:
    classes, labels = 4, np.array([0, 1, 2, 3, 1, 0], dtype=np.int64)
    right = np.full((len(labels), classes), 0.02, np.float32)
    right[np.arange(len(labels)), labels] = 0.94
    wrong = np.roll(right, 1, axis=1)
    uniform = np.full((len(labels), classes), 1.0 / classes, np.float32)
    try:
        values = {name: _loss_value(loss, labels, p, classes)
                  for name, p in (("right", right), ("uniform", uniform), ("wrong", wrong))}
    except Exception as error:  # noqa: BLE001 - most often labels of the wrong form
        raise Broken(f"calling the loss on labels of shape {labels.shape} and probabilities of shape "
                     f"{right.shape} raised {type(error).__name__}: {first_line(error)}; {LABELS_HINT}") from None
    if not all(math.isfinite(v) for v in values.values()):
        raise Broken(f"the loss is not finite for probabilities in (0, 1): {values}")
    if not values["right"] < values["uniform"] < values["wrong"]:
        raise Broken(f"the loss must be lowest for right answers and highest for wrong ones, got "
                     f"right {values['right']:.4g}, uniform {values['uniform']:.4g}, wrong {values['wrong']:.4g}: "
                     f"it must compare integer labels (or one-hot, marked with loss.zoo_one_hot_labels = True) "
                     f"with probabilities (from_logits=False)")


def _fit_one_step(optimizer: Any, loss: Any) -> Any:
    """Compile the tiny model with the optimizer (default Adam) and loss (default sparse CE); fit one step."""
    import keras

    from zoo_core.training.input_pipeline import one_hot_if_needed

    data = synthetic_dataset(train=16, test=8)
    model = tiny_model(data.info.input_shape, data.info.num_classes)
    model.compile(optimizer=optimizer or keras.optimizers.Adam(0.01),
                  loss=loss or keras.losses.SparseCategoricalCrossentropy())
    y = one_hot_if_needed(loss, data.y_train, data.info.num_classes) if loss is not None else data.y_train
    before = _weights(model)
    try:
        value = float(np.asarray(model.train_on_batch(data.x_train, y)).ravel()[0])
    except Exception as error:  # noqa: BLE001
        hint = LABELS_HINT if loss is not None else "the optimizer must work with model.compile and fit"
        raise Broken(f"one training step of a tiny model raised {type(error).__name__}: "
                     f"{first_line(error)}; {hint}") from None
    if not math.isfinite(value):
        raise Broken(f"one training step of a tiny model gave the loss {value}")
    if all(np.array_equal(a, b) for a, b in zip(before, _weights(model))):
        raise Broken("one training step of a tiny model changed no weight")
    return model


def _check_compiled_reloads(model: Any) -> None:
    import keras

    with tempfile.TemporaryDirectory(prefix="zoo-conformance-") as folder:
        path = Path(folder) / "model.keras"
        try:
            model.save(path)
            loaded = keras.models.load_model(path, safe_mode=True)
        except Exception as error:  # noqa: BLE001
            loaded, problem = None, f"{type(error).__name__}: {first_line(error)}"
        else:
            problem = "" if loaded.compiled else "it came back uncompiled"
    if problem:
        raise Broken(f"a model compiled with it does not save and load back as model.keras in safe mode "
                     f"({problem}); zoo's checkpoints (resume) need that: use Keras' own classes, or register "
                     f"yours with @keras.saving.register_keras_serializable and give it get_config")
