"""Which model ``zoo serve`` answers with for each reference, and what the page shows about it.

A reference is a run (id or directory), a recipe name (its latest completed
run), an exported file (``.tflite``, or any file ``zoo predict`` loads) or a
SavedModel folder; ``NAME=REFERENCE`` serves it under another name. For a run,
one of its exports is chosen: the first verified one in :data:`FORMAT_ORDER`
(``--format`` picks another), else its ``model.keras``.

Importing this module imports neither numpy nor TensorFlow; a model's runtime
is imported when it is loaded (TFLite through ai_edge_litert, SavedModel
through TensorFlow).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo_core.bench.artifacts import verified_exports
from zoo_core.errors import ConfigError
from zoo_core.export.metadata import size_of
from zoo_core.predict import Predictor, load_predictor
from zoo_core.runs import Run, find_run, is_run_dir
from zoo_core.serve.settings import AUTO

#: The formats a run's model is served in, best first, when ``--format`` is ``auto``: a verified int8
#: TFLite file answers fastest, then the float TFLite files, ONNX, the SavedModel, and the run's model.keras.
FORMAT_ORDER = ("tflite-int8", "tflite-float32", "tflite-float16", "tflite-dynamic", "onnx", "savedmodel", "keras")
#: A name a model is served under: it is a part of the URL (``/v1/models/NAME``).
MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,79}$")


@dataclass
class ServedModel:
    """One model behind the server: its name in the URLs, its predictor and what the page shows about it.

    Attributes:
        name: the name in ``/v1/models/NAME``.
        predictor: the loaded model (:class:`zoo_core.predict.Predictor`).
        format: ``tflite-int8``, ``tflite-float32``, ``savedmodel``, ``keras``... (see :data:`FORMAT_ORDER`).
        card: what the run's records say: run id, recipe, accuracy of the served file and of the Keras
            model, size in bytes, path, and the other formats the run has.
    """

    name: str
    predictor: Predictor
    format: str
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def contract(self) -> dict[str, Any]:
        """The input contract stored with the model (input_shape, scale, channels...), or {}."""
        for key in ("input", "dataset"):  # an exporter's metadata names it 'dataset', a run's model.keras 'input'
            contract = self.predictor.metadata.get(key)
            if isinstance(contract, dict):
                return contract
        return {}

    @property
    def class_names(self) -> list[str]:
        """The class names stored with the model (may be empty)."""
        names = self.predictor.metadata.get("class_names") or self.contract.get("class_names") or []
        return [str(name) for name in names]


def format_label(record: dict[str, Any]) -> str:
    """``tflite-int8`` for a TFLite export record of variant int8; ``savedmodel``/``onnx``... for one-variant formats."""
    kind, variant = str(record.get("format", "")), str(record.get("variant", ""))
    return f"{kind}-{variant}" if kind == "tflite" and variant else kind


def served_models(references: list[str], root: Path, formats: list[str] | str = AUTO) -> list[ServedModel]:
    """Load every referenced model, each with the runtime its format needs.

    ``formats`` are ``--format`` values: ``FORMAT`` for every run,
    ``NAME=FORMAT`` for the model served as NAME (see :data:`FORMAT_ORDER`).
    Raises ConfigError for two models of one name, a bad ``NAME=``, an unknown
    format or name in ``formats``, or a format a run does not have (with the
    formats it has); RunNotFound and DataError as ``zoo predict`` does for a
    reference that is no model.
    """
    default, by_name = _formats(formats)
    models: dict[str, ServedModel] = {}
    for reference in references:
        model = served_model(reference, root, default, by_name)
        if model.name in models:
            raise ConfigError(f"two models would be served as '{model.name}'",
                              hint=f"name one of them: zoo serve other-name={reference}")
        models[model.name] = model
    unknown = sorted(set(by_name) - set(models))
    if unknown:
        raise ConfigError(f"--format {unknown[0]}={by_name[unknown[0]]} names no served model",
                          hint=f"served: {', '.join(models)}")
    return list(models.values())


def _formats(formats: list[str] | str) -> tuple[str, dict[str, str]]:
    """The format for every run, and those given for one model's name; ConfigError for an unknown format."""
    default, by_name = AUTO, {}
    for value in [formats] if isinstance(formats, str) else formats:
        name, equals, format = value.rpartition("=")
        if format != AUTO and format not in FORMAT_ORDER:
            raise ConfigError(f"--format '{value}': '{format}' is not a format zoo serves",
                              hint=f"one of: {AUTO}, {', '.join(FORMAT_ORDER)}; or NAME=FORMAT for one model")
        if equals:
            by_name[name] = format
        else:
            default = format
    return default, by_name


def served_model(reference: str, root: Path, format: str = AUTO, by_name: dict[str, str] | None = None) -> ServedModel:
    """One model from a reference (see the module's docstring), in ``by_name[its name]`` or else ``format``."""
    name, reference = _split_name(reference)
    path = Path(reference)
    if path.exists() and not is_run_dir(path):
        predictor = load_predictor(path)
        label = _file_format(predictor)
        default_name = path.parent.name if predictor.format == "savedmodel" and path.name.isdigit() else path.stem
        card = {"path": str(path), "size_bytes": size_of(path), **_record_of_file(path)}
        return ServedModel(_checked_name(name or default_name, reference), predictor, label, card)
    run = find_run(reference, root)
    recipe = str(run.manifest().get("recipe") or "")
    name = _checked_name(name or (reference if reference == recipe else run.id), reference)
    label, path, record = _chosen_export(run, (by_name or {}).get(name, format))
    predictor = load_predictor(path)
    figures = record.get("figures") or {}
    card = {"run_id": run.id, "recipe": recipe, "path": str(path),
            "accuracy": figures.get("accuracy", run.metrics().get("accuracy")),
            "keras_accuracy": run.metrics().get("accuracy"),
            "size_bytes": record.get("size_bytes") or size_of(path),
            "formats": [label for label, _, _ in _run_formats(run)]}
    return ServedModel(name, predictor, label, card)


def _split_name(reference: str) -> tuple[str, str]:
    """``("name", "ref")`` for ``name=ref`` (when ``name=ref`` is not itself a file); ``("", reference)`` otherwise."""
    name, equals, rest = reference.partition("=")
    if equals and rest and MODEL_NAME.match(name) and not Path(reference).exists():
        return name, rest
    return "", reference


def _checked_name(name: str, reference: str) -> str:
    if not MODEL_NAME.match(name):
        raise ConfigError(f"'{name}' (from '{reference}') cannot be a model's name in a URL",
                          hint=f"name it: zoo serve my-model={reference} (letters, digits, '.', '_', '-')")
    return name


def _run_formats(run: Run) -> list[tuple[str, Path, dict[str, Any]]]:
    """The run's verified exports as (label, path, record), in :data:`FORMAT_ORDER`, then its model.keras."""
    found: dict[str, tuple[str, Path, dict[str, Any]]] = {}
    for record in verified_exports(run):  # oldest first: a later export of a format replaces an earlier one
        label = format_label(record)
        if label in FORMAT_ORDER:
            found[label] = (label, Path(record["path"]), record)
    keras = run.dir / "model.keras"
    if keras.is_file():
        found["keras"] = ("keras", keras, {"figures": {"accuracy": run.metrics().get("accuracy")}})
    return [found[label] for label in FORMAT_ORDER if label in found]


def _chosen_export(run: Run, format: str) -> tuple[str, Path, dict[str, Any]]:
    """The run's export in ``format`` (or the best one for ``auto``); ConfigError naming the formats it has."""
    formats = _run_formats(run)
    if not formats:
        run.model_file("only a completed run has a model; 'zoo runs' shows each run's status")  # raises
    if format == AUTO:
        return formats[0]
    for candidate in formats:
        if candidate[0] == format:
            return candidate
    have = ", ".join(label for label, _, _ in formats) or "none"
    raise ConfigError(f"run '{run.id}' has no verified {format} export (it has: {have})",
                      hint=f"export it first (zoo export {run.id} --format ...), or serve with --format {formats[0][0]}")


def _file_format(predictor: Predictor) -> str:
    """The label of a model given as a file: its exporter's format and variant when its metadata says them."""
    if predictor.format == "tflite":
        variant = str(predictor.metadata.get("variant") or "")
        return f"tflite-{variant}" if variant else "tflite"
    return predictor.format


def _record_of_file(path: Path) -> dict[str, Any]:
    """The run id and accuracy that a run's manifest records for an export file inside the run; {} otherwise."""
    resolved = path.resolve()
    for folder in resolved.parents:
        if is_run_dir(folder):
            run = Run(folder)
            for record in verified_exports(run):
                recorded = Path(record["path"]).resolve()
                # a SavedModel is recorded as its version folder, and may be served as the model folder holding it
                if resolved in ((recorded, recorded.parent) if recorded.name.isdigit() else (recorded,)):
                    return {"run_id": run.id, "recipe": str(run.manifest().get("recipe") or ""),
                            "accuracy": (record.get("figures") or {}).get("accuracy"),
                            "keras_accuracy": run.metrics().get("accuracy")}
            return {"run_id": run.id}
    return {}

