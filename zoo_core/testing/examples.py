"""The data and models the checks run on: a synthetic dataset and a tiny trained model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zoo_core.data import Dataset, DatasetInfo
from zoo_core.testing.results import resolve


def synthetic_dataset(input_shape: tuple[int, ...] = (8, 8), num_classes: int = 3, train: int = 96,
                      test: int = 48, seed: int = 0) -> Dataset:
    """A small, linearly separable dataset in [0, 1]: class k lights up the k-th block of features.

    Used by the kit when no dataset is given; also handy in a plugin's own tests.
    """
    rng = np.random.default_rng(seed)
    features = math.prod(input_shape)
    block = max(1, features // num_classes)

    def split(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.arange(count) % num_classes).astype(np.int64)
        x = rng.uniform(0.0, 0.3, size=(count, features)).astype(np.float32)
        for index, label in enumerate(labels):
            start = (label * block) % features
            x[index, start:start + block] += 0.7
        return np.clip(x, 0.0, 1.0).reshape((count, *input_shape)), labels

    x_train, y_train = split(train)
    x_test, y_test = split(test)
    info = DatasetInfo(name="synthetic", input_shape=tuple(input_shape), num_classes=num_classes,
                       class_names=[f"class-{k}" for k in range(num_classes)], value_range=(0.0, 1.0),
                       raw_value_range=(0.0, 1.0), scale=1.0, offset=0.0, image=len(input_shape) in (2, 3),
                       channels=input_shape[-1] if len(input_shape) == 3 else 1,
                       description="synthetic data from zoo_core.testing")
    return Dataset(x_train, y_train, x_test, y_test, info)


def tiny_model(input_shape: tuple[int, ...], num_classes: int) -> Any:
    """A tiny dense Keras classifier (softmax output) with fixed initial weights."""
    import keras

    return keras.Sequential([
        keras.Input(shape=tuple(input_shape), name="image"),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=1)),
        keras.layers.Dense(num_classes, activation="softmax",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=2)),
    ], name="tiny")


def trained_tiny_model(dataset: Dataset, epochs: int = 40) -> Any:
    """:func:`tiny_model` trained on ``dataset`` (full batches, no shuffling: the same model every time)."""
    import keras

    model = tiny_model(dataset.info.input_shape, dataset.info.num_classes)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(dataset.x_train, dataset.y_train, epochs=epochs, batch_size=len(dataset.x_train),
              shuffle=False, verbose=0)
    return model


_default_model: dict[str, Any] = {}


def example_data(dataset: Any, catalog: Any, max_samples: int) -> Dataset:
    """The dataset to check against: the synthetic one, a Dataset given, or a registered dataset's name."""
    if dataset is None:
        return synthetic_dataset()
    if isinstance(dataset, str):
        component = resolve("dataset", dataset, catalog)
        dataset = component.load_factory()(**component.check_params({}, "conformance kit"))
    if isinstance(dataset, DatasetInfo):
        synthetic = synthetic_dataset(tuple(dataset.input_shape), dataset.num_classes, train=32, test=16)
        low, high = dataset.value_range
        for key in ("x_train", "x_test"):
            values = getattr(synthetic, key) * (high - low) + low
            setattr(synthetic, key, values.astype(dataset.input_dtype))
        synthetic.info = dataset
        return synthetic
    from zoo_core.data import limit

    return limit(dataset, max_samples, max_samples)


def example_model(dataset: Any, model: Any, catalog: Any, max_samples: int) -> tuple[Dataset, Any]:
    if dataset is None and model is None:
        if "synthetic" not in _default_model:
            data = synthetic_dataset()
            _default_model["synthetic"] = (data, trained_tiny_model(data))
        return _default_model["synthetic"]
    data = example_data(dataset, catalog, max_samples)
    return data, model if model is not None else trained_tiny_model(data, epochs=20)
