"""Random changes to training images that a dataset asks for (:class:`Augmentation`), and their check.

This is the contract: a dataset returns an Augmentation with its data
(``zoo_core.data.Dataset`` or ``StreamingDataset``); zoo_core.training.augmentation
makes the changes, to training batches only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from zoo_core._util.values import Range
from zoo_core.errors import DataError

#: The largest value of each of Augmentation's ranges (each is a fraction, 0 = no change).
LIMITS = {"rotation": 0.5, "zoom": 0.9, "translation": 0.5, "contrast": 1.0, "brightness": 1.0}

# The declared types of an image dataset's augmentation parameters, for its factory's signature
# (so that `zoo show` prints their ranges); see image-folder's random_* parameters.
RandomFlip = Literal["none", "horizontal", "vertical", "both"]
#: The ways an image may be flipped at random (Augmentation.flip).
FLIPS: tuple[str, ...] = get_args(RandomFlip)
RandomRotation = Annotated[float, Range(0, LIMITS["rotation"])]
RandomZoom = Annotated[float, Range(0, LIMITS["zoom"])]
RandomTranslation = Annotated[float, Range(0, LIMITS["translation"])]
RandomContrast = Annotated[float, Range(0, LIMITS["contrast"])]
RandomBrightness = Annotated[float, Range(0, LIMITS["brightness"])]


@dataclass(frozen=True)
class Augmentation:
    """Random changes to the training images, drawn anew at every step (zoo_core.training.augmentation).

    Only training batches are changed: validation, the test metrics and
    every export see the images as they are. The same seed gives the same
    changes, and a resumed run makes the very changes an uninterrupted one
    would. The defaults change nothing.

    Args:
        flip: "none", "horizontal" (left-right, half of the images), "vertical" or "both".
        rotation: the largest turn, as a fraction of a full turn (0.05: up to ±18°).
        zoom: the largest change of scale, as a fraction (0.1: 90% to 110%).
        translation: the largest shift, as a fraction of the height and of the width.
        contrast: the largest change of contrast, as a fraction (0.2: a factor of 0.8 to 1.2).
        brightness: the largest shift of brightness, as a fraction of the value range.
    """

    flip: str = "none"
    rotation: float = 0.0
    zoom: float = 0.0
    translation: float = 0.0
    contrast: float = 0.0
    brightness: float = 0.0

    def changes_anything(self) -> bool:
        """Whether any change is asked for (the defaults ask for none)."""
        return self != Augmentation()


def check_augmentation(augmentation: Augmentation | None, info: Any, where: str) -> None:
    """Refuse an augmentation of data that are not images (``info``: the dataset's DatasetInfo), or with a flip or
    range out of bounds."""
    if augmentation is None:
        return
    if not isinstance(augmentation, Augmentation):
        raise DataError(f"{where}: the dataset's augmentation is not a zoo_core.augmentation.Augmentation")
    if not augmentation.changes_anything():
        return
    if not info.image or len(info.input_shape) not in (2, 3):
        raise DataError(f"{where}: augmentation changes images, but the examples are not images "
                        f"(input_shape {tuple(info.input_shape)}, image={info.image})",
                        hint="leave the random_* parameters at their defaults for feature vectors")
    if augmentation.flip not in FLIPS:
        raise DataError(f"{where}: augmentation flip must be one of {', '.join(FLIPS)}, got {augmentation.flip!r}")
    for name, most in LIMITS.items():
        value = getattr(augmentation, name)
        if not 0.0 <= value <= most:
            raise DataError(f"{where}: augmentation {name} must be a fraction in [0, {most}], got {value!r}")
