"""What a dataset factory returns: arrays plus the facts a model needs; the check of that contract."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from zoo_core.errors import DataError


@dataclass
class DatasetInfo:
    """Facts about a dataset that the rest of the run reads instead of assuming.

    Args:
        name: the dataset's name, e.g. ``"mnist"``.
        input_shape: shape of one example as the model sees it, e.g. ``(28, 28)``.
        num_classes: number of classes; labels are ``0 .. num_classes - 1``.
        class_names: a display name per class.
        input_dtype: dtype of the model's input, e.g. ``"float32"``.
        value_range: (low, high) of the model's input values, e.g. ``(0.0, 1.0)``.
        raw_value_range: value range of raw inputs (image pixels), e.g. ``(0, 255)``.
        normalisation: how a raw input becomes a model input, in words and as
            ``scale`` / ``offset`` (model input = raw * scale + offset).
        image: whether examples are images (so plots and ``zoo predict`` can show them).
        channels: colour channels of an image input (1 = grayscale).
        description: one paragraph about the data and where it came from.
    """

    name: str
    input_shape: tuple[int, ...]
    num_classes: int
    class_names: list[str]
    input_dtype: str = "float32"
    value_range: tuple[float, float] = (0.0, 1.0)
    raw_value_range: tuple[float, float] = (0.0, 255.0)
    scale: float = 1.0 / 255.0
    offset: float = 0.0
    image: bool = True
    channels: int = 1
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (used in manifests and export metadata)."""
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        data["value_range"] = list(self.value_range)
        data["raw_value_range"] = list(self.raw_value_range)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DatasetInfo":
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["input_shape"] = tuple(data["input_shape"])
        data["value_range"] = tuple(data["value_range"])
        data["raw_value_range"] = tuple(data.get("raw_value_range", (0.0, 255.0)))
        return cls(**data)


@dataclass
class Dataset:
    """Train and test splits as numpy arrays, and their :class:`DatasetInfo`.

    ``x_*`` have shape ``(n, *info.input_shape)`` and dtype ``info.input_dtype``;
    ``y_*`` are integer class indices of shape ``(n,)``.
    """

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    info: DatasetInfo


def check_dataset(dataset: Dataset, where: str) -> None:
    """Refuse a dataset that does not honour the contract in zoo_core.data."""
    import numpy as np

    info = dataset.info
    if not isinstance(info, DatasetInfo):
        raise DataError(f"{where}: the dataset's info is not a zoo_core.data.DatasetInfo")
    for split in ("train", "test"):
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
            raise DataError(f"{where}: x_{split} and y_{split} must be numpy arrays")
        if x.shape[1:] != tuple(info.input_shape):
            raise DataError(f"{where}: x_{split} has examples of shape {x.shape[1:]}, "
                            f"but info.input_shape is {tuple(info.input_shape)}")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{where}: y_{split} must be one integer label per example "
                            f"(got shape {y.shape} for {len(x)} examples)")
        if len(x) == 0:
            raise DataError(f"{where}: the {split} split is empty")
        if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= info.num_classes:
            raise DataError(f"{where}: y_{split} must hold integer labels 0..{info.num_classes - 1}")
    if len(info.class_names) != info.num_classes:
        raise DataError(f"{where}: {len(info.class_names)} class names for {info.num_classes} classes")


def limit(dataset: Dataset, max_train: int, max_test: int) -> Dataset:
    """The first ``max_train`` / ``max_test`` examples (0: all)."""
    def head(array: Any, count: int) -> Any:
        return array[:count] if count else array

    return Dataset(head(dataset.x_train, max_train), head(dataset.y_train, max_train),
                   head(dataset.x_test, max_test), head(dataset.y_test, max_test), dataset.info)
