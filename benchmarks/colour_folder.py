"""A colour image folder made up on the spot, for the folder-mobilenet-v3-small recipe on a machine without photos.

    python benchmarks/colour_folder.py --folder DIR [--classes 10] [--per-class 100] [--size 64] [--seed 0]

Writes DIR/<class>/<n>.png: RGB images of ``size`` x ``size`` pixels, one
class per pair of a colour and a shape (disc, square, ring, cross, stripes),
each drawn at a random place and size on a random dark background with
noise, so that both colour and shape matter and no two images are alike.
Then: ``zoo run folder-mobilenet-v3-small --set dataset.path=DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

#: Hues of the classes' shapes (RGB, 0..255), and the shapes; class k is COLOURS[k % 5] x SHAPES[k // 5 % 5].
COLOURS = ((230, 40, 40), (40, 200, 60), (50, 90, 230), (235, 210, 40), (200, 60, 220))
SHAPES = ("disc", "square", "ring", "cross", "stripes")


def class_names(classes: int) -> list[str]:
    """'red-disc', 'green-disc', ...: a colour and a shape per class."""
    colours = ("red", "green", "blue", "yellow", "magenta")
    return [f"{colours[k % 5]}-{SHAPES[k // 5 % 5]}" for k in range(classes)]


def _mask(shape: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask of ``shape`` at a random centre and radius."""
    radius = rng.uniform(0.18, 0.35) * size
    cy, cx = rng.uniform(radius, size - radius, 2)
    y, x = np.mgrid[0:size, 0:size]
    dy, dx = y - cy, x - cx
    if shape == "disc":
        return dy ** 2 + dx ** 2 <= radius ** 2
    if shape == "square":
        return (abs(dy) <= radius * 0.8) & (abs(dx) <= radius * 0.8)
    if shape == "ring":
        distance = np.sqrt(dy ** 2 + dx ** 2)
        return (distance <= radius) & (distance >= radius * 0.55)
    if shape == "cross":
        arm = radius * 0.3
        return ((abs(dy) <= arm) & (abs(dx) <= radius)) | ((abs(dx) <= arm) & (abs(dy) <= radius))
    period = max(4, int(radius * 0.5))
    return ((x + y) // period % 2 == 0) & (dy ** 2 + dx ** 2 <= (radius * 1.3) ** 2)


def image(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One ``size`` x ``size`` RGB image (uint8) of class ``label``."""
    background = rng.integers(0, 70, 3)
    pixels = np.empty((size, size, 3), dtype=np.float64)
    pixels[:] = background
    colour = np.array(COLOURS[label % 5]) * rng.uniform(0.75, 1.0)
    pixels[_mask(SHAPES[label // 5 % 5], size, rng)] = colour
    pixels += rng.normal(0, 12, pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def write_folder(folder: Path, classes: int = 10, per_class: int = 100, size: int = 64, seed: int = 0) -> Path:
    """folder/<class name>/<n>.png, ``per_class`` images of each of ``classes`` classes (at most 25)."""
    if not 2 <= classes <= len(COLOURS) * len(SHAPES):
        raise ValueError(f"classes must be in [2, {len(COLOURS) * len(SHAPES)}], got {classes}")
    rng = np.random.default_rng(seed)
    for label, name in enumerate(class_names(classes)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            Image.fromarray(image(label, size, rng)).save(folder / name / f"{index:04d}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_folder(args.folder, args.classes, args.per_class, args.size, args.seed)
    print(f"{args.classes} classes x {args.per_class} images of {args.size}x{args.size} in {args.folder}")


if __name__ == "__main__":
    main()
