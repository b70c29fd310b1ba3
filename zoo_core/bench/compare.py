"""``zoo compare``: what differs between runs' configurations, their metrics side by side, their curves.

Settings come from each run's config.toml (the fully resolved run), as
flat keys: each component (``architecture``) and its parameters
(``architecture.hidden``), the exporters, every run setting, and the data
fingerprints (``data.train``, ``data.test``: the first 12 hex digits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo_core.components import LISTED_KINDS
from zoo_core.registry import RUN_COMPONENT_KINDS, Registry
from zoo_core.reporting import markdown
from zoo_core.runs import Run
from zoo_core.runs.history import read_history
from zoo_core.bench.targets import model_labels

#: Per-class F1 rows are shown up to this many classes (macro F1 always).
MAX_CLASS_ROWS = 20
#: Keys of a run table that are not settings of the run.
#: Keys of a run's config that are not compared: its description, and how progress was shown (display only).
NOT_SETTINGS = ("summary", "progress")


@dataclass
class Comparison:
    """Runs side by side: who they are, the settings that differ and those that do not, metrics and histories."""

    runs: list[dict[str, Any]]
    differ: list[tuple[str, list[str]]] = field(default_factory=list)
    same: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[tuple[str, list[str]]] = field(default_factory=list)
    histories: list[list[dict[str, float]]] = field(default_factory=list)


def compare(runs: list[Run], registry: Registry) -> Comparison:
    """Compare ``runs`` (two or more) from what their directories record; nothing is loaded into TensorFlow."""
    labels = model_labels([(run.id, str(run.manifest().get("recipe") or "run")) for run in runs])
    facts = [{"label": label, "id": run.id, "recipe": run.manifest().get("recipe"), "status": run.status(),
              "started": run.manifest().get("started"), "path": str(run.dir)} for run, label in zip(runs, labels)]
    differ, same = setting_differences([settings_of(run, registry) for run in runs])
    histories = [_history(run) for run in runs]
    return Comparison(facts, differ, same, metric_rows(runs, histories), histories)


def settings_of(run: Run, registry: Registry | None = None) -> dict[str, str]:
    """A run's settings as flat ``key -> value text`` (values as written in TOML/JSON)."""
    table = run.config_table()
    flat: dict[str, str] = {}
    for kind in RUN_COMPONENT_KINDS:
        part = table.get(kind)
        if isinstance(part, dict):
            flat[kind] = str(part.get("component", "?"))
            flat.update({f"{kind}.{key}": markdown.value(value) for key, value in part.items() if key != "component"})
    for key, kind in LISTED_KINDS.items():  # exporters, callbacks: one short text each, not a line of JSON
        entries = table.get(key) if isinstance(table.get(key), list) else []
        flat[key] = ", ".join(listed_text(kind, entry, registry) for entry in entries if isinstance(entry, dict)) or "none"
    for key, value in table.items():
        if key not in RUN_COMPONENT_KINDS and key not in LISTED_KINDS and key not in NOT_SETTINGS:
            flat[key] = markdown.value(value)
    fingerprint = run.manifest().get("data_fingerprint")
    if isinstance(fingerprint, dict):
        for part in ("train", "test"):
            flat[f"data.{part}"] = str(fingerprint.get(f"{part}_sha256", "?"))[:12]
    return flat


def listed_text(kind: str, entry: dict[str, Any], registry: Registry | None) -> str:
    """``tflite(quantize=int8)``, ``early-stopping(patience=2)``: an exporter's or a callback's component and the
    parameters that differ from its defaults."""
    component = str(entry.get("component", "?"))
    params = {key: value for key, value in entry.items() if key != "component"}
    try:
        defaults = {name: parameter.default
                    for name, parameter in registry.catalog.find(kind, component).parameters().items()}
        params = {key: value for key, value in params.items() if defaults.get(key) != value}
    except Exception:  # noqa: BLE001 - a plugin that is gone: show every parameter
        pass
    name = component.rpartition(":")[2]
    shown = ", ".join(f"{key}={markdown.value(value)}" for key, value in params.items())
    return f"{name}({shown})" if shown else name


def setting_differences(settings: list[dict[str, str]]) -> tuple[list[tuple[str, list[str]]], list[tuple[str, str]]]:
    """The keys whose values differ between runs (a missing key shows as a dash), and those equal in all.

    Keys keep the order of their first appearance.
    """
    keys = list(dict.fromkeys(key for flat in settings for key in flat))
    differ, same = [], []
    for key in keys:
        values = [flat.get(key, markdown.MISSING) for flat in settings]
        if len(set(values)) > 1:
            differ.append((key, values))
        else:
            same.append((key, values[0]))
    return differ, same


def _history(run: Run) -> list[dict[str, float]]:
    path = run.dir / "history.csv"
    try:
        return read_history(path) if path.is_file() else []
    except (OSError, ValueError, KeyError):
        return []


def metric_rows(runs: list[Run], histories: list[list[dict[str, float]]]) -> list[tuple[str, list[str]]]:
    """The metrics side by side, as text: accuracy, loss, F1 macro, best validation accuracy, epochs, times, F1 per class."""
    manifests = [run.manifest() for run in runs]
    metrics = [run.metrics() for run in runs]
    rows = [("test accuracy", [markdown.number(m.get("accuracy")) for m in metrics]),
            ("test loss", [markdown.number(m.get("loss")) for m in metrics]),
            ("F1 (macro)", [markdown.number(m.get("f1_macro")) for m in metrics]),
            ("best val accuracy", [markdown.number(max((r["val_accuracy"] for r in h if "val_accuracy" in r),
                                                       default=None)) for h in histories]),
            ("epochs", [_epochs(manifest) for manifest in manifests]),
            ("training time", [_seconds(manifest.get("duration_seconds")) for manifest in manifests]),
            ("wall time", [_seconds(markdown.elapsed(m.get("started"), m.get("finished"))) for m in manifests])]
    return rows + class_f1_rows(metrics)


def class_f1_rows(metrics: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """``F1 class NAME`` per class (up to :data:`MAX_CLASS_ROWS` classes), from each run's metrics.json."""
    tables = [{str(row.get("name")): row.get("f1") for row in m.get("per_class") or [] if isinstance(row, dict)}
              if isinstance(m.get("per_class"), list) else {} for m in metrics]
    names = list(dict.fromkeys(name for table in tables for name in table))
    if not 0 < len(names) <= MAX_CLASS_ROWS:
        return []
    return [(f"F1 class {name}", [markdown.number(table.get(name)) for table in tables]) for name in names]


def _epochs(manifest: dict[str, Any]) -> str:
    done = manifest.get("epochs_done")
    settings = manifest.get("settings") if isinstance(manifest.get("settings"), dict) else {}
    total = settings.get("epochs")
    return f"{done or 0}/{total}" if total else str(done if done is not None else markdown.MISSING)


def _seconds(value: Any) -> str:
    return markdown.duration(float(value)) if markdown.finite(value) else markdown.MISSING
