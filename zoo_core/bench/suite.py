"""``zoo bench`` end to end for a list of completed runs: artifacts, measurements, one row per model × format.

For each run: its data are loaded again (and must be the run's own, as for
``zoo evaluate``), its Keras model answers the whole test set (format
``keras``, the reference), then every artifact of
:func:`~zoo_core.bench.artifacts.run_artifacts` is loaded with its own
runtime (``zoo_core.predict``) and measured (:mod:`zoo_core.bench.measure`).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from zoo_core.bench.artifacts import Artifact, run_artifacts
from zoo_core.training.macs import model_macs
from zoo_core.bench.measure import check, measure
from zoo_core.bench.targets import model_labels
from zoo_core.errors import ZooError
from zoo_core.export.metadata import size_of
from zoo_core.registry import Registry
from zoo_core.runs import Run, utc_now

#: Says what the bench is doing (one line per step), e.g. to stderr.
Progress = Callable[[str], None]
#: The columns of bench.csv, in order.
COLUMNS = ["model", "format", "variant", "accuracy", "delta_vs_keras", "check", "size_bytes", "latency_us",
           "images_per_second", "params", "macs", "argmax_agreement", "max_abs_diff", "reused", "status", "message",
           "run_id", "recipe", "path"]


@dataclass
class BenchResult:
    """The rows (one per model × format), the exporters not measured (with the reason), and where it was measured."""

    rows: list[dict[str, Any]]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    created: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    repeat: int = 0

    def problems(self) -> list[str]:
        """Failed exports and artifacts whose accuracy misses their exporter's promise, in words."""
        found = []
        for row in self.rows:
            if row["status"] != "ok":
                found.append(f"{row['model']} {row['format']}: {row['message']}")
            elif row["check"] == "mismatch":
                found.append(f"{row['model']} {row['format']}: accuracy does not match the Keras model: "
                             f"{row['message']}")
        return found

    def to_dict(self) -> dict[str, Any]:
        """bench.json: when and where, the settings, the rows and the exporters not measured."""
        return {"created": self.created, "machine": self.machine, "latency_repeats": self.repeat,
                "columns": COLUMNS, "rows": self.rows, "not_measured": self.skipped}


def bench(runs: list[Run], registry: Registry, repeat: int = 200, progress: Progress | None = None) -> BenchResult:
    """Measure every format of every run (``repeat``: timed single-image calls per latency figure)."""
    say = progress or (lambda line: None)
    host, started = machine(), utc_now()
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for run in runs:
        run_rows, run_skipped = bench_run(run, registry, repeat, say)
        rows += run_rows
        skipped += run_skipped
    names = dict(zip((run.id for run in runs),
                     model_labels([(run.id, str(run.manifest().get("recipe") or run.id)) for run in runs])))
    for row in rows + skipped:
        row["model"] = names.get(row["run_id"], row["run_id"])
    return BenchResult(rows, skipped, started, host, repeat)


def bench_run(run: Run, registry: Registry, repeat: int, say: Progress) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of one run: ``keras`` first, then one per artifact; and what was not measured, with the reason."""
    from zoo_core.predict import load_predictor
    from zoo_core.training.native_logs import quiet_native_stderr
    from zoo_core.training.prepare import check_same_data, data_source, fingerprint, load_dataset, run_config

    config = run_config(run, registry)
    recipe = str(run.manifest().get("recipe") or config.recipe)
    say(f"{run.id}: loading its data")
    dataset = load_dataset(config)
    check_same_data(run, fingerprint(dataset), data_source(config), f"zoo bench {run.id}",
                    hint="point the dataset back at the run's data: a benchmark measures the run's own test set")
    dataset = _test_set_in_memory(dataset)
    artifacts = run_artifacts(run, registry, dataset, recipe, say)  # exports what is missing (verified)
    skipped = [{"run_id": run.id, "exporter": a.exporter, "reason": a.message}
               for a in artifacts if a.status == "not applicable"]
    base = {"run_id": run.id, "recipe": recipe, "model": recipe}
    with quiet_native_stderr():
        keras_model = load_predictor(run.model_file("only completed runs can be benched"))
        params = int(keras_model.model.count_params())
        macs, uncounted = model_macs(keras_model.model)
        reference = keras_model.predict(dataset.x_test)
        base.update(params=params, macs=macs)
        say(f"{run.id}: measuring keras")
        rows = [_row(base, Artifact("keras", "keras", "float32", str(keras_model.path)), keras_model, dataset,
                     reference, repeat, uncounted)]
        del keras_model
        for artifact in (a for a in artifacts if a.status != "not applicable"):
            if artifact.status != "ok":
                rows.append({**base, **_identity(artifact), "status": artifact.status, "message": artifact.message})
                continue
            if not runnable(Path(artifact.path)):
                skipped.append({"run_id": run.id, "exporter": artifact.exporter,
                                "reason": f"zoo cannot run its artifact '{Path(artifact.path).name}' "
                                          "(zoo_core.predict runs .tflite, .onnx and .keras files and "
                                          "SavedModels)"})
                continue
            say(f"{run.id}: measuring {artifact.exporter}" + (" (reused)" if artifact.reused else ""))
            try:
                predictor = load_predictor(Path(artifact.path))
                rows.append(_row(base, artifact, predictor, dataset, reference, repeat, []))
            except ZooError as error:  # a damaged artifact: say so, measure the others
                rows.append({**base, **_identity(artifact), "status": "failed",
                             "message": f"cannot be run: {error.message}"})
            predictor = None
    return [_complete(row) for row in rows], skipped


def _test_set_in_memory(dataset: Any) -> Any:
    """A streaming dataset with its test set decoded into one array (timing the model, not the decoding); the
    training set stays a view that decodes on demand (export calibration). An array dataset as it is."""
    from zoo_core.data import Dataset, is_streaming

    if not is_streaming(dataset):
        return dataset
    from zoo_core.training.streaming import decoded_examples

    return Dataset(dataset.x_train, dataset.y_train, decoded_examples(dataset, dataset.test_files), dataset.y_test,
                   dataset.info)


def runnable(path: Path) -> bool:
    """Whether ``zoo_core.predict`` has a runtime for the artifact: a .tflite, .onnx or .keras file, or a folder
    (SavedModel)."""
    from zoo_core.predict.loading import MODEL_FILES

    return path.is_dir() or path.suffix.lower() in MODEL_FILES


def _identity(artifact: Artifact) -> dict[str, Any]:
    return {"format": artifact.exporter, "variant": artifact.variant, "path": artifact.path, "reused": artifact.reused}


def _row(base: dict[str, Any], artifact: Artifact, predictor: Any, dataset: Any, reference: Any, repeat: int,
         uncounted: list[str]) -> dict[str, Any]:
    """One measured row; the Keras row's check is 'reference', an artifact's 'ok' or 'mismatch'."""
    figures = measure(predictor, dataset.x_test, dataset.y_test, reference, repeat)
    row = {**base, **_identity(artifact), "size_bytes": size_of(Path(artifact.path)), "status": "ok", "message": ""}
    row.update({key: figures[key] for key in ("accuracy", "delta_vs_keras", "argmax_agreement", "max_abs_diff",
                                              "latency_us", "images_per_second")})
    if artifact.exporter == "keras":
        row["check"] = "reference"
        if uncounted:
            row["message"] = f"MACs not counted for: {', '.join(uncounted)}"
        return row
    failures = check(figures, artifact.thresholds)
    row["check"] = "mismatch" if failures else "ok"
    row["message"] = "; ".join(failures)
    row["thresholds"] = artifact.thresholds
    return row


def _complete(row: dict[str, Any]) -> dict[str, Any]:
    """The row with every column of :data:`COLUMNS` (None where nothing was measured)."""
    return {**{column: None for column in COLUMNS}, **row}


def machine() -> dict[str, Any]:
    """Where the bench ran: CPU architecture and count, OS, Python, TensorFlow, Keras, zoo, LiteRT and onnxruntime
    versions."""
    from zoo_core.runs.manifest import package_version, versions

    try:
        load = round(os.getloadavg()[0], 2)  # a busy machine measures slower: recorded beside the figures
    except (AttributeError, OSError):
        load = None
    return {"machine": platform.machine(), "processor": platform.processor() or "-", "cpus": os.cpu_count(),
            "load_average": load,
            "system": f"{platform.system()} {platform.release()}", **versions(),
            "ai_edge_litert": package_version("ai-edge-litert"), "onnxruntime": package_version("onnxruntime")}
