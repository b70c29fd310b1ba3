"""Callback checks: a Keras callback that trains, saves its state as JSON, resumes from it, and takes the run's end."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from zoo_core.components import Component
from zoo_core.data import Dataset
from zoo_core.testing.examples import example_data, tiny_model
from zoo_core.testing.parameters import begin_checks
from zoo_core.testing.results import Broken, CheckResult, Skip

#: Epochs the kit trains before it "kills" the run, and in all.
FIRST_EPOCHS, EPOCHS = 2, 4
#: The optimizer's learning rate in the kit's config (a schedule may start from it).
KIT_LEARNING_RATE = 0.01


def check_callback(component: str | Component, params: dict[str, Any] | None = None, *,
                   catalog: Any = None, dataset: Any = None, light_import: bool = True) -> list[CheckResult]:
    """Check a callback: it builds from a context, trains a tiny model, keeps JSON state and resumes from it.

    The kit trains :data:`FIRST_EPOCHS` epochs, takes ``zoo_state()`` at
    each epoch end as zoo's checkpoint does, builds the callback again with
    the last state (as a resume does) and trains to :data:`EPOCHS`, then
    calls ``on_run_end`` with a completed run's summary. A component whose
    ``requires`` are not installed has its checks skipped with the reason.
    """
    component, checks, values = begin_checks("callback", component, params, catalog, light_import)
    data = checks.run("example_data", example_data, dataset, catalog, 200)
    with tempfile.TemporaryDirectory(prefix="zoo-conformance-") as folder:
        root = Path(folder)
        first = checks.run("builds", _build, component, values, data, root, 0, [], {},
                           needs=["defaults_accepted", "example_data"])
        trained = checks.run("trains_with_it", _train, first, data, 0, FIRST_EPOCHS, None, needs=["builds"])
        state = checks.run("state_is_json", _check_states, first, trained, needs=["trains_with_it"])
        checks.run("resumes_from_state", _resume, component, values, data, root, trained, state,
                   needs=["state_is_json"])
        checks.run("run_end_accepted", _run_end, first, root, needs=["trains_with_it"])
    return checks.results


def _context(data: Dataset, root: Path, name: str, initial_epoch: int, history: list[dict],
             state: dict[str, Any]) -> Any:
    from zoo_core.registry import SETTINGS
    from zoo_core.training.callbacks.context import CallbackContext

    settings = {key: setting.parameter.default for key, setting in SETTINGS.items()}
    settings.update(epochs=EPOCHS, batch_size=32, validation_split=0.25, max_train_samples=len(data.x_train))
    config = {"recipe": "conformance-kit", **settings, "dataset": {"component": "conformance:synthetic"},
              "architecture": {"component": "conformance:tiny"},
              "optimizer": {"component": "keras-optimizers:adam", "learning_rate": KIT_LEARNING_RATE},
              "loss": {"component": "keras-losses:sparse-categorical-crossentropy"}, "exporters": [],
              "callbacks": [{"component": name}]}
    run_dir = root / "runs" / "conformance-kit"
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = -(-int(len(data.x_train) * 0.75) // 32)
    return CallbackContext(run_dir=run_dir, run_id=run_dir.name, recipe="conformance-kit", config=config,
                           settings=settings, dataset=data.info, name=name, is_chief=True,
                           initial_epoch=initial_epoch, steps_per_epoch=steps, history=history, state=state,
                           runs_root=run_dir.parent)


def _build(component: Component, values: dict[str, Any], data: Dataset, root: Path, initial_epoch: int,
           history: list[dict], state: dict[str, Any]) -> Any:
    import keras

    problem = component.requirement_problem()
    if problem:
        raise Skip(problem)
    callback = component.load_factory()(_context(data, root, component.name, initial_epoch, history, state),
                                        **values)
    if not isinstance(callback, keras.callbacks.Callback):
        raise Broken(f"the factory returned {type(callback).__name__}; a callback factory must return a new "
                     f"keras.callbacks.Callback")
    return callback


def _train(callback: Any, data: Dataset, initial_epoch: int, epochs: int, model: Any) -> dict[str, Any]:
    """Fit a tiny model with the callback as zoo does (its state taken at each epoch end); the model, states, rows."""
    import keras

    split = int(len(data.x_train) * 0.75)
    if model is None:
        model = tiny_model(data.info.input_shape, data.info.num_classes)
        model.compile(optimizer=keras.optimizers.Adam(KIT_LEARNING_RATE), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    taken: list[Any] = []
    rows: list[dict] = []

    class Checkpointer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            rows.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
            method = getattr(callback, "zoo_state", None)
            taken.append(method() if method is not None else None)

    model.fit(data.x_train[:split], data.y_train[:split], validation_data=(data.x_train[split:], data.y_train[split:]),
              initial_epoch=initial_epoch, epochs=epochs, batch_size=32, shuffle=False, verbose=0,
              callbacks=[callback, Checkpointer()])
    return {"model": model, "states": taken, "rows": rows}


def _check_states(callback: Any, trained: dict[str, Any]) -> dict[str, Any]:
    if getattr(callback, "zoo_state", None) is None:
        raise Skip("it has no zoo_state(): nothing to save")
    for epoch, state in enumerate(trained["states"], start=1):
        if not isinstance(state, dict):
            raise Broken(f"zoo_state() returned {type(state).__name__} after epoch {epoch}; return a dict")
        try:
            json.loads(json.dumps(state, allow_nan=False))
        except (TypeError, ValueError) as error:
            raise Broken(f"zoo_state() after epoch {epoch} is not JSON ({error}): zoo saves it in the checkpoint's "
                         f"state.json; return plain numbers, strings, lists and dicts (no numpy, no inf/NaN)")
    return trained["states"][-1] if trained["states"] else {}


def _resume(component: Component, values: dict[str, Any], data: Dataset, root: Path, trained: dict[str, Any],
            state: dict[str, Any]) -> None:
    again = _build(component, values, data, root, FIRST_EPOCHS, trained["rows"], json.loads(json.dumps(state)))
    if getattr(again, "model", None) is not None:
        raise Broken("the factory returned a callback that already has a model; return a new callback per call")
    _train(again, data, FIRST_EPOCHS, EPOCHS, trained["model"])


def _run_end(callback: Any, root: Path) -> None:
    from zoo_core.training.callbacks.context import RunSummary

    method = getattr(callback, "on_run_end", None)
    if method is None:
        raise Skip("it has no on_run_end(summary)")
    run_dir = root / "runs" / "conformance-kit"
    report = run_dir / "report.md"
    report.write_text("# conformance kit\n", encoding="utf-8")
    method(RunSummary(status="completed", run_dir=run_dir, metrics={"accuracy": 1.0, "loss": 0.1}, report=report,
                      files=[report], epochs_done=EPOCHS))
