"""The hooks: what zoo-digits registers. zoo imports this module (the entry point)
for ``zoo list``; it only names the factories, which import their heavy
dependencies themselves when a run is built."""

from __future__ import annotations

from zoo_core import Component, hookimpl

from zoo_digits.data import digits
from zoo_digits.exporters import keras_file
from zoo_digits.models import small_cnn
from zoo_digits.optimizers import lion


@hookimpl
def register_datasets() -> list[Component]:
    return [Component("digits", digits)]


@hookimpl
def register_architectures() -> list[Component]:
    return [Component("small-cnn", small_cnn)]


@hookimpl
def register_optimizers() -> list[Component]:
    return [Component("lion", lion)]


@hookimpl
def register_exporters() -> list[Component]:
    return [Component("keras-file", keras_file)]
