"""A trained run's completion: evaluate, save the model, plots, exports, report (what ``zoo evaluate`` and ``zoo export``
on finished runs reuse: zoo_core.training.finished_runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from zoo_core.errors import ZooError
from zoo_core.export import ExportContext, ExportResult
from zoo_core.files import DISK_ERRNOS, atomic_path, write_json_atomic
from zoo_core.registry import ComponentChoice
from zoo_core.runs import Run, safe_name, utc_now, versions
from zoo_core.runs.history import read_history
from zoo_core.runs.timings import PhaseClock
from zoo_core.training.session import RunSession


@dataclass
class RunOutcome:
    """What a finished run produced.

    ``problems`` lists what went wrong after training although the run
    completed (plots or report that could not be written); failed exports
    are in ``exports`` with status 'failed'. On a multi-worker run's other
    workers ``role`` is 'worker' and ``summary`` their closing line: the
    chief evaluates and writes the run.
    """

    run: Run
    metrics: dict[str, Any] = field(default_factory=dict)
    exports: list[ExportResult] = field(default_factory=list)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    role: str = "chief"
    summary: str = ""


def complete(session: RunSession, model: Any, rows: list[dict], snapshots: list) -> RunOutcome:
    """Finish a trained run: metrics, model.keras, plots, exports, report; the manifest says 'completed'.

    The test set is predicted once; its probabilities feed the metrics, the
    confusion matrix and the predictions plot. The plots are drawn in a
    thread while the model is saved and exported (TensorFlow's work there
    mostly leaves Python's lock free). Plots and the report are guarded:
    their failure is recorded in ``problems`` and never loses the trained
    model. The prepared clock records each phase's seconds (manifest.json
    ``timings``). ``model`` is the trained model (a one-device copy after a
    distributed run); ``rows`` and ``snapshots`` the history and the weight
    samples of every epoch.
    """
    run, manifest, config, clock = session.run, session.manifest, session.config, session.prepared.clock
    dataset, loss = session.prepared.dataset, session.prepared.loss
    problems: list[str] = []
    probabilities = test_probabilities(model, dataset)
    metrics = evaluate_probabilities(probabilities, dataset, loss)
    write_json_atomic(run.dir / "metrics.json", metrics)
    manifest.update(metrics={k: metrics[k] for k in ("accuracy", "loss", "f1_macro")})
    clock.lap("evaluation")
    plotting = Background(lambda: _write_plots(run, model, dataset, probabilities, rows, snapshots, metrics))
    save_model(model, run.dir / "model.keras")
    clock.lap("save model")
    exports = export_model(run, model, dataset, config.exporters, run.dir / "exports", config.recipe, clock=clock)
    plots = guarded("plots", problems, plotting.result) or {}
    clock.lap("plots")  # what is left of the plots once the exports are done
    clock.beside("plots", plotting.seconds)
    manifest.update(status="completed", finished=utc_now(), plots=sorted(plots),
                    exports=[result.to_dict() for result in exports],
                    duration_seconds=round(sum(r.get("seconds", 0.0) for r in rows), 3),
                    problems=problems, error=None, timings=clock.record())
    guarded("report", problems, lambda: write_report(run))
    clock.lap("report")
    manifest.update(timings=clock.record(), **({"problems": problems} if problems else {}))
    return RunOutcome(run, metrics, exports, problems=problems)


class Background:
    """``work()`` in a thread, started at once; :meth:`result` waits for it (and raises what it raised)."""

    def __init__(self, work: Callable[[], Any]) -> None:
        import concurrent.futures
        import time

        def timed() -> Any:
            start = time.perf_counter()
            try:
                return work()
            finally:
                self.seconds = time.perf_counter() - start

        self.seconds = 0.0
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoo-plots")
        self._future = self._pool.submit(timed)
        self._pool.shutdown(wait=False)

    def result(self) -> Any:
        """The work's return value, once it is done."""
        return self._future.result()


def guarded(what: str, problems: list[str], work: Callable[[], Any]) -> Any:
    """Run a finishing step whose failure must not lose a trained model: record the problem instead.

    Disk errors still propagate (the run cannot be finished then).
    """
    try:
        return work()
    except OSError as error:
        if error.errno in DISK_ERRNOS:
            raise
        problems.append(f"{what}: {type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - e.g. a plotting bug; the model and metrics are saved
        problems.append(f"{what}: {type(error).__name__}: {error}")
    return None


def predict_probabilities(model: Any, x: Any) -> Any:
    """The model's class probabilities for ``x``, in large batches."""
    import numpy as np

    return np.asarray(model.predict(x, batch_size=1024, verbose=0))


def test_probabilities(model: Any, dataset: Any) -> Any:
    """The model's class probabilities for the whole test set; a streaming dataset's files are decoded batch by batch."""
    from zoo_core.data import is_streaming

    if is_streaming(dataset):
        from zoo_core.training.streaming import predict_probabilities as predict_streamed

        return predict_streamed(model, dataset, dataset.test_files)
    return predict_probabilities(model, dataset.x_test)


def evaluate_probabilities(probabilities: Any, dataset: Any, loss: Any = None) -> dict[str, Any]:
    """Test-set metrics from predicted probabilities: accuracy, loss, precision/recall/F1, confusion matrix."""
    import numpy as np

    from zoo_core.reporting.metrics import classification_metrics
    from zoo_core.training.input_pipeline import one_hot_if_needed

    loss_value = None
    if loss is not None:
        y = one_hot_if_needed(loss, dataset.y_test, dataset.info.num_classes)
        loss_value = float(np.mean(np.asarray(loss(y, probabilities))))
    return classification_metrics(dataset.y_test, probabilities, dataset.info.class_names, loss_value)


def save_model(model: Any, path: Path) -> None:
    """Save the model as a .keras file, atomically."""
    with atomic_path(path) as temporary:
        model.save(temporary)


def _write_plots(run: Run, model: Any, dataset: Any, probabilities: Any, rows: list[dict], snapshots: list,
                 metrics: dict) -> dict[str, Path]:
    import numpy as np

    from zoo_core.reporting.plots import write_plots

    history = {key: [row[key] for row in rows if key in row]
               for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    first = next((layer for layer in model.layers if getattr(layer, "kernel", None) is not None), None)
    kernel = np.asarray(first.get_weights()[0]) if first is not None else None
    return write_plots(run.dir / "plots", info=dataset.info, x_train=dataset.x_train, y_train=dataset.y_train,
                       x_test=dataset.x_test, y_test=dataset.y_test, probabilities=probabilities,
                       history=history, first_layer_weights=kernel, weight_history=snapshots, metrics=metrics)


def export_model(run: Run, model: Any, dataset: Any, exporters: list[ComponentChoice], destination: Path,
                 model_name: str, clock: PhaseClock | None = None) -> list[ExportResult]:
    """Run each exporter; a failing one is recorded as failed and the rest still run.

    TensorFlow's and TFLite's native log lines are hidden (zoo_core.training.native_logs.quiet_native_stderr).
    ``clock`` records one phase per export (``export <format> <variant>``).
    """
    from zoo_core.training.native_logs import quiet_native_stderr

    manifest = run.manifest()
    metadata_record = {"run_id": run.id, "recipe": manifest.get("recipe"), "versions": versions(),
                       "dataset": dataset.info.to_dict(), "class_names": list(dataset.info.class_names)}
    from zoo_core.export.savedmodel_io import reuse_savedmodels

    results = []
    with quiet_native_stderr(), reuse_savedmodels(destination):
        for choice in exporters:
            context = ExportContext(model=model, dataset=dataset, destination=destination,
                                    model_name=safe_name(model_name), metadata=dict(metadata_record))
            results.append(_export_one(choice, context))
            if clock is not None:
                clock.lap(f"export {results[-1].format} {results[-1].variant}")
    return results


def _export_one(choice: ComponentChoice, context: ExportContext) -> ExportResult:
    """One exporter's result; its failure (but a full disk) becomes a failed result."""
    def failed(message: str) -> ExportResult:
        return ExportResult(format=choice.component.name, variant=choice.ref, path="", status="failed", message=message)

    try:
        result = choice.build(context)
    except ZooError as error:
        return failed(error.message + (f"; hint: {error.hint}" if error.hint else ""))
    except OSError as error:
        if error.errno in DISK_ERRNOS:
            raise  # the disk is full or read-only: the run cannot finish either
        return failed(f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - a bug in an exporter plugin must not lose the trained run
        return failed(f"the exporter raised {type(error).__name__}: {error} "
                      f"(a bug in plugin '{choice.component.plugin}'?)")
    if not isinstance(result, ExportResult):
        return failed(f"the exporter returned {type(result).__name__}, not an ExportResult")
    return result


def write_report(run: Run) -> None:
    """(Re)write report.md from what the run directory holds."""
    from zoo_core.reporting.report import write_report as render

    manifest = run.manifest()
    history_path = run.dir / "history.csv"
    plots = {Path(p).stem: f"plots/{Path(p).name}" for p in sorted((run.dir / "plots").glob("*.png"))}
    render(run.dir / "report.md", title=f"{manifest.get('recipe', run.id)} — {run.id}",
           config_toml=(run.dir / "config.toml").read_text(encoding="utf-8"), manifest=manifest,
           metrics=run.metrics(), history=read_history(history_path) if history_path.is_file() else [],
           plots=plots, exports=manifest.get("exports", []))
