"""zoo-digits' own tests: zoo's conformance kit on every component, plus a few
facts of our own. Run them after installing the package: ``pip install -e .``
then ``python -m pytest tests``."""

from __future__ import annotations

import numpy as np
import pytest

from zoo_core.errors import ConfigError
from zoo_core.plugins import load_catalog
from zoo_core.testing import conformance_tests

# One test per registered component: dataset digits, architecture small-cnn,
# optimizer lion, exporter keras-file. Architectures and exporters are checked
# on our own dataset instead of the kit's synthetic one.
test_conformance = conformance_tests("zoo-digits", dataset="digits")


def test_the_split_is_stratified_and_fixed_by_the_seed() -> None:
    from zoo_digits.data import digits

    first, again, other = digits(), digits(), digits(seed=1)
    assert np.array_equal(first.x_train, again.x_train)
    assert not np.array_equal(first.x_train, other.x_train)
    assert (len(first.x_train), len(first.x_test)) == (1437, 360)
    assert np.bincount(first.y_test).min() >= 35  # every digit is in the test set
    assert first.info.input_shape == (8, 8) and first.x_train.max() == 1.0


def test_a_test_fraction_that_leaves_a_class_out_is_refused() -> None:
    from zoo_digits.data import digits

    with pytest.raises(ConfigError, match="test_fraction"):
        digits(test_fraction=0.001)


@pytest.mark.parametrize(("shape", "side"), [((8, 8), 2), ((28, 28), 7), ((32, 32, 3), 8), ((3, 3), 3)])
def test_small_cnn_pools_while_the_image_is_large_enough(shape: tuple[int, ...], side: int) -> None:
    from zoo_digits.models import small_cnn

    model = small_cnn(shape, 4)
    assert model.output_shape == (None, 4)
    assert model.get_layer("flatten").input.shape[1:3] == (side, side)


def test_the_plugin_is_registered_under_its_entry_point_name() -> None:
    catalog = load_catalog(allowlist=["zoo-digits"])
    assert catalog.find("exporter", "keras-file").plugin == "zoo-digits"


def test_keras_file_refuses_a_model_that_does_not_reload_and_leaves_nothing(tmp_path) -> None:
    import keras

    from zoo_core.errors import ExportError
    from zoo_core.export import ExportContext
    from zoo_core.testing import synthetic_dataset
    from zoo_digits.exporters import keras_file

    data = synthetic_dataset()
    model = keras.Sequential([keras.Input(data.info.input_shape), keras.layers.Flatten(),
                              keras.layers.Lambda(lambda x: x * 2.0), keras.layers.Dense(3, activation="softmax")])
    context = ExportContext(model=model, dataset=data, destination=tmp_path / "exports", model_name="lambda")
    with pytest.raises(ExportError, match="does not load back in safe mode"):
        keras_file(context)
    assert not (tmp_path / "exports").exists()
