"""How long the image-folder dataset takes to load MNIST as 70,000 PNG files (60,000 train, 10,000 test).

    python benchmarks/image_folder.py [--folder DIR] [--repeat 3]

Writes the PNGs once (DIR/train/<digit>/<n>.png, DIR/test/<digit>/<n>.png,
from zoo's packaged mnist.npz), then times the dataset factory, which lists
the folders and reads every image's header in a thread pool (the pixels
stream: they are decoded as training reads them). Prints the seconds of each
load (wall and CPU time), then decodes the training set through zoo's input
pipeline once and checks its pixels equal mnist.npz's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from zoo_core.training.streaming import decoded_examples
from zoo_plugins.datasets.image_folder import image_folder
from zoo_plugins.datasets.mnist import PACKAGED


def write_pngs(folder: Path) -> None:
    """MNIST as PNG files, one folder per digit, unless already there."""
    with np.load(PACKAGED) as data:
        for split in ("train", "test"):
            images, labels = data[f"x_{split}"], data[f"y_{split}"]
            if (folder / split).is_dir() and sum(1 for _ in (folder / split).rglob("*.png")) == len(images):
                continue
            for digit in range(10):
                (folder / split / str(digit)).mkdir(parents=True, exist_ok=True)
            for index, (image, label) in enumerate(zip(images, labels)):
                Image.fromarray(image).save(folder / split / str(label) / f"{index:05d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "zoo-mnist-png")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    write_pngs(args.folder)
    print(f"PNG files ready in {args.folder} ({time.perf_counter() - started:.1f} s)")
    for _ in range(args.repeat):
        started, cpu = time.perf_counter(), time.process_time()
        dataset = image_folder(str(args.folder / "train"), test_path=str(args.folder / "test"))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"loaded {len(dataset.x_train):,} + {len(dataset.x_test):,} images in {seconds:.2f} s "
              f"({cpu:.2f} s of CPU time: on a busy machine the wall time is longer)")
    with np.load(PACKAGED) as data:
        expected = np.sort(data["x_train"].reshape(len(data["x_train"]), -1).sum(axis=1))
    x_train = decoded_examples(dataset, dataset.train_files)  # zoo_core.training.streaming: tf.data, in parallel
    found = np.sort(np.rint(x_train * 255).reshape(len(x_train), -1).sum(axis=1))
    print("pixels match mnist.npz" if np.array_equal(found, expected) else "PIXELS DIFFER from mnist.npz")


if __name__ == "__main__":
    main()
