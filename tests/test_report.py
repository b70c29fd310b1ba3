"""zoo_core.reporting.report (the report.md model card) and the zoo_core.files atomic writers it uses."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from zoo_core.files import atomic_path, write_json_atomic, write_text_atomic
from zoo_core.reporting.metrics import classification_metrics
from zoo_core.reporting.report import render_report, write_report

RUN_ID = "demo-20260101-120000-ab12"
CONFIG = 'recipe = "demo"\nepochs = 2\nbatch_size = 32\n\n[dataset]\ncomponent = "toy"\n'
PLOTS = {name: f"plots/{name}.png" for name in
         ("samples", "curves", "confusion_matrix", "weights", "weight_distributions", "predictions")}


def make_metrics() -> dict:
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.full((6, 3), 0.15)
    probabilities[np.arange(6), y_pred] = 0.7
    return classification_metrics(y_true, probabilities, ["cat", "dog", "bird|fish"], loss=0.4321)


def make_manifest(**changes) -> dict:
    manifest = {
        "run_id": RUN_ID, "recipe": "demo", "status": "completed",
        "started": "2026-01-01T12:00:00+00:00", "finished": "2026-01-01T12:01:30+00:00",
        "duration_seconds": 4.5, "seed": 42,
        "versions": {"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.0", "zoo": "0.1.0"},
        "plugins": {"zoo": "0.1.0", "zoo-extra": "2.0"},
        "components": [
            {"kind": "dataset", "name": "toy", "component": "toy", "plugin": "toy", "distribution": "zoo-extra",
             "version": "2.0", "params": {"size": 100}},
            {"kind": "architecture", "name": "mlp-small", "component": "mlp", "plugin": "mlp",
             "distribution": "zoo", "version": "0.1.0", "params": {"hidden": [16, 8], "dropout": 0.2}},
            {"kind": "optimizer", "name": "adam", "component": "adam", "plugin": "keras-optimizers",
             "distribution": "zoo", "version": "0.1.0", "params": {"learning_rate": 0.001}},
            {"kind": "loss", "name": "sparse-categorical-crossentropy", "component": "sparse-categorical-crossentropy",
             "plugin": "keras-losses", "distribution": "zoo", "version": "0.1.0", "params": {}},
        ],
        "settings": {"epochs": 2, "batch_size": 32, "validation_split": 0.1},
        "dataset": {"name": "toy", "input_shape": [8, 8], "num_classes": 3, "class_names": ["cat", "dog", "bird|fish"],
                    "input_dtype": "float32", "value_range": [0.0, 1.0], "description": "A toy set."},
        "data_fingerprint": {"train_sha256": "a" * 64, "test_sha256": "b" * 64},
    }
    manifest.update(changes)
    return manifest


HISTORY = [
    {"epoch": 1, "loss": 0.9, "accuracy": 0.61, "val_loss": 0.8, "val_accuracy": 0.66, "seconds": 2.5},
    {"epoch": 2, "loss": 0.5, "accuracy": 0.83, "val_loss": 0.55, "val_accuracy": 0.8, "seconds": 2.0},
]
EXPORTS = [
    {"format": "tflite", "variant": "int8", "path": f"/somewhere/runs/{RUN_ID}/exports/demo-int8.tflite",
     "size_bytes": 121_856, "sha256": "c" * 64, "status": "ok",
     "figures": {"accuracy": 0.9771, "max_abs_diff": 0.0123, "latency_us": 5.25}, "thresholds": {}, "message": ""},
    {"format": "savedmodel", "variant": "float32", "path": "", "size_bytes": 0, "sha256": "", "status": "failed",
     "figures": {}, "thresholds": {}, "message": "verification failed:\naccuracy too low"},
]


def render(**changes) -> str:
    arguments = dict(title=f"demo — {RUN_ID}", config_toml=CONFIG, manifest=make_manifest(), metrics=make_metrics(),
                     history=HISTORY, plots=PLOTS, exports=EXPORTS)
    arguments.update(changes)
    return render_report(**arguments)


def section(text: str, heading: str) -> str:
    """The text of the ``## heading`` section, up to the next ``## `` heading."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table_row(text: str, first_cell: str) -> list[str]:
    """The cells of the Markdown table row starting with ``first_cell``."""
    for line in text.splitlines():
        if line.startswith(f"| {first_cell} |"):
            return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
    raise AssertionError(f"no table row starting with {first_cell!r}")


def test_headline_metrics_are_in_the_table():
    text = render()
    metrics = make_metrics()
    assert text.startswith(f"# demo — {RUN_ID}\n")
    headline = section(text, "Test metrics")
    assert table_row(headline, "accuracy") == ["accuracy", "0.6667"]
    assert table_row(headline, "loss") == ["loss", "0.4321"]
    for key, label in (("precision_macro", "precision (macro)"), ("recall_macro", "recall (macro)"),
                       ("f1_macro", "F1 (macro)"), ("precision_weighted", "precision (weighted)"),
                       ("recall_weighted", "recall (weighted)"), ("f1_weighted", "F1 (weighted)")):
        assert table_row(headline, label) == [label, f"{metrics[key]:.4f}"]
    assert table_row(headline, "test examples") == ["test examples", "6"]
    assert "**Status:** completed" in text


def test_per_class_rows_and_escaped_names():
    text = section(render(), "Per class")
    assert table_row(text, "class") == ["class", "name", "precision", "recall", "F1", "support"]
    assert table_row(text, "0") == ["0", "cat", "1.0000", "0.6667", "0.8000", "3"]
    assert table_row(text, "1") == ["1", "dog", "0.5000", "0.5000", "0.5000", "2"]
    assert table_row(text, "2") == ["2", "bird\\|fish", "0.5000", "1.0000", "0.6667", "1"]
    assert "cat → dog (1)" in render()


def test_what_was_trained_on_what():
    text = render()
    assert "`toy`: input 8×8 float32 in [0.0, 1.0]; 3 classes" in text
    assert "`mlp-small` (component `mlp` from zoo 0.1.0): hidden=[16, 8], dropout=0.2" in text
    assert "`adam` (from zoo 0.1.0): learning_rate=0.001" in text
    assert "`sparse-categorical-crossentropy`" in text
    assert "epochs=2, batch_size=32, validation_split=0.1" in text
    assert "A toy set." in text


def test_standardised_features_are_named_in_the_data_row():
    wine = {"name": "wine", "input_shape": [13], "num_classes": 3, "class_names": ["a", "b", "c"],
            "input_dtype": "float32", "value_range": [-5.0, 5.0], "image": False,
            "feature_mean": [0.0] * 13, "feature_std": [1.0] * 13}
    text = render(manifest=make_manifest(dataset=wine))
    assert "input 13 float32 in [-5.0, 5.0]; standardised per feature (mean and std in the model's input contract)" \
        in text
    assert "standardised per feature" not in render()


def test_history_table_has_every_epoch():
    text = section(render(), "Training history")
    assert table_row(text, "epoch") == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    assert "| 1 | 0.9000 | 0.6100 | 0.8000 | 0.6600 | 2.50 |" in text
    assert "| 2 | 0.5000 | 0.8300 | 0.5500 | 0.8000 | 2.00 |" in text


def test_history_without_validation_drops_those_columns():
    history = [{"epoch": 1, "loss": 0.9, "accuracy": 0.6, "seconds": 1.0}]
    text = render(history=history)
    assert table_row(text, "epoch") == ["epoch", "loss", "accuracy", "seconds"]


def test_plots_are_inline_with_relative_links_in_order():
    text = render()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == [f"plots/{name}.png" for name in PLOTS]
    absolute = render(plots={"curves": "/tmp/run/plots/curves.png", "extra_view": "plots/extra_view.png"})
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", absolute) == ["plots/curves.png", "plots/extra_view.png"]


def test_exports_table():
    text = render()
    assert table_row(text, "format") == ["format", "variant", "path", "size", "accuracy", "max_abs_diff",
                                         "latency_us", "status"]
    assert table_row(text, "tflite") == ["tflite", "int8", "`exports/demo-int8.tflite`", "119 KB", "0.9771",
                                         "1.2e-02", "5.2", "ok"]
    assert table_row(text, "savedmodel")[-1] == "failed"
    assert "savedmodel float32: verification failed: accuracy too low" in text


def test_no_exports_means_no_exports_section():
    for exports in ([], None):
        text = render(exports=exports)
        assert "## Exports" not in text
        assert "## Test metrics" in text


def test_timing_versions_fingerprint_and_config():
    text = render()
    assert "4.5 s over 2 epoch(s), 2.2 s each on average" in text
    assert "1 min 30 s" in text
    assert table_row(text, "tensorflow") == ["tensorflow", "2.21.0"]
    assert table_row(text, "keras") == ["keras", "3.15.0"]
    assert f"`{'a' * 64}`" in text
    assert "```toml\n" + CONFIG.rstrip("\n") + "\n```" in text


def test_a_config_containing_a_fence_stays_inside_the_block():
    text = render(config_toml='summary = """\n```\n"""\n')
    assert "````toml\n" in text and text.rstrip().endswith("````")


def test_a_failed_run_without_metrics_still_renders():
    manifest = make_manifest(status="failed", finished=None, error="training stopped: loss is NaN")
    del manifest["duration_seconds"]
    text = render(manifest=manifest, metrics={}, history=[], plots={}, exports=[])
    assert "**Status:** failed" in text
    assert "> **Error:** training stopped: loss is NaN" in text
    assert "No metrics" in text and "No epochs were completed." in text
    assert "## Per class" not in text and "## Plots" not in text


def test_empty_everything_renders():
    text = render_report(title="", config_toml="", manifest={}, metrics=None, history=None, plots=None, exports=None)
    assert text.startswith("# Run report")
    assert "**Status:** unknown" in text


def test_missing_and_non_finite_values_are_shown_as_such():
    metrics = make_metrics()
    metrics["loss"] = None
    text = render(metrics=metrics, history=[{"epoch": 1, "loss": float("nan"), "seconds": 1.0}])
    assert table_row(section(text, "Test metrics"), "loss") == ["loss", "–"]
    assert "| 1 | nan | 1.00 |" in text


def test_write_report_writes_atomically(tmp_path, monkeypatch):
    """A failure after the new report was written out, before it is moved into place: the old one stays whole."""
    import errno

    import zoo_core.files as files

    path = tmp_path / "report.md"
    path.write_text("old")
    arguments = dict(title="t", config_toml=CONFIG, manifest=make_manifest(), metrics=make_metrics(),
                     history=HISTORY, plots=PLOTS, exports=[])
    seen = []

    def disk_full(fd):
        seen.append((os.fstat(fd).st_size, path.read_text(encoding="utf-8")))  # written so far; the real file now
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_report(path, **arguments)
    assert seen == [(len(render_report(**arguments).encode("utf-8")), "old")]  # the whole text, beside the file
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]  # the temporary file is gone
    monkeypatch.undo()
    assert write_report(path, **arguments) == path
    assert path.read_text(encoding="utf-8") == render_report(**arguments)
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


# --------------------------------------------------------------------------- zoo_core.files


def test_write_json_and_text_atomic(tmp_path):
    target = tmp_path / "sub" / "metrics.json"
    write_json_atomic(target, {"accuracy": 0.5, "name": "é"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"accuracy": 0.5, "name": "é"}
    assert target.read_text(encoding="utf-8").endswith("\n")
    write_text_atomic(target, "replaced")
    assert target.read_text(encoding="utf-8") == "replaced"
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            assert temporary.parent == tmp_path and temporary.suffix == ".png" and not temporary.exists()
            temporary.write_bytes(b"half")
            raise RuntimeError("crash while writing")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


def test_unserialisable_json_leaves_nothing_behind(tmp_path):
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "bad.json", {"x": object()})
    assert list(tmp_path.iterdir()) == []
