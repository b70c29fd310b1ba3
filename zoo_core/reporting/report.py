"""``report.md``: the model card of a run, rendered from what the run directory holds.

:func:`render_report` is a pure function of the run's records (manifest,
metrics, history, plots, exports, config) and tolerates any of them being
missing or partial, so a failed or interrupted run still gets a card.
"""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from zoo_core._util.text import printable
from zoo_core.files import write_text_atomic
from zoo_core.reporting import markdown
from zoo_core.reporting.plots import PLOTS

HEADLINE_METRICS = (
    ("accuracy", "accuracy"),
    ("loss", "loss"),
    ("precision_macro", "precision (macro)"),
    ("recall_macro", "recall (macro)"),
    ("f1_macro", "F1 (macro)"),
    ("precision_weighted", "precision (weighted)"),
    ("recall_weighted", "recall (weighted)"),
    ("f1_weighted", "F1 (weighted)"),
)



def render_report(
    *,
    title: str,
    config_toml: str,
    manifest: dict[str, Any],
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
    plots: dict[str, str],
    exports: list[dict[str, Any]],
) -> str:
    """The Markdown model card of one run.

    Args:
        title: the heading, e.g. ``"mnist-mlp — mnist-mlp-20250101-120000-ab12"``.
        config_toml: the run's resolved ``config.toml`` text, shown verbatim.
        manifest: ``manifest.json`` (status, times, components, settings,
            dataset info, versions, data fingerprint, error).
        metrics: ``metrics.json`` as made by :func:`zoo_core.reporting.metrics.classification_metrics`.
        history: one dict per epoch (``epoch``, ``loss``, ``accuracy``,
            ``val_loss``, ``val_accuracy``, ``seconds``).
        plots: ``{plot name: link relative to the report}``, e.g.
            ``{"curves": "plots/curves.png"}``.
        exports: ``ExportResult.to_dict()`` of each export.

    Any argument may be empty (``{}``, ``[]``, ``""`` or ``None``); its section
    then says so or is left out. Text from them goes through
    :mod:`zoo_core.reporting.markdown`'s ``inline``, ``cell`` or ``code``: no
    name becomes HTML or breaks a table, control characters (terminal
    escapes) are written as escapes (``\\x1b``), and the title is one line.
    """
    manifest, metrics = manifest or {}, metrics or {}
    sections = [
        _header(title, manifest, metrics),
        _model_section(manifest),
        _metrics_section(metrics),
        _per_class_section(metrics),
        _history_section(history or [], manifest.get("stopped_early")),
        _plots_section(plots or {}),
        _exports_section(exports or [], manifest.get("run_id")),
        _timing_section(manifest, history or []),
        _environment_section(manifest),
        _config_section(config_toml),
    ]
    text = "\n\n".join(section.strip("\n") for section in sections if section) + "\n"
    return printable(text, multiline=True)  # and the verbatim config too: no terminal escapes anywhere


def write_report(path: Path, **kwargs: Any) -> Path:
    """Render the report (same keyword arguments as :func:`render_report`) and write it atomically."""
    return write_text_atomic(path, render_report(**kwargs))


# --------------------------------------------------------------------------- sections


def _header(title: str, manifest: dict[str, Any], metrics: dict[str, Any]) -> str:
    """Title plus one line: status, accuracy, run id and when."""
    facts = [f"**Status:** {markdown.inline(manifest.get('status', 'unknown'))}"]
    if metrics.get("accuracy") is not None:
        facts.append(f"**test accuracy:** {markdown.number(metrics['accuracy'])}")
    if manifest.get("run_id"):
        facts.append(f"run {markdown.code(manifest['run_id'])}")
    if manifest.get("started"):
        facts.append(f"started {markdown.inline(manifest['started'])}")
    lines = [f"# {markdown.inline(title or 'Run report')}", "", " · ".join(facts)]
    if manifest.get("error"):
        lines += ["", f"> **Error:** {markdown.inline(manifest['error'])}"]
    summary = manifest.get("summary")
    if summary:
        lines += ["", markdown.inline(summary)]
    return "\n".join(lines)


def _model_section(manifest: dict[str, Any]) -> str:
    """What was trained on what: dataset, components with parameters, settings."""
    components = manifest.get("components") or []
    dataset = manifest.get("dataset") or {}
    rows = []
    if dataset:
        rows.append(("data", _dataset_summary(dataset, manifest.get("samples") or {})))
    for record in components:
        rows.append((markdown.cell(record.get("kind", "component")), _component_summary(record)))
    settings = manifest.get("settings") or {}
    if settings:
        rows.append(("settings", ", ".join(markdown.cell(f"{key}={markdown.value(value)}")
                                          for key, value in settings.items())))
    if not rows:
        return ""
    lines = ["## What was trained", "", *markdown.table(("", "details"), rows)]
    if dataset.get("description"):
        lines += ["", f"**About the data.** {markdown.inline(dataset['description'])}"]
    return "\n".join(lines)


def _metrics_section(metrics: dict[str, Any]) -> str:
    """The headline test metrics as a two-column table."""
    if not metrics:
        return "## Test metrics\n\nNo metrics: the run did not reach evaluation."
    rows = [(label, markdown.number(metrics.get(key))) for key, label in HEADLINE_METRICS]
    if metrics.get("samples") is not None:
        rows.append(("test examples", f"{int(metrics['samples']):,}"))
    lines = ["## Test metrics", "", *markdown.table(("metric", "value"), rows)]
    confusions = _top_confusions(metrics.get("confusion_matrix"), metrics.get("per_class") or [])
    if confusions:
        lines += ["", "Most frequent confusions (true → predicted): " + ", ".join(confusions) + "."]
    return "\n".join(lines)


def _per_class_section(metrics: dict[str, Any]) -> str:
    """Precision, recall, F1 and support of every class."""
    per_class = metrics.get("per_class") or []
    if not per_class:
        return ""
    rows = [
        (
            markdown.cell(entry.get("class", index)),
            markdown.cell(entry.get("name", entry.get("class", index))),
            markdown.number(entry.get("precision")),
            markdown.number(entry.get("recall")),
            markdown.number(entry.get("f1")),
            markdown.cell(entry.get("support", markdown.MISSING)),
        )
        for index, entry in enumerate(per_class)
    ]
    return "\n".join(["## Per class", "", *markdown.table(("class", "name", "precision", "recall", "F1", "support"), rows)])


def _history_section(history: list[dict[str, Any]], stopped: Any = None) -> str:
    """One row per epoch: losses, accuracies, the learning rate (if a callback set it) and the epoch's seconds;
    then why training stopped early, if it did."""
    if not history:
        return "## Training history\n\nNo epochs were completed."
    columns = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")
    present = [c for c in columns if c == "epoch" or any(row.get(c) is not None for row in history)]
    rows = []
    for index, row in enumerate(history):
        cells = []
        for column in present:
            if column == "epoch":
                cells.append(markdown.cell(row.get("epoch", index + 1)))
            elif column == "seconds":
                cells.append(markdown.number(row.get(column), 2))
            else:
                cells.append(markdown.number(row.get(column)))
        rows.append(cells)
    lines = ["## Training history", "", *markdown.table(present, rows)]
    if isinstance(stopped, dict):
        lines += ["", markdown.inline(f"Stopped early after epoch {stopped.get('epoch')} of {stopped.get('epochs')} "
                                      f"by {stopped.get('by')}: {stopped.get('reason')}.")]
    return "\n".join(lines)


def _plots_section(plots: dict[str, str]) -> str:
    """Every plot inline, known ones (:data:`~zoo_core.reporting.plots.PLOTS`) first in their usual order."""
    if not plots:
        return ""
    names = [name for name in PLOTS if name in plots] + sorted(n for n in plots if n not in PLOTS)
    lines = ["## Plots"]
    for name in names:
        caption = markdown.inline(PLOTS[name].caption if name in PLOTS else name.replace("_", " ").capitalize())
        lines += ["", f"### {caption}", "", f"![{caption}]({_plot_link(name, plots[name])})"]
    return "\n".join(lines)


def _exports_section(exports: list[dict[str, Any]], run_id: str | None) -> str:
    """One row per export with its verification figures and status."""
    if not exports:
        return ""
    columns = ("format", "variant", "path", "size", "accuracy", "max_abs_diff", "latency_us", "status")
    rows = []
    notes = []
    for export in exports:
        figures = export.get("figures") or {}
        status = str(export.get("status", markdown.MISSING))
        rows.append((
            markdown.cell(export.get("format", markdown.MISSING)),
            markdown.cell(export.get("variant", markdown.MISSING)),
            markdown.code(_relative_path(export.get("path") or "", run_id)) or markdown.MISSING,
            markdown.size(export.get("size_bytes")),
            markdown.number(figures.get("accuracy")),
            markdown.scientific(figures.get("max_abs_diff")),
            markdown.number(figures.get("latency_us"), 1),
            markdown.cell(status),
        ))
        if export.get("message") and status != "ok":
            notes.append("- " + markdown.inline(f"{export.get('format', '?')} {export.get('variant', '')}: {export['message']}"))
    lines = ["## Exports", "", *markdown.table(columns, rows)]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def _timing_section(manifest: dict[str, Any], history: list[dict[str, Any]]) -> str:
    """How long training and the whole run took."""
    seconds = [float(row["seconds"]) for row in history if markdown.finite(row.get("seconds"))]
    training = manifest.get("duration_seconds")
    if not markdown.finite(training) and seconds:
        training = sum(seconds)
    wall = markdown.elapsed(manifest.get("started"), manifest.get("finished"))
    rows = []
    if markdown.finite(training):
        mean = markdown.duration(sum(seconds) / len(seconds)) if seconds else ""
        epochs = f" over {len(seconds)} epoch(s), {mean} each on average" if seconds else ""
        rows.append(("training", markdown.duration(float(training)) + epochs))
    if wall is not None:
        rows.append(("whole run", f"{markdown.duration(wall)} (data, training, evaluation, plots, exports)"))
    if manifest.get("started"):
        rows.append(("started", markdown.cell(manifest["started"])))
    if manifest.get("finished"):
        rows.append(("finished", markdown.cell(manifest["finished"])))
    phases = _phase_rows(manifest.get("timings"))
    if not rows and not phases:
        return ""
    lines = ["## Time", ""]
    if rows:
        lines += markdown.table(("", ""), rows)
    if phases:
        lines += ["", "Where the run's seconds went (manifest.json `timings`; the phases follow each other, "
                      "from the process start):", "", *markdown.table(("phase", "seconds", "share"), phases)]
    return "\n".join(lines)


def _phase_rows(timings: Any) -> list[tuple[str, str, str]]:
    """One row per phase of manifest.json's ``timings``, then their total and the work done beside them."""
    if not isinstance(timings, dict):
        return []
    phases = [(str(name), float(value)) for name, value in timings.items()
              if name not in ("total", "beside") and markdown.finite(value)]
    total = sum(value for _, value in phases)
    rows = [(markdown.cell(name), f"{value:.2f}", f"{100 * value / total:.0f} %" if total > 0 else "")
            for name, value in phases]
    if rows:
        rows.append(("total", f"{total:.2f}", "100 %"))
    beside = timings.get("beside")
    for name, value in (beside.items() if isinstance(beside, dict) else []):
        if markdown.finite(value):
            rows.append((markdown.cell(f"{name} (in a thread, beside the phases above)"), f"{float(value):.2f}", ""))
    return rows


def _environment_section(manifest: dict[str, Any]) -> str:
    """Versions, plugin distributions, seed and data fingerprint: what a rerun needs to match."""
    rows = []
    for name, version in (manifest.get("versions") or {}).items():
        rows.append((markdown.cell(name), markdown.cell(version)))
    plugins = manifest.get("plugins") or {}
    if plugins:
        rows.append(("plugins", ", ".join(f"{markdown.cell(name)} {markdown.cell(version)}" for name, version in plugins.items())))
    if manifest.get("seed") is not None:
        rows.append(("seed", markdown.cell(manifest["seed"])))
    fingerprint = manifest.get("data_fingerprint")
    if isinstance(fingerprint, dict):
        rows += [(markdown.cell(f"data {key}"), markdown.code(value)) for key, value in fingerprint.items()]
    elif fingerprint:
        rows.append(("data fingerprint", markdown.code(fingerprint)))
    if not rows:
        return ""
    return "\n".join(["## Environment", "", *markdown.table(("", ""), rows)])


def _config_section(config_toml: str) -> str:
    """The resolved configuration, verbatim, in a fenced TOML block."""
    if not config_toml:
        return ""
    fence = "```"
    while fence in config_toml:
        fence += "`"
    return "\n".join([
        "## Configuration",
        "",
        "The fully resolved run; `zoo run --config config.toml` repeats it.",
        "",
        f"{fence}toml",
        config_toml.rstrip("\n"),
        fence,
    ])


# --------------------------------------------------------------------------- pieces


def _dataset_summary(dataset: dict[str, Any], samples: dict[str, Any]) -> str:
    """E.g. ``mnist: 60,000 train / 10,000 test; input 28×28 float32 in [0, 1]; 10 classes``."""
    parts = []
    if samples:
        parts.append(" / ".join(f"{int(count):,} {markdown.cell(split)}" for split, count in samples.items()))
    shape = dataset.get("input_shape")
    if shape:
        value_range = dataset.get("value_range")
        in_range = f" in [{markdown.value(value_range[0])}, {markdown.value(value_range[1])}]" if value_range else ""
        parts.append(markdown.cell(f"input {'×'.join(str(d) for d in shape)} {dataset.get('input_dtype', '')}".rstrip()
                                   + in_range))
    if dataset.get("feature_mean") is not None:
        parts.append("standardised per feature (mean and std in the model's input contract)")
    if dataset.get("num_classes") is not None:
        names = [str(name) for name in dataset.get("class_names") or []]
        listed = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
        parts.append(f"{markdown.cell(dataset['num_classes'])} classes" + (f" ({markdown.cell(listed)})" if listed else ""))
    return markdown.code(dataset.get("name", "?")) + (": " + "; ".join(parts) if parts else "")


def _component_summary(record: dict[str, Any]) -> str:
    """E.g. ``mlp-128-64-10`` (component `mlp` from zoo 0.1.0): hidden=[128, 64], dropout=0.2."""
    name = str(record.get("name") or record.get("component") or "?")
    text = markdown.code(name)
    origin = []
    if record.get("component") and record["component"] != name:
        origin.append(f"component {markdown.code(record['component'])}")
    if record.get("distribution"):
        origin.append(f"from {markdown.cell(record['distribution'])} {markdown.cell(record.get('version') or '')}".rstrip())
    if origin:
        text += f" ({' '.join(origin)})"
    params = record.get("params") or {}
    if params:
        text += ": " + ", ".join(markdown.cell(f"{key}={markdown.value(value)}") for key, value in params.items())
    return text


def _top_confusions(matrix: Any, per_class: list[dict[str, Any]], count: int = 5) -> list[str]:
    """The ``count`` largest off-diagonal cells of the confusion matrix, as ``a → b (n)``."""
    if not matrix:
        return []
    names = {entry.get("class", i): str(entry.get("name", i)) for i, entry in enumerate(per_class)}
    cells = [
        (int(value), row, col)
        for row, values in enumerate(matrix)
        for col, value in enumerate(values)
        if row != col and value
    ]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [
        f"{markdown.inline(names.get(row, row))} → {markdown.inline(names.get(col, col))} ({value})"
        for value, row, col in cells[:count]
    ]


def _plot_link(name: str, link: Any) -> str:
    """A link relative to the report, percent-encoded: given relative links are kept, absolute paths become
    ``plots/<file>``."""
    path = PurePath(str(link)) if link else PurePath(f"plots/{name}.png")
    if path.is_absolute():
        path = PurePath("plots", path.name)
    return quote(path.as_posix())


def _relative_path(path: str, run_id: str | None) -> str:
    """An export path relative to the run directory when it lies inside it."""
    parts = PurePath(path).parts
    if run_id and run_id in parts:
        return PurePath(*parts[parts.index(run_id) + 1 :]).as_posix()
    return path
