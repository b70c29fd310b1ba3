"""zoo's benchmark suite: everything side by side in one invocation, as ratios.

Usage (from the repo root, with zoo installed)::

    python benchmarks/run.py                # about 10-15 minutes on 2 cores
    python benchmarks/run.py --quick        # 3 epochs, one repeat: a smoke test
    python benchmarks/run.py --cnn          # only the conv-net thread comparison
    python benchmarks/run.py --precision    # only the peak, the conv recipes' share of it, float32 vs bfloat16
    python benchmarks/run.py --sections training,cnn --repeats 5

Writes ``benchmarks/results/latest.json`` and ``latest.md`` and prints the
table. Sections:

1. training: the floor (benchmarks/floor.py: a hand-written in-graph
   TensorFlow loop, one thread, no validation, no checkpoint; once with
   Keras' Adam, once with the fused Adam kernel zoo uses), the tutorial
   program (benchmarks/tutorial.py) and ``zoo run mnist-mlp`` (with its
   exports and their verification), at the same batch size and epochs,
   interleaved (floor, tutorial, zoo; floor, tutorial, zoo; ...). An
   epoch's time runs from the previous epoch's end to its own (zoo's
   history.csv ``seconds``, and the same callback in the tutorial), so zoo's
   validation, checkpoint, history and progress are inside; the table gives
   the min and median over all epochs after the first. Also each program's
   whole-run wall time and peak RSS, zoo's time after training (from its
   manifest's ``timings``), and a cross-check: the marginal cost of an epoch
   from whole runs of two lengths;
2. scaling: zoo's epoch time at 1/4, 1/2 and all of the training split, and
   at batch 32, 128, 512;
3. CLI: wall time of ``zoo --help``, ``zoo list``, ``zoo show mlp`` against
   ``python -c "import tensorflow"``;
4. inference: every exported variant, single-image latency and throughput
   at batch 1,000 (benchmarks/inference.py);
5. cnn: a LeNet-like conv net on a slice of MNIST (benchmarks/cnn.py): zoo's
   thread choice and loop against a plain Keras fit with TensorFlow's
   default threads, interleaved;
6. precision: the machine's peak (benchmarks/peak.py: float32 and bfloat16
   matrix multiply, GFLOP/s), then each conv recipe of registry.toml
   (mnist-cnn, mnist-mobilenet, mnist-resnet) trained in float32 and in
   mixed bfloat16 (the ``precision`` setting), interleaved, on a slice of
   the training split for a few epochs: epoch time, test accuracy, the
   training FLOPs of an epoch (3 × the forward multiply-adds zoo counts × 2
   FLOPs × the examples trained on: benchmarks/conv_profile.py --macs-only)
   and the share of the peak (of the same precision) the epoch achieves.
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
SECTIONS = ("training", "scaling", "cli", "inference", "cnn", "precision")
#: The conv recipes of registry.toml the precision section trains, and the precisions it compares.
CONV_RECIPES = ("mnist-cnn", "mnist-mobilenet", "mnist-resnet")
PRECISIONS = ("float32", "mixed_bfloat16")
#: Which peak (benchmarks/peak.py) each precision's share is taken of.
PEAK_OF = {"float32": "float32", "mixed_bfloat16": "bfloat16"}
#: mixed bfloat16 replaces float32 in a recipe when it is at least this much faster, within this many
#: points of test accuracy.
SPEEDUP_WANTED, ACCURACY_POINTS = 1.3, 0.1
#: zoo's phases after training (manifest.json ``timings``) that the "after training" figure holds: not the exports.
AFTER_TRAINING = ("evaluation", "save model", "plots", "report")


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


def zoo_run(root: Path, *settings: str, recipe: str = "mnist-mlp", exporters: bool = False,
            train: list[str] | None = None) -> dict:
    """One ``zoo run`` (with ``train``, e.g. ``["-d", "csv", "-a", "mlp"]``: one ``zoo train`` instead); returns
    epoch times, accuracy, wall time, peak RSS and the manifest's phase timings and input pipeline."""
    before = set(root.iterdir()) if root.exists() else set()
    words = ["train", *train] if train is not None else ["run", recipe]
    command = [ZOO, *words, "--runs-dir", str(root), "--quiet"]
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
    manifest = json.loads((run_dir / "manifest.json").read_text())
    timings = manifest.get("timings", {})
    return {"epoch_seconds": epochs, "accuracy": metrics["accuracy"], "wall_seconds": seconds,
            "samples_train": manifest.get("samples", {}).get("train"),
            "peak_rss_mb": peak_mb, "run_dir": str(run_dir), "engine": manifest.get("engine", {}),
            "timings": timings, "input_pipeline": manifest.get("input_pipeline"),
            "after_training_seconds": sum(timings.get(name, 0.0) for name in AFTER_TRAINING),
            "export_seconds": sum(v for k, v in timings.items() if k.startswith("export "))}


def script_run(script: str, work: Path, *arguments: str) -> dict:
    """One run of a benchmark script that writes a JSON result, its path the first argument (tutorial.py, floor.py,
    cnn.py, and the Keras children of data_scale.py and csv_scale.py)."""
    result = work / f"{Path(script).stem}-{time.monotonic_ns()}.json"
    seconds, peak_mb, tail = measured([PYTHON, str(HERE / script), str(result), *arguments])
    if not result.is_file():
        raise RuntimeError(f"{script} failed:\n{tail}")
    return {**json.loads(result.read_text()), "wall_seconds": seconds, "peak_rss_mb": peak_mb}


def after_first(runs: list[dict]) -> list[float]:
    """Every epoch's time after each run's first (which includes tracing), pooled over the runs."""
    return [s for r in runs for s in (r["epoch_seconds"][1:] if len(r["epoch_seconds"]) > 1 else r["epoch_seconds"])]


def marginal_epoch(long_runs: list[dict], short_run: dict, epochs: int, short_epochs: int) -> float:
    """What one more epoch costs a whole run: (median wall of the long runs - the short run's) / epochs between."""
    return (statistics.median(r["wall_seconds"] for r in long_runs) - short_run["wall_seconds"]) / (epochs - short_epochs)


def summary(runs: list[dict]) -> dict:
    """Epoch min and median (after the first), accuracy, wall time and peak RSS of one program's runs."""
    epochs = after_first(runs)
    return {"epoch_min": min(epochs), "epoch_median": statistics.median(epochs),
            "accuracy": statistics.mean(r["accuracy"] for r in runs),
            "wall_median": statistics.median(r["wall_seconds"] for r in runs),
            "wall_min": min(r["wall_seconds"] for r in runs), "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def training(work: Path, epochs: int, repeats: int) -> dict:
    """Floor, tutorial and ``zoo run mnist-mlp`` (with its exports), interleaved; then the short runs."""
    runs: dict[str, list[dict]] = {"floor": [], "fused floor": [], "tutorial": [], "zoo": []}
    for repeat in range(repeats):
        print(f"  repeat {repeat + 1}/{repeats}: floor, fused floor, tutorial, zoo", flush=True)
        runs["floor"].append(script_run("floor.py", work, str(epochs)))
        runs["fused floor"].append(script_run("floor.py", work, str(epochs), "--fused"))
        runs["tutorial"].append(script_run("tutorial.py", work, str(epochs)))
        runs["zoo"].append(zoo_run(work / "runs", f"epochs={epochs}", exporters=True))
    short_epochs = max(1, epochs // 3)
    short = {"tutorial": script_run("tutorial.py", work, str(short_epochs)),
             "zoo": zoo_run(work / "runs", f"epochs={short_epochs}", exporters=True)}
    figures = {name: summary(program_runs) for name, program_runs in runs.items()}
    zoo, floor, tutorial, fused = figures["zoo"], figures["floor"], figures["tutorial"], figures["fused floor"]
    zoo.update(after_training_median=statistics.median(r["after_training_seconds"] for r in runs["zoo"]),
               exports_median=statistics.median(r["export_seconds"] for r in runs["zoo"]),
               timings=runs["zoo"][-1]["timings"])
    ratios = {"zoo/floor median": zoo["epoch_median"] / floor["epoch_median"],
              "zoo/floor min": zoo["epoch_min"] / floor["epoch_min"],
              "zoo/fused floor median": zoo["epoch_median"] / fused["epoch_median"],
              "zoo/fused floor min": zoo["epoch_min"] / fused["epoch_min"],
              "zoo/tutorial median": zoo["epoch_median"] / tutorial["epoch_median"],
              "zoo/tutorial min": zoo["epoch_min"] / tutorial["epoch_min"],
              "wall zoo/tutorial": zoo["wall_median"] / tutorial["wall_median"],
              "peak RSS zoo/tutorial": zoo["peak_rss_mb"] / tutorial["peak_rss_mb"]}
    marginal = {name: marginal_epoch(runs[name], short[name], epochs, short_epochs) for name in short}
    return {"figures": figures, "ratios": ratios, "short_epochs": short_epochs, "marginal_epoch_seconds": marginal,
            "runs": runs, "short": short}


#: MNIST's 60,000 training images; the run's 10 % validation split comes off after max_train_samples.
TRAIN_IMAGES, VALIDATION_SPLIT = 60_000, 0.1
#: The examples a full epoch of an MNIST recipe trains on.
TRAINED_FULL = int(TRAIN_IMAGES * (1 - VALIDATION_SPLIT))


def scaling(work: Path, epochs: int) -> dict:
    """Epoch time and accuracy at 1/4, 1/2 and all of the training split (batch 32), and at larger batches."""
    rows = []
    for fraction, share in (("1/4", 0.25), ("1/2", 0.5), ("all", 1.0)):
        limit = round(TRAIN_IMAGES * share) if share < 1 else 0  # max_train_samples applies before the split
        result = zoo_run(work / "runs", f"epochs={epochs}", f"max_train_samples={limit}")
        trained_on = round((limit or TRAIN_IMAGES) * (1 - VALIDATION_SPLIT))
        rows.append({"data": fraction, "trained_on": trained_on, "batch_size": 32,
                     "epoch_seconds": statistics.median(after_first([result])), "accuracy": result["accuracy"]})
    for batch in (128, 512):
        result = zoo_run(work / "runs", f"epochs={epochs}", f"batch_size={batch}")
        rows.append({"data": "all", "trained_on": round(TRAIN_IMAGES * (1 - VALIDATION_SPLIT)), "batch_size": batch,
                     "epoch_seconds": statistics.median(after_first([result])), "accuracy": result["accuracy"]})
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


def cnn(work: Path, epochs: int, repeats: int) -> dict:
    """The LeNet-like net: zoo's threads and loop, one thread, and a plain Keras fit, interleaved."""
    modes = ("zoo", "keras", "zoo-1-thread")
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for repeat in range(repeats):
        print(f"  repeat {repeat + 1}/{repeats}: {', '.join(modes)}", flush=True)
        for mode in modes:
            runs[mode].append(script_run("cnn.py", work, mode, str(epochs)))
    figures = {mode: {**summary(mode_runs), "threads": mode_runs[0]["threads"],
                      "steps_per_execution": mode_runs[0]["steps_per_execution"]} for mode, mode_runs in runs.items()}
    return {"figures": figures, "runs": runs,
            "ratio_median": figures["zoo"]["epoch_median"] / figures["keras"]["epoch_median"],
            "ratio_min": figures["zoo"]["epoch_min"] / figures["keras"]["epoch_min"]}


def training_flops(macs_per_example: int, examples: int) -> float:
    """FLOPs of a training epoch: 3 × forward multiply-adds (forward, input and weight gradients) × 2 × examples."""
    return 3 * macs_per_example * 2 * examples


def precision(work: Path, epochs: int, samples: int, repeats: int) -> dict:
    """The peak, then each conv recipe in float32 and mixed bfloat16 (interleaved): epoch, accuracy, share of peak."""
    peak = script_run("peak.py", work)
    print(f"  peak: float32 {peak['float32']:.0f} GFLOP/s, bfloat16 {peak['bfloat16']:.0f} GFLOP/s", flush=True)
    macs = {recipe: script_run("conv_profile.py", work, recipe, "float32", "--macs-only")["macs_per_example"]
            for recipe in CONV_RECIPES}
    runs: dict[str, dict[str, list[dict]]] = {recipe: {p: [] for p in PRECISIONS} for recipe in CONV_RECIPES}
    for repeat in range(repeats):
        for recipe in CONV_RECIPES:
            for name in PRECISIONS:
                print(f"  repeat {repeat + 1}/{repeats}: {recipe} {name}", flush=True)
                lengths = [f"epochs={epochs}"] if epochs else []  # 0: the recipe's own epochs
                runs[recipe][name].append(zoo_run(work / "runs", *lengths, f"max_train_samples={samples}",
                                                  f"precision={name}", recipe=recipe))
    recipes = {}
    for recipe, by_precision in runs.items():
        trained = int(by_precision["float32"][0]["samples_train"] * (1 - VALIDATION_SPLIT))
        flops = training_flops(macs[recipe], trained)
        figures = {}
        for name, precision_runs in by_precision.items():
            fig = summary(precision_runs)
            achieved = flops / fig["epoch_median"] / 1e9
            figures[name] = {**fig, "gflops_per_second": achieved, "share_of_peak": achieved / peak[PEAK_OF[name]]}
        speedup = figures["float32"]["epoch_median"] / figures["mixed_bfloat16"]["epoch_median"]
        points = 100 * (figures["mixed_bfloat16"]["accuracy"] - figures["float32"]["accuracy"])
        recipes[recipe] = {"macs_per_example": macs[recipe], "trained_on": trained, "epoch_gflop": flops / 1e9,
                           "full_epoch_gflop": training_flops(macs[recipe], TRAINED_FULL) / 1e9,
                           "figures": figures, "speedup": speedup, "accuracy_points": points,
                           "bfloat16_wins": speedup >= SPEEDUP_WANTED and points >= -ACCURACY_POINTS}
    return {"peak": peak, "epochs": epochs, "max_train_samples": samples, "recipes": recipes, "runs": runs}


def export_more(run_dir: str) -> None:
    """The two TFLite variants the recipe does not export, for the inference table."""
    subprocess.run([ZOO, "export", run_dir, "--format", "tflite-float16", "--format", "tflite-dynamic"],
                   capture_output=True, check=True)


def inference(run_dir: str, work: Path) -> dict:
    output = work / "inference.json"
    subprocess.run([PYTHON, str(HERE / "inference.py"), run_dir, str(output)], check=True, capture_output=True)
    return json.loads(output.read_text())


def training_table(t: dict, epochs: int, repeats: int) -> list[str]:
    f, r = t["figures"], t["ratios"]
    fl, tu, zo, ff = f["floor"], f["tutorial"], f["zoo"], f["fused floor"]
    marginal = t["marginal_epoch_seconds"]
    phases = [(name, seconds) for name, seconds in zo["timings"].items() if name not in ("total", "beside")]
    return [
        "The floor is benchmarks/floor.py with Keras' Adam (as the performance issue defined it); the fused "
        "floor is the same loop with the fused Adam kernel that zoo's `adam` uses.",
        "",
        f"| training ({epochs} epochs, batch 32, {repeats} interleaved repeat(s)) | floor | tutorial | zoo run "
        "| zoo ÷ floor (target) | zoo ÷ tutorial (target) |",
        "|---|---|---|---|---|---|",
        f"| epoch time, median after the first | {fl['epoch_median']:.2f} s | {tu['epoch_median']:.2f} s "
        f"| {zo['epoch_median']:.2f} s | **{r['zoo/floor median']:.2f}** (≤ 1.15) "
        f"| **{r['zoo/tutorial median']:.2f}** (≤ 0.20) |",
        f"| epoch time, min | {fl['epoch_min']:.2f} s | {tu['epoch_min']:.2f} s | {zo['epoch_min']:.2f} s "
        f"| {r['zoo/floor min']:.2f} | {r['zoo/tutorial min']:.2f} |",
        f"| fused floor: epoch median / min | {ff['epoch_median']:.2f} / {ff['epoch_min']:.2f} s | | "
        f"| zoo ÷ fused floor **{r['zoo/fused floor median']:.2f}** / {r['zoo/fused floor min']:.2f} | |",
        f"| epoch time from whole runs ({epochs} − {t['short_epochs']} epochs) | | {marginal['tutorial']:.2f} s "
        f"| {marginal['zoo']:.2f} s | | {marginal['zoo'] / marginal['tutorial']:.2f} |",
        f"| test accuracy | {fl['accuracy']:.4f} | {tu['accuracy']:.4f} | {zo['accuracy']:.4f} "
        f"| {100 * (zo['accuracy'] - fl['accuracy']):+.2f} points | {100 * (zo['accuracy'] - tu['accuracy']):+.2f} "
        "points (≥ −0.3) |",
        f"| whole run, wall (median; zoo: exports verified, report) | {fl['wall_median']:.1f} s "
        f"| {tu['wall_median']:.1f} s | {zo['wall_median']:.1f} s | | **{r['wall zoo/tutorial']:.2f}** (≤ 0.45) |",
        f"| peak RSS of the whole program | {fl['peak_rss_mb']} MB | {tu['peak_rss_mb']} MB | {zo['peak_rss_mb']} MB "
        f"| | **{r['peak RSS zoo/tutorial']:.2f}** (≤ 1.0) |",
        "",
        f"zoo after training (evaluation, model.keras, plots, report; median): **{zo['after_training_median']:.1f} s** "
        f"(target ≤ 5 s); its exports, each verified: {zo['exports_median']:.1f} s.",
        "",
        "| zoo's phases (last run, manifest.json `timings`) | seconds |",
        "|---|---|",
        *[f"| {name} | {seconds:.2f} |" for name, seconds in phases],
        *[f"| {name} (in a thread, beside the phases) | {seconds:.2f} |"
          for name, seconds in zo["timings"].get("beside", {}).items()],
    ]


def cnn_table(c: dict, epochs: int, repeats: int) -> list[str]:
    f = c["figures"]
    names = {"zoo": "zoo's thread choice and loop", "keras": "Keras fit, TensorFlow's default threads",
             "zoo-1-thread": "zoo's loop, one thread"}
    return [
        f"| LeNet-like CNN, 3,000 images, {epochs} epochs, {repeats} repeat(s) | threads | steps per call "
        "| epoch median | epoch min | accuracy |",
        "|---|---|---|---|---|---|",
        *[f"| {names[mode]} | {fig['threads'] or 'default'} | {fig['steps_per_execution']} "
          f"| {fig['epoch_median']:.2f} s | {fig['epoch_min']:.2f} s | {fig['accuracy']:.4f} |"
          for mode, fig in f.items()],
        "",
        f"zoo ÷ Keras default fit: **{c['ratio_median']:.2f}** median, {c['ratio_min']:.2f} min (target ≤ 0.8).",
    ]


def precision_table(p: dict, repeats: int) -> list[str]:
    peak = p["peak"]
    lines = [f"Peak (TensorFlow matmul, {peak['n']:,} × {peak['n']:,}, best of {peak['repeats']}): "
             f"**float32 {peak['float32']:.0f} GFLOP/s, bfloat16 {peak['bfloat16']:.0f} GFLOP/s**.",
             "",
             "Training FLOPs of an epoch = 3 × forward multiply-adds per example (zoo_core.training.macs) × 2 FLOPs "
             "× examples trained on. Share of peak: the FLOPs of the epoch ÷ its time ÷ the peak of the same "
             "precision (bfloat16's for mixed_bfloat16).",
             "",
             f"| conv recipe ({p['epochs'] or 'its own'} epochs on max_train_samples={p['max_train_samples']:,}, "
             f"{repeats} interleaved repeat(s)) | forward MACs per example | GFLOP per full epoch (54,000 images) | precision "
             "| epoch, median after the first | GFLOP/s | share of peak | test accuracy |",
             "|---|---|---|---|---|---|---|---|"]
    for recipe, r in p["recipes"].items():
        for name, f in r["figures"].items():
            lines.append(f"| {recipe} | {r['macs_per_example'] / 1e6:.1f} M | {r['full_epoch_gflop']:,.0f} | {name} "
                         f"| {f['epoch_median']:.2f} s | {f['gflops_per_second']:.1f} "
                         f"| {100 * f['share_of_peak']:.0f} % | {f['accuracy']:.4f} |")
    lines += ["", f"| recipe | float32 ÷ mixed_bfloat16 epoch (want ≥ {SPEEDUP_WANTED}) "
                  f"| accuracy, mixed_bfloat16 − float32 (want ≥ −{ACCURACY_POINTS} points) | mixed_bfloat16 wins |",
              "|---|---|---|---|",
              *[f"| {recipe} | **{r['speedup']:.2f}** | {r['accuracy_points']:+.2f} points "
                f"| {'yes' if r['bfloat16_wins'] else 'no'} |" for recipe, r in p["recipes"].items()]]
    return lines


def markdown(results: dict) -> str:
    lines = [f"Measured {results['date']} on {results['machine']} ({results['cores']} cores), "
             f"load average {results['load_before']} before and {results.get('load_after', '?')} after.", ""]
    if "training" in results:
        lines += training_table(results["training"], results["epochs"], results["repeats"]) + [""]
    if "scaling" in results:
        lines += ["| scaling (zoo, 3 epochs) | trained on | batch | epoch time | accuracy |", "|---|---|---|---|---|",
                  *[f"| {r['data']} of the training split | {r['trained_on']:,} images | {r['batch_size']} "
                    f"| {r['epoch_seconds']:.2f} s | {r['accuracy']:.4f} |" for r in results["scaling"]["rows"]], ""]
    if "cli" in results:
        c = results["cli"]
        lines += ["| CLI | wall time | ÷ import tensorflow (target ≤ 0.2) |", "|---|---|---|",
                  *[f"| `{name}` | {seconds:.2f} s | {seconds / c['import tensorflow']:.2f} |"
                    for name, seconds in c.items()], ""]
    if "inference" in results:
        lines += ["| inference | single image | batch 1,000 | size |", "|---|---|---|---|",
                  *[f"| {name} | {f['latency_us']:.1f} µs | {f['images_per_second']:,.0f} images/s "
                    f"| {f['bytes'] / 1024:,.0f} KB |" for name, f in results["inference"].items()], ""]
    if "cnn" in results:
        lines += cnn_table(results["cnn"], results["cnn_epochs"], results["repeats"]) + [""]
    if "precision" in results:
        lines += precision_table(results["precision"], results["precision_repeats"]) + [""]
    return "\n".join(lines)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def measure(sections: list[str], epochs: int, repeats: int, work: Path, conv: dict | None = None) -> dict:
    """Run the sections; ``conv`` holds the precision section's ``epochs``, ``samples`` and ``repeats``."""
    conv = conv or {"epochs": 2, "samples": 15000, "repeats": 0}
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.machine(), "cores": os.cpu_count(),
                     "python": platform.python_version(), "epochs": epochs, "repeats": repeats, "load_before": load()}
    if "training" in sections:
        print("training: floor, tutorial program and zoo run, interleaved ...", flush=True)
        results["training"] = training(work, epochs, repeats)
    if "scaling" in sections:
        print("scaling ...", flush=True)
        results["scaling"] = scaling(work, 3)
    if "cli" in sections:
        print("CLI ...", flush=True)
        results["cli"] = cli()
    if "inference" in sections:
        print("inference ...", flush=True)
        run_dir = (results["training"]["runs"]["zoo"][-1]["run_dir"] if "training" in results
                   else zoo_run(work / "e2e", "epochs=1", exporters=True)["run_dir"])
        export_more(run_dir)
        results["inference"] = inference(run_dir, work)
    if "cnn" in sections:
        print("cnn: zoo's threads and loop vs Keras fit ...", flush=True)
        results["cnn_epochs"] = 2 if epochs < 10 else 3
        results["cnn"] = cnn(work, results["cnn_epochs"], repeats)
    if "precision" in sections:
        print("precision: the peak, then the conv recipes in float32 and mixed bfloat16, interleaved ...", flush=True)
        results["precision_repeats"] = conv["repeats"] or repeats
        results["precision"] = precision(work, conv["epochs"], conv["samples"], results["precision_repeats"])
    results["load_after"] = load()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs, one repeat (a smoke test)")
    parser.add_argument("--cnn", action="store_true", help="only the conv-net thread comparison")
    parser.add_argument("--precision", action="store_true",
                        help="only the peak, the conv recipes' share of it, float32 vs mixed bfloat16")
    parser.add_argument("--conv-epochs", type=int, default=2,
                        help="epochs of each conv recipe run (precision section; 0: the recipe's own)")
    parser.add_argument("--conv-samples", type=int, default=15000,
                        help="max_train_samples of each conv recipe run (precision section; 0: all 60,000)")
    parser.add_argument("--conv-repeats", type=int, default=0, help="interleaved repeats of the precision section "
                        "(default: --repeats)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, default=0, help="interleaved repeats (default 3, 1 with --quick)")
    parser.add_argument("--epochs", type=int, default=0, help="epochs of the training runs (default 10, 3 with --quick)")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="where latest.json/md go")
    args = parser.parse_args()
    sections = (["cnn"] if args.cnn else ["precision"] if args.precision
                else [s.strip() for s in args.sections.split(",") if s.strip()])
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    epochs = args.epochs or (3 if args.quick else 10)
    repeats = args.repeats or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as temporary:
        results = measure(sections, epochs, repeats, Path(temporary),
                          {"epochs": args.conv_epochs, "samples": args.conv_samples, "repeats": args.conv_repeats})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    (args.out / "latest.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
