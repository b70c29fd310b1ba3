"""``zoo evaluate`` and ``zoo export`` on a finished run: load its model and data again, record the results.

Before any work both check that the folders they write to are writable, and
remove what a killed zoo process left in the run (its hidden temporaries),
when no live process holds the run's lock. ``evaluate`` refuses data whose
fingerprint differs from the run's (exit code 2) unless asked to evaluate
on other data, which is then recorded apart, in ``<run>/evaluations/``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo_core._util.text import error_line
from zoo_core.errors import ConfigError, DataError, RunError
from zoo_core.export import ExportResult
from zoo_core.files import DISK_ERRNOS, describe_os_error, remove_temporaries, write_json_atomic
from zoo_core.registry import ComponentChoice, Registry
from zoo_core.runs import LinkInRun, Run, RunBusy, RunLock, check_writable, utc_now, write_manifest
from zoo_core.training.completion import evaluate_probabilities, export_model, test_probabilities, write_report
from zoo_core.training.native_logs import quiet_native_stderr
from zoo_core.training.parameter_checks import check_exporters
from zoo_core.training.prepare import (check_same_data, data_source, differing_parts, fingerprint, load_dataset,
                                       run_config)
from zoo_core.training.signals import StopRequests

#: Where ``zoo evaluate RUN --other-data`` records its results, inside the run directory.
EVALUATIONS = "evaluations"


def evaluate(run: Run, registry: Registry) -> dict[str, Any]:
    """Re-evaluate a finished run's model on its test set; rewrite metrics.json.

    The data must be the run's own (the fingerprint in manifest.json): other
    data are refused with a DataError (exit code 2) that names both
    fingerprints; :func:`evaluate_other_data` evaluates on them instead.
    """
    with StopRequests(f"the evaluation of run '{run.id}'", note="the run's files are as they were"):
        metrics, _ = _evaluate(run, registry, other_data=False)
    return metrics


def evaluate_other_data(run: Run, registry: Registry) -> tuple[dict[str, Any], Path]:
    """Evaluate a finished run's model on whatever data its dataset loads now; return the metrics and the file.

    The result goes to ``<run>/evaluations/<UTC time>.json`` (the metrics,
    both data fingerprints and the data's source); the run's own
    metrics.json, manifest.json and report.md are never rewritten.
    """
    with StopRequests(f"the evaluation of run '{run.id}'", note="the run's files are as they were"):
        metrics, path = _evaluate(run, registry, other_data=True)
    return metrics, path


def _evaluate(run: Run, registry: Registry, other_data: bool) -> tuple[dict[str, Any], Path]:
    path = run.model_file("only completed runs can be evaluated; 'zoo runs' shows each run's status")
    config = run_config(run, registry)
    check_writable(run.dir, what="the run directory",
                   hint="zoo evaluate writes the metrics into the run directory: make it writable "
                        "(or copy the run to a writable folder and evaluate the copy)")
    tidy(run, "evaluate")
    dataset = load_dataset(config)
    found, source = fingerprint(dataset), data_source(config)
    if not other_data:
        check_same_data(run, found, source, f"zoo evaluate {run.id}",
                        hint="point the dataset back at the run's data, or evaluate on these data with "
                             f"'zoo evaluate {run.id} --other-data' (the result then goes to "
                             f"{run.dir / EVALUATIONS}/; the run's own metrics stay as they are)")
    with quiet_native_stderr():  # TensorFlow's start-up log lines
        model = load_run_model(path, dataset.info)
        probabilities = test_probabilities(model, dataset)
    metrics = evaluate_probabilities(probabilities, dataset, config.loss.build())
    if not other_data:
        return metrics, write_json_atomic(run.dir / "metrics.json", metrics)
    record = {"run_id": run.id, "evaluated": utc_now(), "data_source": source, "data_fingerprint": found,
              "run_data_fingerprint": run.manifest().get("data_fingerprint"),
              "same_data_as_run": not differing_parts(run.manifest().get("data_fingerprint"), found),
              "metrics": metrics}
    return metrics, write_json_atomic(_evaluation_file(run), record)


def _evaluation_file(run: Run) -> Path:
    """``<run>/evaluations/<UTC time>.json``, a name not taken yet."""
    folder = run.dir / EVALUATIONS
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path, number = folder / f"{stamp}.json", 1
    while path.exists():
        number += 1
        path = folder / f"{stamp}-{number}.json"
    return path


def tidy(run: Run, what: str = "tidy") -> list[Path]:
    """Remove what a killed zoo process left in the run (its hidden temporaries), if no live process holds its lock.

    Returns what was removed (nothing while another process works in the run).
    A run that holds a link is refused (LinkInRun, exit code 2: ``what`` names
    the action in the message), as every command refuses it.
    """
    try:
        lock = RunLock(run.dir).acquire(what)
    except LinkInRun:
        raise  # a link in the run: refused (exit code 2), nothing written through it
    except RunBusy:
        return []
    except RunError:  # the lock file cannot be opened (a read-only run): nothing can be removed either
        return []
    try:
        return remove_temporaries(run.dir)
    finally:
        lock.release()


def export(run: Run, registry: Registry, exporters: list[ComponentChoice], out: Path | None = None) -> list[ExportResult]:
    """Export a finished run's model with the given exporters; record the results.

    ``out`` (default ``<run>/exports``) must be a folder or a path that can
    become one: a file there is a ConfigError (exit code 2). The run's own
    folder must be writable too (its manifest and report record the exports).
    """
    with StopRequests(f"the export of run '{run.id}'", note="nothing unverified was left at the destination"):
        return _export(run, registry, exporters, out)


def _export(run: Run, registry: Registry, exporters: list[ComponentChoice], out: Path | None) -> list[ExportResult]:
    path = run.model_file("train it to completion first ('zoo runs' shows each run's status)")
    config = run_config(run, registry)
    destination = Path(out) if out is not None else run.dir / "exports"
    if out is not None:
        check_out_folder(destination)
    check_writable(run.dir, what="the run directory",
                   hint="zoo export records the exports in the run's manifest.json and report.md: make it writable")
    check_writable(destination, what="the export folder", hint="choose a writable folder with --out")
    dataset = load_dataset(config)
    check_exporters(exporters, dataset, config.recipe, set_prefix="")  # zoo export --set names them bare
    with RunLock(run.dir).acquire("export"):
        remove_temporaries(run.dir)  # a killed export's staging folders; we hold the lock, so none is in use
        with quiet_native_stderr():  # TensorFlow's start-up log lines
            model = load_run_model(path, dataset.info)
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
        write_manifest(run.dir / "manifest.json", data)
        write_report(run)
    return results


def check_out_folder(destination: Path) -> None:
    """Refuse (ConfigError, exit code 2) an export destination that is a file or lies under one."""
    for folder in (destination, *destination.parents):
        if folder.is_dir():
            return
        if not (folder.exists() or folder.is_symlink()):
            continue  # created when the export starts
        where = "is a file, not a folder" if folder == destination else f"is under '{folder}', which is not a folder"
        raise ConfigError(f"--out '{destination}' {where}",
                          hint="give a folder for the exports (it is created if missing), e.g. --out exports/")


def load_run_model(path: Path, info: Any = None) -> Any:
    """A run's model.keras, loaded in Keras' safe mode; a file that is not a usable model is a DataError (exit 2).

    With the dataset's ``info``, a model whose input or output does not fit
    the dataset (shape, number of classes) is refused as well.
    """
    import keras

    hint = ("the file is damaged, holds code that safe mode refuses, or was written by an incompatible Keras; "
            f"train the run again: zoo run --config {path.parent / 'config.toml'}")
    try:
        model = keras.models.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a damaged or hostile file
        raise DataError(f"Keras model '{path}' cannot be loaded: {error_line(error)}", hint=hint) from None
    if info is not None:
        check_model_fits(model, info, path, hint)
    return model


def check_model_fits(model: Any, info: Any, path: Path, hint: str) -> None:
    """Refuse a model whose input shape or number of outputs does not fit the run's dataset."""
    try:
        inputs, outputs = tuple(model.input_shape), tuple(model.output_shape)
    except (AttributeError, ValueError, TypeError, RuntimeError):
        raise DataError(f"Keras model '{path}' is not a usable model: it has no single input and output",
                        hint=hint) from None
    if len(inputs) != len(info.input_shape) + 1 or any(
            size is not None and size != wanted for size, wanted in zip(inputs[1:], info.input_shape)):
        raise DataError(f"Keras model '{path}' takes inputs of shape {list(inputs[1:])}, but the run's dataset "
                        f"'{info.name}' has examples of shape {list(info.input_shape)}", hint=hint)
    if len(outputs) != 2 or outputs[-1] != info.num_classes:
        raise DataError(f"Keras model '{path}' outputs shape {list(outputs[1:])} per example, but the run's "
                        f"dataset '{info.name}' has {info.num_classes} classes", hint=hint)
