"""zoo's benchmark suite: everything side by side in one invocation, as ratios.

Usage (from the repo root, with zoo installed)::

    python benchmarks/run.py            # about 5-10 minutes on 2 cores
    python benchmarks/run.py --quick    # 3 epochs, one repeat: a smoke test

Writes ``benchmarks/results/latest.json`` and ``latest.md`` and prints the
table. Sections:

1. training: the tutorial program (benchmarks/tutorial.py) against
   ``zoo run mnist-mlp`` at the same batch size and epochs, alternated, each
   at least twice. An epoch's time runs from the previous epoch's end to its
   own (zoo's history.csv ``seconds``, and the same callback in the
   tutorial), so zoo's checkpoint, history and progress are inside; the
   figure is the median over epochs after the first. Cross-check: the
   marginal cost of an epoch from whole runs of two lengths, (wall time of
   the long run - wall time of a short run) / the epochs between, for both;
2. scaling: zoo's epoch time at 1/4, 1/2 and all of the training split, and
   at batch 32, 128, 512; peak RSS of a whole ``zoo run`` and of the tutorial;
3. CLI: wall time of ``zoo --help``, ``zoo list``, ``zoo show mlp`` against
   ``python -c "import tensorflow"``;
4. inference: every exported variant, single-image latency and throughput
   at batch 1,000 (benchmarks/inference.py);
5. end to end: wall time of the README's main job, ``zoo run mnist-mlp``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
ZOO = str(Path(sys.executable).with_name("zoo"))


def measured(command: list[str], cwd: Path | None = None) -> tuple[float, int, str]:
    """Run a command; return wall seconds, its own peak RSS in MB, and the tail of its output."""
    with tempfile.TemporaryFile(mode="w+") as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, text=True)
        _, _, usage = os.wait4(process.pid, 0)  # this child's own rusage, not the maximum over all children
        seconds = time.perf_counter() - start
        process.returncode = 0  # reaped by wait4
        output.seek(0)
        tail = output.read()[-2000:]
    return seconds, usage.ru_maxrss // 1024, tail


def zoo_run(root: Path, *settings: str, recipe: str = "mnist-mlp", exporters: bool = False) -> dict:
    """One ``zoo run``; returns epoch times, accuracy, wall time and peak RSS."""
    before = set(root.iterdir()) if root.exists() else set()
    command = [ZOO, "run", recipe, "--runs-dir", str(root), "--quiet"]
    if not exporters:
        command += ["--set", "exporters=[]"]
    for setting in settings:
        command += ["--set", setting]
    seconds, peak_mb, tail = measured(command)
    (run_dir,) = set(root.iterdir()) - before
    if not (run_dir / "metrics.json").is_file():
        raise RuntimeError(f"zoo run failed:\n{tail}")
    with open(run_dir / "history.csv", newline="") as handle:
        epochs = [float(row["seconds"]) for row in csv.DictReader(handle)]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    engine = json.loads((run_dir / "manifest.json").read_text()).get("engine", {})
    return {"epoch_seconds": epochs, "accuracy": metrics["accuracy"], "wall_seconds": seconds,
            "peak_rss_mb": peak_mb, "run_dir": str(run_dir), "engine": engine}


def tutorial_run(work: Path, epochs: int) -> dict:
    result = work / f"tutorial-{time.monotonic_ns()}.json"
    seconds, peak_mb, tail = measured([PYTHON, str(HERE / "tutorial.py"), str(result), str(epochs)])
    if not result.is_file():
        raise RuntimeError(f"tutorial failed:\n{tail}")
    data = json.loads(result.read_text())
    return {**data, "wall_seconds": seconds, "peak_rss_mb": peak_mb}


def epoch_time(epoch_seconds: list[float]) -> float:
    """Median over epochs after the first (which includes tracing)."""
    return statistics.median(epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds)


def marginal_epoch(long_runs: list[dict], short_run: dict, epochs: int, short_epochs: int) -> float:
    """What one more epoch costs a whole run: (median wall of the long runs - the short run's) / epochs between."""
    return (statistics.median(r["wall_seconds"] for r in long_runs) - short_run["wall_seconds"]) / (epochs - short_epochs)


def training(work: Path, epochs: int, repeats: int) -> dict:
    tutorial, zoo = [], []
    for _ in range(repeats):
        tutorial.append(tutorial_run(work, epochs))
        zoo.append(zoo_run(work / "runs", f"epochs={epochs}"))
    short_epochs = max(1, epochs // 3)
    short = {"tutorial": tutorial_run(work, short_epochs), "zoo": zoo_run(work / "runs", f"epochs={short_epochs}")}
    tutorial_epoch = statistics.median(epoch_time(r["epoch_seconds"]) for r in tutorial)
    zoo_epoch = statistics.median(epoch_time(r["epoch_seconds"]) for r in zoo)
    tutorial_marginal = marginal_epoch(tutorial, short["tutorial"], epochs, short_epochs)
    zoo_marginal = marginal_epoch(zoo, short["zoo"], epochs, short_epochs)
    return {
        "tutorial_epoch_seconds": tutorial_epoch, "zoo_epoch_seconds": zoo_epoch,
        "ratio": zoo_epoch / tutorial_epoch,
        "short_epochs": short_epochs, "tutorial_marginal_epoch_seconds": tutorial_marginal,
        "zoo_marginal_epoch_seconds": zoo_marginal, "marginal_ratio": zoo_marginal / tutorial_marginal,
        "tutorial_accuracy": statistics.mean(r["accuracy"] for r in tutorial),
        "zoo_accuracy": statistics.mean(r["accuracy"] for r in zoo),
        "tutorial_peak_rss_mb": max(r["peak_rss_mb"] for r in tutorial),
        "zoo_peak_rss_mb": max(r["peak_rss_mb"] for r in zoo),
        "runs": {"tutorial": tutorial, "zoo": zoo, "short": short},
    }


#: MNIST's 60,000 training images; the run's 10 % validation split comes off after max_train_samples.
TRAIN_IMAGES, VALIDATION_SPLIT = 60_000, 0.1


def scaling(work: Path, epochs: int) -> dict:
    """Epoch time and accuracy at 1/4, 1/2 and all of the training split (batch 32), and at larger batches."""
    rows = []
    for fraction, share in (("1/4", 0.25), ("1/2", 0.5), ("all", 1.0)):
        limit = round(TRAIN_IMAGES * share) if share < 1 else 0  # max_train_samples applies before the split
        result = zoo_run(work / "runs", f"epochs={epochs}", f"max_train_samples={limit}")
        trained_on = round((limit or TRAIN_IMAGES) * (1 - VALIDATION_SPLIT))
        rows.append({"data": fraction, "trained_on": trained_on, "batch_size": 32,
                     "epoch_seconds": epoch_time(result["epoch_seconds"]), "accuracy": result["accuracy"]})
    for batch in (128, 512):
        result = zoo_run(work / "runs", f"epochs={epochs}", f"batch_size={batch}")
        rows.append({"data": "all", "trained_on": round(TRAIN_IMAGES * (1 - VALIDATION_SPLIT)), "batch_size": batch,
                     "epoch_seconds": epoch_time(result["epoch_seconds"]), "accuracy": result["accuracy"]})
    return {"rows": rows}


def cli(repeats: int = 5) -> dict:
    commands = {"zoo --help": [ZOO, "--help"], "zoo list": [ZOO, "list"], "zoo show mlp": [ZOO, "show", "mlp"],
                "import tensorflow": [PYTHON, "-c", "import tensorflow"]}
    figures = {}
    for name, command in commands.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        figures[name] = statistics.median(times)
    return figures


def end_to_end(work: Path) -> dict:
    result = zoo_run(work / "e2e", exporters=True)
    run_dir = result["run_dir"]
    subprocess.run([ZOO, "export", run_dir, "--format", "tflite-float16", "--format", "tflite-dynamic"],
                   capture_output=True, check=True)
    return result


def inference(run_dir: str, work: Path) -> dict:
    output = work / "inference.json"
    subprocess.run([PYTHON, str(HERE / "inference.py"), run_dir, str(output)], check=True, capture_output=True)
    return json.loads(output.read_text())


def markdown(results: dict) -> str:
    t, c, e = results["training"], results["cli"], results["end_to_end"]
    lines = [
        f"Measured {results['date']} on {results['machine']} ({results['cores']} cores), "
        f"{results['epochs']} epochs, batch 32, {results['repeats']} run(s) each.",
        "",
        "| training | tutorial program | zoo run | ratio (target) |",
        "|---|---|---|---|",
        f"| epoch time (median after the first, checkpoint included) | {t['tutorial_epoch_seconds']:.2f} s "
        f"| {t['zoo_epoch_seconds']:.2f} s | **{t['ratio']:.2f}** (≤ 0.25) |",
        f"| epoch time from whole runs ({results['epochs']} − {t['short_epochs']} epochs) "
        f"| {t['tutorial_marginal_epoch_seconds']:.2f} s | {t['zoo_marginal_epoch_seconds']:.2f} s "
        f"| {t['marginal_ratio']:.2f} |",
        f"| test accuracy | {t['tutorial_accuracy']:.4f} | {t['zoo_accuracy']:.4f} "
        f"| {100 * (t['zoo_accuracy'] - t['tutorial_accuracy']):+.2f} points (≥ −0.3) |",
        f"| peak RSS of the whole program | {t['tutorial_peak_rss_mb']} MB | {t['zoo_peak_rss_mb']} MB "
        f"| **{t['zoo_peak_rss_mb'] / t['tutorial_peak_rss_mb']:.2f}** (≤ 1.2) |",
        "",
        "| scaling (zoo, 3 epochs) | trained on | batch | epoch time | accuracy |",
        "|---|---|---|---|---|",
        *[f"| {r['data']} of the training split | {r['trained_on']:,} images | {r['batch_size']} "
          f"| {r['epoch_seconds']:.2f} s | {r['accuracy']:.4f} |" for r in results["scaling"]["rows"]],
        "",
        "| CLI | wall time | ÷ import tensorflow (target ≤ 0.2) |",
        "|---|---|---|",
        *[f"| `{name}` | {seconds:.2f} s | {seconds / c['import tensorflow']:.2f} |" for name, seconds in c.items()],
        "",
        "| inference | single image | batch 1,000 | size |",
        "|---|---|---|---|",
        *[f"| {name} | {f['latency_us']:.1f} µs | {f['images_per_second']:,.0f} images/s | {f['bytes'] / 1024:,.0f} KB |"
          for name, f in results["inference"].items()],
        "",
        f"End to end: `zoo run mnist-mlp` (train 10 epochs, evaluate, plots, SavedModel + TFLite float32 + int8, "
        f"each verified, report) took {e['wall_seconds']:.1f} s, peak RSS {e['peak_rss_mb']} MB, "
        f"test accuracy {e['accuracy']:.4f}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs, one repeat (a smoke test)")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where latest.json/md go")
    args = parser.parse_args()
    epochs, repeats = (3, 1) if args.quick else (10, 2)
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as temporary:
        work = Path(temporary)
        results = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(), "cores": os.cpu_count(),
                   "python": platform.python_version(), "epochs": epochs, "repeats": repeats}
        print("training: tutorial program vs zoo run ...", flush=True)
        results["training"] = training(work, epochs, repeats)
        print("scaling ...", flush=True)
        results["scaling"] = scaling(work, 3)
        print("CLI ...", flush=True)
        results["cli"] = cli()
        print("end to end ...", flush=True)
        results["end_to_end"] = end_to_end(work)
        print("inference ...", flush=True)
        results["inference"] = inference(results["end_to_end"]["run_dir"], work)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    (args.out / "latest.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
