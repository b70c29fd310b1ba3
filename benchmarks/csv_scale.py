"""Memory and epoch time as a CSV table grows: ``zoo train -d csv`` streamed and held, against Keras' two ways.

Usage (from the repo root, with zoo installed)::

    python benchmarks/csv_scale.py                       # 50,000, 200,000 and 800,000 rows
    python benchmarks/csv_scale.py --rows 50000,200000 --repeats 2

Makes (once, under ``--folder``) a table of 20 numeric features (10 classes,
each a Gaussian blob; 6 significant digits per value, about 180 bytes a row)
and, for each size, its first rows. For each size, in one invocation and
interleaved, it runs one epoch of the same model (Dense 128 + Dropout 0.2,
Dense 64 + Dropout 0.2, softmax; Adam, batch 32; features standardised) as

- zoo streamed: ``zoo train -d csv -a mlp --set dataset.cache=none``;
- zoo held: the same with ``cache=memory`` (what ``auto`` picks below 512 MiB);
- Keras streamed: ``tf.data.experimental.make_csv_dataset`` (the rows parsed as
  they are read, a 10,000-row shuffle buffer) + ``fit``;
- Keras held: the table parsed by Python's csv module into numpy arrays,
  then ``fit`` (the Keras tutorials' way).

zoo and Keras train on the first 80 % of the rows (zoo: its stratified
test_split = 0.2, no validation part). Each run is a child process: peak
resident memory from ``os.wait4``, epoch time from the first epoch's wall
time. Prints the table and the ratios; writes ``benchmarks/results/csv_scale.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import script_run, zoo_run  # noqa: E402 - benchmarks/run.py: one child, its own peak RSS

FEATURES = 20
CLASSES = 10
ROWS = (50_000, 200_000, 800_000)
WAYS = ("zoo streamed", "zoo held", "keras streamed", "keras held")


def make_table(path: Path, rows: int) -> None:
    """``rows`` rows of FEATURES values and a label ``cN`` (a header first), unless the file has them already."""
    import numpy as np

    if path.is_file() and sum(1 for _ in path.open()) == rows + 1:
        return
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1.0, (CLASSES, FEATURES))
    with path.open("w") as handle:
        handle.write(",".join(f"f{i}" for i in range(FEATURES)) + ",label\n")
        for start in range(0, rows, 10_000):
            labels = rng.integers(0, CLASSES, min(10_000, rows - start))
            values = centres[labels] + rng.normal(0, 1.0, (len(labels), FEATURES))
            handle.writelines(",".join(f"{v:.6g}" for v in row) + f",c{label}\n" for row, label in zip(values, labels))


def head(source: Path, rows: int, folder: Path) -> Path:
    """The first ``rows`` rows of ``source`` (and its header) as a file of their own."""
    path = folder / f"table-{rows}.csv"
    if not path.is_file():
        with source.open() as reader, path.open("w") as writer:
            for number, line in enumerate(reader):
                if number > rows:
                    break
                writer.write(line)
    return path


def zoo_train(table: Path, runs: Path, cache: str) -> dict:
    """One ``zoo train`` on the table: its peak RSS, first epoch's time and accuracy."""
    run = zoo_run(runs, f"dataset.path={table}", f"dataset.cache={cache}", "epochs=1", "validation_split=0",
                  train=["-d", "csv", "-a", "mlp"])
    return {**run, "epoch_seconds": run["epoch_seconds"][0]}


def keras_train(table: Path, work: Path, way: str) -> dict:
    """One Keras run (this file as a child: ``RESULT --keras-child WAY TABLE``)."""
    return script_run(Path(__file__).name, work, "--keras-child", way, str(table))


def keras_child(result: str, way: str, table: str) -> None:
    """Keras on the first 80 % of the rows, streamed (make_csv_dataset) or held (arrays), one epoch, timed."""
    import keras
    import numpy as np
    import tensorflow as tf

    class EpochTime(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.mark = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.mark

    rows = sum(1 for _ in open(table)) - 1
    cut = rows * 4 // 5
    keras.utils.set_random_seed(42)
    normalise = keras.layers.Normalization()
    if way == "held":
        with open(table, newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            cells = list(reader)
        x = np.asarray([row[:FEATURES] for row in cells], np.float32)
        y = np.asarray([int(row[FEATURES][1:]) for row in cells])
        normalise.adapt(x[:cut])
        train, test = (x[:cut], y[:cut]), (x[cut:], y[cut:])
    else:
        def pairs(skip: int, take: int, shuffle: bool) -> tf.data.Dataset:
            stream = tf.data.experimental.make_csv_dataset(
                table, batch_size=32, label_name="label", num_epochs=1, shuffle=False, header=True)
            stream = stream.unbatch().skip(skip).take(take)
            stream = stream.map(lambda row, label: (tf.stack([row[f"f{i}"] for i in range(FEATURES)]),
                                                    tf.strings.to_number(tf.strings.substr(label, 1, -1), tf.int32)))
            return (stream.shuffle(10_000, seed=42) if shuffle else stream).batch(32).prefetch(tf.data.AUTOTUNE)

        normalise.adapt(pairs(0, cut, False).map(lambda x, y: x))  # a pass over the training rows, as zoo's
        train, test = pairs(0, cut, True), pairs(cut, rows - cut, False)
    model = keras.Sequential([
        keras.Input((FEATURES,)), normalise,
        keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.2),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dropout(0.2),
        keras.layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTime()
    if way == "held":
        model.fit(*train, batch_size=32, epochs=1, callbacks=[timer], verbose=0)
        _, accuracy = model.evaluate(*test, batch_size=1024, verbose=0)
    else:
        model.fit(train, epochs=1, callbacks=[timer], verbose=0)
        _, accuracy = model.evaluate(test, verbose=0)
    Path(result).write_text(json.dumps({"epoch_seconds": timer.seconds, "accuracy": float(accuracy)}))


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[2] == "--keras-child":
        keras_child(sys.argv[1], *sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(map(str, ROWS)), help="comma-separated row counts")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "zoo-csv-scale")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.rows.split(","))
    args.folder.mkdir(parents=True, exist_ok=True)
    make_table(args.folder / "table.csv", max(sizes))
    results = []
    with tempfile.TemporaryDirectory(prefix="zoo-csv-scale-") as work:
        for size in sizes:
            table = head(args.folder / "table.csv", size, args.folder)
            for repeat in range(args.repeats):
                row = {"rows": size, "repeat": repeat, "bytes": table.stat().st_size,
                       "zoo streamed": zoo_train(table, Path(work) / "runs", "none"),
                       "zoo held": zoo_train(table, Path(work) / "runs", "memory"),
                       "keras streamed": keras_train(table, Path(work), "streamed"),
                       "keras held": keras_train(table, Path(work), "held")}
                results.append(row)
                print(f"{size:>9,} rows: " + "; ".join(
                    f"{way} {row[way]['peak_rss_mb']:,} MB, epoch {row[way]['epoch_seconds']:.1f} s "
                    f"(accuracy {row[way]['accuracy']:.3f})" for way in WAYS), flush=True)
    report(results, sizes)


def report(results: list[dict], sizes: list[int]) -> None:
    """The table, the ratios, and benchmarks/results/csv_scale.json."""
    def best(size: int, way: str, key: str) -> float:
        return min(row[way][key] for row in results if row["rows"] == size)

    print("\n| rows | file | " + " | ".join(f"{way}: peak RSS, epoch" for way in WAYS)
          + " | zoo ÷ Keras epoch, streamed | held |")
    print("|---:|---:|" + "---:|" * (len(WAYS) + 2))
    for size in sizes:
        size_mb = next(row["bytes"] for row in results if row["rows"] == size) / 1e6
        cells = [f"{best(size, way, 'peak_rss_mb'):,.0f} MB, {best(size, way, 'epoch_seconds'):.1f} s" for way in WAYS]
        ratios = [best(size, f"zoo {kind}", "epoch_seconds") / best(size, f"keras {kind}", "epoch_seconds")
                  for kind in ("streamed", "held")]
        print(f"| {size:,} | {size_mb:,.0f} MB | " + " | ".join(cells) + f" | {ratios[0]:.2f} | {ratios[1]:.2f} |")
    growth = best(sizes[-1], "zoo streamed", "peak_rss_mb") / best(sizes[0], "zoo streamed", "peak_rss_mb")
    print(f"\nzoo streamed: peak RSS at {sizes[-1]:,} rows / at {sizes[0]:,}: {growth:.2f}")
    out = HERE / "results" / "csv_scale.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": results, "rss_growth": growth}, indent=1))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
