"""One run end to end: the Python API behind ``zoo run``, ``train``, ``resume``, ``evaluate`` and ``export``.

Flow: create the run directory and write config.toml and manifest.json →
load and check the dataset → set up TensorFlow → build model, optimizer and
loss → fit (checkpoint every epoch) → evaluate → save the model → plots →
exports → report. Every file is written atomically; the manifest's status
says at any moment whether the run is running, completed, failed or
interrupted.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import socket
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from zoo_core import __version__
from zoo_core.config import ComponentChoice, RunConfig
from zoo_core.errors import ConfigError, RunError, ZooError
from zoo_core.export import ExportResult
from zoo_core.files import write_json_atomic, write_text_atomic
from zoo_core.registry import Registry
from zoo_core.runs import Run, create_run_dir, runs_root, safe_name, utc_now

EXIT_INTERRUPTED = 130


@dataclass
class RunOutcome:
    """What a finished run produced."""

    run: Run
    metrics: dict[str, Any] = field(default_factory=dict)
    exports: list[ExportResult] = field(default_factory=list)
    seconds: float = 0.0


class RunInterrupted(ZooError):
    """Ctrl-C during training: the run is saved as interrupted and can be resumed."""

    exit_code = EXIT_INTERRUPTED


def versions() -> dict[str, str]:
    """Versions of Python, TensorFlow, Keras and zoo, without importing TensorFlow."""
    def version_of(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"python": platform.python_version(), "tensorflow": version_of("tensorflow"),
            "keras": version_of("keras"), "zoo": __version__}


def qualified_names(config: RunConfig, registry: Registry) -> set[tuple[str, str]]:
    """(kind, name) of the run's components whose bare name is ambiguous."""
    return {(c.kind, c.component.name) for c in config.choices()
            if len(registry.catalog.by_kind[c.kind].get(c.component.name, [])) > 1}


def component_records(config: RunConfig) -> list[dict[str, Any]]:
    """The manifest's record of each component: where it came from and its params."""
    return [{"kind": c.kind, "name": c.ref, "component": c.component.name, "plugin": c.component.plugin,
             "distribution": c.component.distribution, "version": c.component.version, "params": c.params}
            for c in config.choices()]


class Manifest:
    """manifest.json of one run, rewritten atomically on every change."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self.save()

    def update(self, **values: Any) -> None:
        self.data.update(values)
        self.save()

    def save(self) -> None:
        write_json_atomic(self.path, self.data)


def start_run(config: RunConfig, registry: Registry, root: str | Path | None = None) -> tuple[Run, Manifest]:
    """Create the run directory, write config.toml and a 'running' manifest."""
    directory = create_run_dir(runs_root(root), config.recipe)
    write_text_atomic(directory / "config.toml", config.to_toml(qualified_names(config, registry)))
    distributions = {c.component.distribution: c.component.version for c in config.choices()}
    manifest = Manifest(directory / "manifest.json", {
        "run_id": directory.name, "recipe": config.recipe, "status": "running",
        "started": utc_now(), "finished": None, "seed": config.settings["seed"],
        "pid": os.getpid(), "host": socket.gethostname(),
        "versions": versions(), "plugins": distributions,
        "components": component_records(config), "settings": config.settings,
        "epochs_done": 0,
    })
    return Run(directory), manifest


def fingerprint(dataset: Any) -> dict[str, str]:
    """sha256 of the training and test arrays (data and labels) actually used."""
    import numpy as np

    def digest(*arrays: Any) -> str:
        h = hashlib.sha256()
        for array in arrays:
            array = np.ascontiguousarray(array)
            h.update(str((array.dtype.str, array.shape)).encode())
            h.update(memoryview(array).cast("B"))
        return h.hexdigest()

    return {"train_sha256": digest(dataset.x_train, dataset.y_train),
            "test_sha256": digest(dataset.x_test, dataset.y_test)}


def load_dataset(config: RunConfig) -> Any:
    """Build the run's dataset, check its contract and apply the sample limits."""
    from zoo_core.engine import check_dataset, limit

    dataset = config.dataset.build()
    where = f"dataset '{config.dataset.ref}'"
    check_dataset(dataset, where)
    settings = config.settings
    return limit(dataset, settings["max_train_samples"], settings["max_test_samples"])


def train(config: RunConfig, registry: Registry, root: str | Path | None = None,
          progress: str | None = None, stream: TextIO | None = None) -> RunOutcome:
    """Run ``config`` from scratch in a new run directory."""
    run, manifest = start_run(config, registry, root)
    return _train_in(run, manifest, config, resume_state=None, progress=progress, stream=stream)


def resume(run: Run, registry: Registry, progress: str | None = None, stream: TextIO | None = None) -> RunOutcome:
    """Continue an interrupted or killed run from its last completed epoch."""
    import json

    status = run.status()
    if status == "completed":
        raise RunError(f"run '{run.id}' already completed; nothing to resume")
    if status == "running":
        raise RunError(f"run '{run.id}' is still running (pid {run.manifest().get('pid')})",
                       hint="stop that process first, or wait for it")
    config = registry.run_from_table(run.config_table(), run.manifest().get("recipe", "adhoc"),
                                     str(run.dir / "config.toml"))
    state_path = run.dir / "checkpoint" / "state.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else None
    data = run.manifest()
    data.update(status="running", pid=os.getpid(), host=socket.gethostname(), error=None,
                resumed=[*data.get("resumed", []), {"at": utc_now(), "epochs_done": (state or {}).get("epochs_done", 0)}])
    manifest = Manifest(run.dir / "manifest.json", data)
    return _train_in(run, manifest, config, resume_state=state, progress=progress, stream=stream)


def _train_in(run: Run, manifest: Manifest, config: RunConfig, resume_state: dict | None,
              progress: str | None, stream: TextIO | None) -> RunOutcome:
    started = time.perf_counter()
    try:
        outcome = _train_steps(run, manifest, config, resume_state, progress, stream)
    except KeyboardInterrupt:
        manifest.update(status="interrupted", finished=utc_now(), error="interrupted (Ctrl-C)")
        raise RunInterrupted(f"run '{run.id}' interrupted after {manifest.data.get('epochs_done', 0)} epoch(s)",
                             hint=f"continue it with: zoo resume {run.dir}") from None
    except ZooError as error:
        manifest.update(status="failed", finished=utc_now(), error=error.message)
        raise
    except Exception as error:
        manifest.update(status="failed", finished=utc_now(), error=f"{type(error).__name__}: {error}")
        raise
    outcome.seconds = time.perf_counter() - started
    return outcome


def _train_steps(run: Run, manifest: Manifest, config: RunConfig, resume_state: dict | None,
                 progress: str | None, stream: TextIO | None) -> RunOutcome:
    settings = config.settings
    dataset = load_dataset(config)
    info = dataset.info
    manifest.update(dataset=info.to_dict(), data_fingerprint=fingerprint(dataset),
                    samples={"train": len(dataset.x_train), "test": len(dataset.x_test)})

    from zoo_core import engine

    threads = engine.configure_threads(math.prod(info.input_shape), settings["batch_size"], settings["threads"])
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(settings["seed"])
    if settings["deterministic"]:
        tf.config.experimental.enable_op_determinism()

    from zoo_core import callbacks as cb

    split = engine.split_validation(dataset.x_train, dataset.y_train, settings["validation_split"])
    loss = config.loss.build()
    first_epoch = 0
    rows: list[dict] = []
    if resume_state:
        model = keras.models.load_model(run.dir / "checkpoint" / "model.keras", safe_mode=True)
        first_epoch, rows = int(resume_state["epochs_done"]), list(resume_state["history"])
    else:
        model = config.architecture.build(tuple(info.input_shape), info.num_classes)
        _check_model(model, info, config.architecture.ref)
        model.compile(optimizer=config.optimizer.build(), loss=loss, metrics=["accuracy"])

    y_train = engine.one_hot_if_needed(loss, split.y_train, info.num_classes)
    stream_data, steps = engine.training_dataset(split.x_train, y_train, settings["batch_size"],
                                                 settings["seed"], settings["shuffle"], first_epoch,
                                                 settings["epochs"])
    progress_mode = cb.progress_mode(progress or settings["progress"], stream)
    model.steps_per_execution = engine.choose_steps_per_execution(steps, settings["steps_per_execution"],
                                                                  live_progress=progress_mode == "bar")
    validation = None
    if split.x_val is not None:
        validation = (split.x_val, engine.one_hot_if_needed(loss, split.y_val, info.num_classes))

    history = cb.HistoryWriter(run.dir / "history.csv", rows)
    weights = cb.WeightSnapshots()
    weights_path = run.dir / "checkpoint" / "weights.npz"
    if resume_state and weights_path.is_file():
        weights.snapshots = cb.read_weights_npz(weights_path)

    def after_epoch_state() -> dict:
        cb.write_weights_npz(weights_path, weights.snapshots)
        manifest.update(epochs_done=len(history.rows))
        return {}

    callbacks = [cb.EpochTimer(), cb.NaNGuard(), history, weights,
                 cb.Checkpointer(run.dir / "checkpoint", history, after_epoch_state),
                 cb.Progress(progress_mode, settings["epochs"], steps, stream)]
    if settings["tensorboard"]:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run.dir / "tensorboard")))
    manifest.update(engine={"threads": threads, "steps_per_execution": model.steps_per_execution,
                            "steps_per_epoch": steps})
    (run.dir / "checkpoint").mkdir(exist_ok=True)
    if first_epoch < settings["epochs"]:
        try:
            model.fit(stream_data, epochs=settings["epochs"], initial_epoch=first_epoch, steps_per_epoch=steps,
                      validation_data=validation, validation_batch_size=max(settings["batch_size"], 1024),
                      callbacks=callbacks, shuffle=False, verbose=0)
        except cb.NonFiniteLoss as error:
            raise RunError(f"training stopped: {error}",
                           hint="likely causes: a learning rate too high (try --set optimizer.learning_rate=0.0001), "
                                "unscaled inputs, or a loss that does not match the labels") from None

    probabilities = predict_probabilities(model, dataset.x_test)
    metrics = evaluate_probabilities(probabilities, dataset, loss)
    write_json_atomic(run.dir / "metrics.json", metrics)
    _save_model(model, run.dir / "model.keras")
    manifest.update(metrics={k: metrics[k] for k in ("accuracy", "loss", "f1_macro")})

    plots = _write_plots(run, model, dataset, probabilities, history.rows, weights.snapshots, metrics)
    exports = export_model(run, model, dataset, config.exporters, run.dir / "exports", config.recipe)
    manifest.update(status="completed", finished=utc_now(), plots=sorted(plots),
                    exports=[result.to_dict() for result in exports],
                    duration_seconds=round(sum(r.get("seconds", 0.0) for r in history.rows), 3))
    write_report(run)
    return RunOutcome(run, metrics, exports)


def _check_model(model: Any, info: Any, ref: str) -> None:
    """An architecture must output one probability per class."""
    shape = tuple(model.output_shape) if hasattr(model, "output_shape") else None
    if shape is not None and shape[-1] != info.num_classes:
        raise ConfigError(f"architecture '{ref}' outputs {shape[-1]} values per example, "
                          f"but the dataset has {info.num_classes} classes",
                          hint="the architecture must end in a softmax over num_classes")


def predict_probabilities(model: Any, x: Any) -> Any:
    """The model's class probabilities for ``x``, in large batches."""
    import numpy as np

    return np.asarray(model.predict(x, batch_size=1024, verbose=0))


def evaluate_probabilities(probabilities: Any, dataset: Any, loss: Any = None) -> dict[str, Any]:
    """Test-set metrics from predicted probabilities: accuracy, loss, precision/recall/F1, confusion matrix."""
    import numpy as np

    from zoo_core.metrics import classification_metrics

    loss_value = None
    if loss is not None:
        from zoo_core.engine import one_hot_if_needed

        y = one_hot_if_needed(loss, dataset.y_test, dataset.info.num_classes)
        loss_value = float(np.mean(np.asarray(loss(y, probabilities))))
    return classification_metrics(dataset.y_test, probabilities, dataset.info.class_names, loss_value)


def _save_model(model: Any, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}.keras")
    model.save(temporary)
    temporary.replace(path)


def _write_plots(run: Run, model: Any, dataset: Any, probabilities: Any, rows: list[dict], snapshots: list,
                 metrics: dict) -> dict[str, Path]:
    import numpy as np

    from zoo_core.plots import write_plots

    history = {key: [row[key] for row in rows if key in row]
               for key in ("loss", "accuracy", "val_loss", "val_accuracy")}
    first = next((layer for layer in model.layers if getattr(layer, "kernel", None) is not None), None)
    kernel = np.asarray(first.get_weights()[0]) if first is not None else None
    return write_plots(run.dir / "plots", info=dataset.info, x_train=dataset.x_train, y_train=dataset.y_train,
                       x_test=dataset.x_test, y_test=dataset.y_test, probabilities=probabilities,
                       history=history, first_layer_weights=kernel, weight_history=snapshots, metrics=metrics)


def export_model(run: Run, model: Any, dataset: Any, exporters: list[ComponentChoice], destination: Path,
                 model_name: str) -> list[ExportResult]:
    """Run each exporter; a failing one is recorded as failed and the rest still run."""
    from zoo_core.export import ExportContext

    results = []
    manifest = run.manifest()
    metadata_record = {"run_id": run.id, "recipe": manifest.get("recipe"), "versions": versions(),
                       "dataset": dataset.info.to_dict(), "class_names": list(dataset.info.class_names)}
    for choice in exporters:
        context = ExportContext(model=model, dataset=dataset, destination=destination,
                                model_name=safe_name(model_name), metadata=dict(metadata_record))
        try:
            result = choice.build(context)
        except ZooError as error:
            result = ExportResult(format=choice.component.name, variant=choice.ref, path="", status="failed",
                                  message=error.message)
        results.append(result)
    return results


def write_report(run: Run) -> None:
    """(Re)write report.md from what the run directory holds."""
    from zoo_core.callbacks import read_history
    from zoo_core.report import write_report as render

    manifest = run.manifest()
    history_path = run.dir / "history.csv"
    plots = {Path(p).stem: f"plots/{Path(p).name}" for p in sorted((run.dir / "plots").glob("*.png"))}
    render(run.dir / "report.md", title=f"{manifest.get('recipe', run.id)} — {run.id}",
           config_toml=(run.dir / "config.toml").read_text(encoding="utf-8"), manifest=manifest,
           metrics=run.metrics(), history=read_history(history_path) if history_path.is_file() else [],
           plots=plots, exports=manifest.get("exports", []))


def evaluate(run: Run, registry: Registry) -> dict[str, Any]:
    """Re-evaluate a finished run's model on its test set; rewrite metrics.json."""
    import keras

    path = run.dir / "model.keras"
    if not path.is_file():
        raise RunError(f"run '{run.id}' has no model.keras (status: {run.status()})",
                       hint="only completed runs can be evaluated; 'zoo runs' shows each run's status")
    config = registry.run_from_table(run.config_table(), run.manifest().get("recipe", "adhoc"),
                                     str(run.dir / "config.toml"))
    dataset = load_dataset(config)
    model = keras.models.load_model(path, safe_mode=True)
    metrics = evaluate_probabilities(predict_probabilities(model, dataset.x_test), dataset, config.loss.build())
    write_json_atomic(run.dir / "metrics.json", metrics)
    return metrics


def export(run: Run, registry: Registry, exporters: list[ComponentChoice], out: Path | None = None) -> list[ExportResult]:
    """Export a finished run's model with the given exporters; record the results."""
    import keras

    path = run.dir / "model.keras"
    if not path.is_file():
        raise RunError(f"run '{run.id}' has no model.keras (status: {run.status()})",
                       hint="train it to completion first ('zoo runs' shows each run's status)")
    config = registry.run_from_table(run.config_table(), run.manifest().get("recipe", "adhoc"),
                                     str(run.dir / "config.toml"))
    dataset = load_dataset(config)
    model = keras.models.load_model(path, safe_mode=True)
    results = export_model(run, model, dataset, exporters, out or run.dir / "exports", config.recipe)
    data = run.manifest()
    data["exports"] = [*data.get("exports", []), *(result.to_dict() for result in results)]
    write_json_atomic(run.dir / "manifest.json", data)
    write_report(run)
    return results

