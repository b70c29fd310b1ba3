"""The helpers of ``zoo predict``: which model a reference names, its answers, and whose problem a bad model is.

Importing this module imports neither numpy nor TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from zoo_core._util.text import error_line
from zoo_core.errors import DataError, ZooError
from zoo_core.runs import Run, find_run, is_run_dir


def predict_model(reference: str, root: Path) -> tuple[Path, Optional[Path]]:
    """A model file/folder as given, or the run's model.keras; and the run directory when the model is a run's."""
    path = Path(reference)
    try:
        exists = path.exists()
    except OSError as error:  # e.g. a name too long for the file system
        raise DataError(f"model '{reference}' cannot be read: {error.strerror or error}",
                        hint="pass a .tflite file, an .onnx file, a SavedModel folder (e.g. runs/ID/exports/NAME/1) or a run"
                        ) from None
    if exists and not is_run_dir(path):
        in_run = path.suffix.lower() == ".keras" and path.name == "model.keras" and is_run_dir(path.parent)
        if in_run:
            Run(path.parent).check_format()  # a run a newer zoo wrote: refused, as 'zoo predict RUN' refuses it
        return path, path.parent if in_run else None
    looks_like_file = path.suffix.lower() in (".tflite", ".onnx", ".keras", ".pb", ".h5") or "/" in reference or "\\" in reference
    if not exists and looks_like_file:
        raise DataError(f"model '{reference}' does not exist",
                        hint="pass a .tflite file, an .onnx file, a SavedModel folder (e.g. runs/ID/exports/NAME/1) or a run")
    run = find_run(reference, root)
    return run.model_file("only a completed run has a model; 'zoo runs' shows each run's status"), run.dir


def answers(predictor: Any, batch: Any, source: Path) -> Any:
    """The model's class probabilities for ``batch``: DataError if the model fails on it or answers non-numbers."""
    from zoo_core import predict

    try:
        probabilities = predictor.predict(batch)
    except ZooError:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged or hostile model fails in many ways
        raise DataError(f"model '{predictor.path}' failed on '{source}': {type(error).__name__}: "
                        f"{error_line(error)}", hint="the model file is damaged; export the model again") from None
    predict.check_answers(probabilities, predictor, f"'{source}'")
    return probabilities


def model_call(run_dir: Optional[Path], work: Callable[[], Any]) -> Any:
    """``work()``; a damaged or inconsistent run's model.keras is named as the run's, with how to get a good one.

    It stays a DataError (exit 2), as ``zoo evaluate`` and ``zoo export`` say
    for the same file: a model file that is not a usable model.
    """
    try:
        return work()
    except DataError as error:
        if run_dir is None:
            raise
        raise DataError(f"run '{run_dir.name}': {error.message}",
                       hint="the run's model.keras is damaged or does not fit its manifest.json; run the training "
                            f"again (zoo run --config {run_dir / 'config.toml'})") from None
