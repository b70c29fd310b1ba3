"""The artifacts ``zoo bench`` measures for one run: one per exporter that applies, reused or exported now.

Every exporter name the registry knows (components and presets: savedmodel,
tflite, tflite-float16, tflite-dynamic, tflite-int8, onnx, and any plugin's) is
tried; one whose parameter check refuses the run's data (int8 for integer
inputs, say), or whose optional extra is not installed (onnx without
``zoo[onnx]``), does not apply. An export already in the run is reused when its
manifest record says it passed verification and its files still have the
recorded sha256; the others are exported into the run's ``exports/`` with
the finished-run export API (verified and recorded as ``zoo export`` does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from zoo_core.errors import ZooError
from zoo_core.export.metadata import sha256_of
from zoo_core.predict import SAVEDMODEL_METADATA
from zoo_core.predict.metadata import read_json_object, tflite_metadata_or_sidecar
from zoo_core.predict.onnx_files import onnx_metadata_or_sidecar, onnx_session
from zoo_core.registry import ComponentChoice, Registry
from zoo_core.runs import Run

#: Conversion settings recorded in an artifact that do not make another artifact (a calibration is capped
#: by the training data, and recorded as 0 when unused).
IGNORED_CONVERSION_KEYS = frozenset({"calibration_samples", "verify_samples"})


@dataclass
class Artifact:
    """One exporter's artifact of a run, or why there is none."""

    exporter: str  #: the registry name: savedmodel, tflite, tflite-int8...
    format: str = ""
    variant: str = ""
    path: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)
    reused: bool = False
    status: str = "ok"  #: ok | failed (the export or its verification failed) | not applicable
    message: str = ""


def applicable_exporters(registry: Registry, dataset: Any, model_name: str) -> tuple[list[ComponentChoice], list[Artifact]]:
    """Every distinct exporter that applies to ``dataset``, and those that do not (with the reason).

    Two names that resolve to the same component and parameters (a preset
    that only renames) count once, under the first name.
    """
    from zoo_core.training.parameter_checks import check_exporters

    chosen: list[ComponentChoice] = []
    skipped: list[Artifact] = []
    seen: set[str] = set()
    for name in exporter_names(registry):
        try:
            choice = registry.resolve("exporter", name, f"exporter '{name}'", builtin=True)
            check_exporters([choice], dataset, model_name, set_prefix="")
        except ZooError as error:
            skipped.append(Artifact(name, status="not applicable", message=error.message))
            continue
        key = json.dumps(choice.to_table(), sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            chosen.append(choice)
    return chosen, skipped


def exporter_names(registry: Registry) -> list[str]:
    """Every usable exporter name: the components (sorted), then the presets in the order the registry defines them."""
    components = sorted(set(registry.catalog.names("exporter")))
    presets = [name for name, preset in registry.presets["exporter"].items()
               if not preset.unavailable and name not in components]
    return components + presets


def verified_exports(run: Run) -> list[dict[str, Any]]:
    """The run's recorded exports that passed verification and whose files are unchanged (sha256), oldest first."""
    found = []
    for record in run.manifest().get("exports") or []:
        if not isinstance(record, dict) or record.get("status", "ok") != "ok" or not record.get("path"):
            continue
        path = recorded_path(run, str(record["path"]))
        try:
            if path.exists() and sha256_of(path) == record.get("sha256"):
                found.append({**record, "path": str(path)})
        except OSError:
            continue
    return found


def recorded_path(run: Run, text: str) -> Path:
    """Where an export recorded in the manifest is now.

    An exporter returns its path as it wrote it: under a relative runs root
    (the default ``./runs``) that is relative to the working directory of
    then (``runs/ID/exports/model.tflite``), so the part from the run's id on
    is taken inside the run directory; any other relative path is the run
    directory's.
    """
    path = Path(text)
    if path.is_absolute():
        return path
    parts = path.parts
    if run.id in parts:
        return run.dir.joinpath(*parts[parts.index(run.id) + 1:])
    return run.dir / path


def artifact_metadata(path: Path) -> dict[str, Any]:
    """What an exporter stored with an artifact (a .tflite's or .onnx's embedded entry, a SavedModel's JSON), or {}."""
    try:
        if path.is_dir():
            metadata = path / SAVEDMODEL_METADATA
            return read_json_object(metadata) if metadata.is_file() else {}
        if path.suffix == ".tflite":
            return tflite_metadata_or_sidecar(path)
        if path.suffix == ".onnx":
            return onnx_metadata_or_sidecar(onnx_session(path), path)
    except (ZooError, OSError, ValueError):
        return {}
    return {}


def matches(choice: ComponentChoice, record: dict[str, Any]) -> bool:
    """Whether an existing export ``record`` is what ``choice`` would export now.

    The format must be the exporter's component name, and every conversion
    setting the artifact records (``conversion`` in its metadata: quantize,
    io_type, dynamic_batch...) that is also a parameter of ``choice`` must be equal.
    """
    if record.get("format") != choice.component.name:
        return False
    conversion = artifact_metadata(Path(record["path"])).get("conversion") or {}
    if not isinstance(conversion, dict):
        return False
    return all(conversion[key] == value for key, value in choice.params.items()
               if key in conversion and key not in IGNORED_CONVERSION_KEYS)


def run_artifacts(run: Run, registry: Registry, dataset: Any, model_name: str,
                  say: Callable[[str], None] | None = None) -> list[Artifact]:
    """One artifact per applicable exporter (reused or exported now), then the exporters that do not apply.

    ``say`` hears which exporters run now.
    """
    from zoo_core.training import export

    choices, skipped = applicable_exporters(registry, dataset, model_name)
    existing = verified_exports(run)
    found: dict[int, Artifact] = {}
    missing: list[tuple[int, ComponentChoice]] = []
    for index, choice in enumerate(choices):
        record = next((record for record in reversed(existing) if matches(choice, record)), None)
        if record is None:
            missing.append((index, choice))
        else:
            found[index] = Artifact(choice.ref, record["format"], str(record.get("variant", "")), record["path"],
                                    dict(record.get("thresholds") or {}), reused=True)
    if missing:
        if say is not None:
            say(f"{run.id}: exporting {', '.join(choice.ref for _, choice in missing)} (each verified)")
        results = export(run, registry, [choice for _, choice in missing])
        for (index, choice), result in zip(missing, results):
            found[index] = Artifact(choice.ref, result.format, result.variant, result.path, dict(result.thresholds),
                                    status="ok" if result.status == "ok" else "failed",
                                    message="" if result.status == "ok" else f"export failed: {result.message}")
    return [found[index] for index in range(len(choices))] + skipped
