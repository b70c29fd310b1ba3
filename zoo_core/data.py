"""What a dataset factory returns: arrays plus the facts a model needs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
