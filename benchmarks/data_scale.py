"""Memory and epoch time as an image folder grows: ``zoo train -d image-folder`` against Keras' own pipeline.

Usage (from the repo root, with zoo installed)::

    python benchmarks/data_scale.py                      # 2,000, 8,000 and 32,000 images: CPU heavy
    python benchmarks/data_scale.py --sizes 2000,8000    # a shorter run
    python benchmarks/data_scale.py --folder DIR --repeats 2

Makes (once, under ``--folder``) a pool of 128x128 RGB JPEGs in 10 class
folders (a coloured gradient per class, with noise), and for each size a
folder of hard links to the first images of each class. For each size, in
one invocation and interleaved, it runs

- zoo: ``zoo train -d image-folder -a mlp`` (rgb, 1 epoch, no exports, no
  validation part: the 20 % test split is held out as in Keras below);
- Keras: ``keras.utils.image_dataset_from_directory`` (``validation_split=0.2``,
  ``subset="both"``: the same 80/20 cut, of other files) + ``fit`` of the same
  model (Rescaling, Flatten, Dense 128 + Dropout 0.2, Dense 64 + Dropout 0.2,
  softmax; Adam, batch 32), then ``evaluate`` on the 20 %.

Each run is a child process: its own peak resident memory comes from
``os.wait4``, its epoch time from the first epoch's wall time (zoo's
history.csv ``seconds``; a callback that measures the same span in Keras).
Prints the table and the two ratios the issue asks for (zoo's peak RSS at
the largest size over the smallest; zoo's epoch time over Keras' at each
size); writes ``benchmarks/results/data_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import script_run, zoo_run  # noqa: E402 - benchmarks/run.py: one child, its own peak RSS

CLASSES = 10
SIDE = 128
SIZES = (2000, 8000, 32000)


def make_pool(pool: Path, count: int) -> None:
    """``count`` JPEGs, ``count // 10`` per class, unless already there (pool/CLASS/NNNNN.jpg)."""
    import numpy as np
    from PIL import Image

    per_class = count // CLASSES
    ramp = np.linspace(0.0, 1.0, SIDE, dtype=np.float32)
    for c in range(CLASSES):
        folder = pool / f"c{c}"
        folder.mkdir(parents=True, exist_ok=True)
        colour = np.asarray([(c * 37) % 256, (c * 91) % 256, (c * 53) % 256], np.float32)
        for index in range(per_class):
            if (folder / f"{index:05d}.jpg").exists():
                continue
            rng = np.random.default_rng([c, index])  # each image the same, whichever were made before
            angle = rng.uniform(0, np.pi)
            field = np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None]
            pixels = colour * (0.4 + 0.6 * field[..., None]) + rng.normal(0, 24, (SIDE, SIDE, 3))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"{index:05d}.jpg", quality=90)


def folder_of(pool: Path, root: Path, size: int) -> Path:
    """A folder of hard links to the first ``size // 10`` images of each class of the pool."""
    folder = root / f"images-{size}"
    for c in range(CLASSES):
        (folder / f"c{c}").mkdir(parents=True, exist_ok=True)
        for index in range(size // CLASSES):
            target = folder / f"c{c}" / f"{index:05d}.jpg"
            if not target.exists():
                os.link(pool / f"c{c}" / f"{index:05d}.jpg", target)
    return folder


def zoo_train(folder: Path, runs: Path) -> dict:
    """One ``zoo train`` on the folder: its peak RSS, first epoch's time, accuracy and input figures."""
    run = zoo_run(runs, f"dataset.path={folder}", "dataset.color=rgb", "epochs=1", "validation_split=0",
                  train=["-d", "image-folder", "-a", "mlp"])
    return {**run, "epoch_seconds": run["epoch_seconds"][0]}


def keras_train(folder: Path, work: Path) -> dict:
    """One Keras run on the folder (this file as a child: ``RESULT --keras-child FOLDER``)."""
    return script_run(Path(__file__).name, work, "--keras-child", str(folder))


def keras_child(result: str, folder: str) -> None:
    """Keras' own way: image_dataset_from_directory + fit of zoo's default mlp, one epoch, timed as zoo times it."""
    import keras
    import tensorflow as tf

    class EpochTime(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.mark = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.mark

    train, test = keras.utils.image_dataset_from_directory(folder, validation_split=0.2, subset="both", seed=42,
                                                           image_size=(SIDE, SIDE), batch_size=32)
    keras.utils.set_random_seed(42)
    model = keras.Sequential([
        keras.Input((SIDE, SIDE, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.2),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dropout(0.2),
        keras.layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTime()
    model.fit(train.prefetch(tf.data.AUTOTUNE), epochs=1, callbacks=[timer], verbose=0)
    _, accuracy = model.evaluate(test.prefetch(tf.data.AUTOTUNE), verbose=0)
    Path(result).write_text(json.dumps({"epoch_seconds": timer.seconds, "accuracy": float(accuracy)}))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[2] == "--keras-child":
        keras_child(sys.argv[1], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated image counts")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "zoo-data-scale")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    started = time.perf_counter()
    make_pool(args.folder / "pool", max(sizes))
    print(f"{max(sizes):,} JPEGs ready in {args.folder / 'pool'} ({time.perf_counter() - started:.0f} s)", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="zoo-data-scale-") as work:
        for size in sizes:
            folder = folder_of(args.folder / "pool", args.folder, size)
            for repeat in range(args.repeats):
                zoo = zoo_train(folder, Path(work) / "runs")
                keras = keras_train(folder, Path(work))
                rows.append({"images": size, "repeat": repeat, "zoo": zoo, "keras": keras})
                print(f"{size:>6,} images: zoo {zoo['peak_rss_mb']:,} MB, epoch {zoo['epoch_seconds']:.1f} s "
                      f"(accuracy {zoo['accuracy']:.3f}); keras {keras['peak_rss_mb']:,} MB, epoch "
                      f"{keras['epoch_seconds']:.1f} s (accuracy {keras['accuracy']:.3f})", flush=True)
    report(rows, sizes)


def report(rows: list[dict], sizes: list[int]) -> None:
    """The table, the ratios, and benchmarks/results/data_scale.json."""
    def best(size: int, who: str, key: str) -> float:
        return min(row[who][key] for row in rows if row["images"] == size)

    print("\n| images | zoo peak RSS | Keras peak RSS | zoo epoch | Keras epoch | zoo / Keras epoch |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        ratio = best(size, "zoo", "epoch_seconds") / best(size, "keras", "epoch_seconds")
        print(f"| {size:,} | {best(size, 'zoo', 'peak_rss_mb'):,.0f} MB | {best(size, 'keras', 'peak_rss_mb'):,.0f} MB "
              f"| {best(size, 'zoo', 'epoch_seconds'):.1f} s | {best(size, 'keras', 'epoch_seconds'):.1f} s "
              f"| {ratio:.2f} |")
    growth = best(sizes[-1], "zoo", "peak_rss_mb") / best(sizes[0], "zoo", "peak_rss_mb")
    print(f"\nzoo's peak RSS at {sizes[-1]:,} images / at {sizes[0]:,}: {growth:.2f} (target <= 1.25)")
    out = HERE / "results" / "data_scale.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "rss_growth": growth}, indent=1))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
