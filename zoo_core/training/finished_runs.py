"""``zoo evaluate`` and ``zoo export`` on a finished run: load its model and data again, record the results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo_core._util.text import error_line
from zoo_core.errors import RunError
from zoo_core.export import ExportResult
from zoo_core.files import DISK_ERRNOS, describe_os_error, write_json_atomic
from zoo_core.registry import ComponentChoice, Registry
from zoo_core.runs import Run, RunLock, check_writable
from zoo_core.training.finish import evaluate_probabilities, export_model, predict_probabilities, write_report
from zoo_core.training.engine import quiet_native_stderr
from zoo_core.training.prepare import check_exporters, load_dataset, run_config
from zoo_core.training.signals import StopRequests


def evaluate(run: Run, registry: Registry) -> dict[str, Any]:
    """Re-evaluate a finished run's model on its test set; rewrite metrics.json."""
    path = run.model_file("only completed runs can be evaluated; 'zoo runs' shows each run's status")
    config = run_config(run, registry)
    dataset = load_dataset(config)
    with quiet_native_stderr():  # TensorFlow's start-up log lines
        model = load_run_model(path)
        probabilities = predict_probabilities(model, dataset.x_test)
    metrics = evaluate_probabilities(probabilities, dataset, config.loss.build())
    write_json_atomic(run.dir / "metrics.json", metrics)
    return metrics


def export(run: Run, registry: Registry, exporters: list[ComponentChoice], out: Path | None = None) -> list[ExportResult]:
    """Export a finished run's model with the given exporters; record the results."""
    path = run.model_file("train it to completion first ('zoo runs' shows each run's status)")
    config = run_config(run, registry)
    destination = Path(out) if out is not None else run.dir / "exports"
    try:
        check_writable(destination)
    except RunError as error:
        raise RunError(error.message.replace("the runs root", "the export folder"),
                       hint="choose a writable folder with --out, or free some disk space") from None
    dataset = load_dataset(config)
    check_exporters(exporters, dataset, config.recipe, set_prefix="")  # zoo export --set names them bare
    with quiet_native_stderr():  # TensorFlow's start-up log lines
        model = load_run_model(path)
    with RunLock(run.dir).acquire("export"), StopRequests():
        try:
            results = export_model(run, model, dataset, exporters, destination, config.recipe)
        except OSError as error:
            if error.errno not in DISK_ERRNOS:
                raise
            raise RunError(f"cannot write the exports to '{destination}': {describe_os_error(error)}",
                           hint="free some disk space, or choose another folder with --out; "
                                "nothing unverified was left there") from None
        data = run.manifest()
        data["exports"] = [*data.get("exports", []), *(result.to_dict() for result in results)]
        write_json_atomic(run.dir / "manifest.json", data)
        write_report(run)
    return results


def load_run_model(path: Path) -> Any:
    """A run's model.keras, loaded in Keras' safe mode; a damaged file is a clear RunError."""
    import keras

    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a damaged file
        raise RunError(f"cannot load '{path}': {error_line(error)}",
                       hint="the file is damaged or was written by an incompatible Keras; "
                            "run the training again (zoo run --config <run>/config.toml)") from None
