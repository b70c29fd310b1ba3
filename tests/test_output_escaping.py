"""Names from files and registries in what zoo writes (issue 27, item 3): Markdown, CSV and the terminal.

A class named ``<img src=x onerror=alert(1)>``, a recipe named with terminal
escapes or starting as a spreadsheet formula: each output writes them as
text of its own format (:mod:`zoo_core.reporting.markdown` for Markdown,
:func:`zoo_core._util.text.csv_cell` for CSV, ``shown`` for the terminal).
The Markdown is checked by rendering it as a viewer would (markdown-it-py, a
dependency of rich) with raw HTML allowed.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from zoo_core._util.text import csv_cell
from zoo_core.bench.suite import COLUMNS, BenchResult
from zoo_core.bench.table import bench_csv

IMG = "<img src=x onerror=alert(1)>"
IMG_TEXT = "&lt;img src=x onerror=alert(1)&gt;"  # how a viewer's HTML holds it when it is shown as text
SCRIPT = "<script>alert(1)</script>"
ESC = "clear\x1b[2J\x9b31m\u202e"  # ESC, a C1 CSI and a right-to-left override
ESC_SHOWN = "clear\\x1b[2J\\x9b31m\\u202e"
FORMULA = "=cmd|' /C calc'!A0"
MARKUP = "[red]x[/]"
RAW = ("\x1b", "\x9b", "\u202e", "\x07")


def no_raw_controls(text: str) -> bool:
    return not any(character in text for character in RAW)


# -- bench.csv ----------------------------------------------------------------------------------------


def bench_result(*models: str) -> BenchResult:
    rows = []
    for number, model in enumerate(models):
        row: dict[str, Any] = {column: None for column in COLUMNS}
        row.update(model=model, recipe=model, run_id=f"run-{number}", format="tflite", variant="int8", status="ok",
                   check="ok", message="", accuracy=0.5, delta_vs_keras=-0.002, size_bytes=2048, latency_us=12.5,
                   images_per_second=1000.0, params=10, macs=100, argmax_agreement=1.0, max_abs_diff=float("nan"),
                   reused=True, path=f"/runs/run-{number}/exports/m.tflite")
        rows.append(row)
    skipped = [{"model": models[0], "exporter": f"onnx{IMG}", "reason": f"no runtime for {SCRIPT}"}]
    return BenchResult(rows, skipped, created="2026-01-01T00:00:00Z", machine={"machine": "x86_64"}, repeat=3)


def test_csv_cell_guards_formulas_and_control_characters_and_keeps_numbers() -> None:
    for formula in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "  =1"):
        assert str(csv_cell(formula)).startswith("'"), formula
    assert csv_cell(ESC) == ESC_SHOWN and csv_cell("a\nb") == "a\\nb"
    assert csv_cell("mnist-mlp") == "mnist-mlp"
    assert csv_cell(-0.002) == -0.002 and csv_cell(7) == 7 and csv_cell(True) is True
    assert csv_cell(None) == "" and csv_cell(float("nan")) == "" and csv_cell(float("-inf")) == ""


def test_bench_csv_cells_never_start_a_formula_nor_carry_control_characters() -> None:
    text = bench_csv(bench_result(FORMULA, ESC, "-1", "@SUM(A1)", "+x"))
    assert no_raw_controls(text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["model"] for row in rows] == [f"'{FORMULA}", ESC_SHOWN, "'-1", "'@SUM(A1)", "'+x"]
    assert all(not row[column].startswith(("=", "+", "-", "@")) for row in rows for column in COLUMNS
               if column != "delta_vs_keras")
    assert [float(row["delta_vs_keras"]) for row in rows] == [-0.002] * 5  # numbers stay numbers
    assert rows[0]["accuracy"] == "0.5" and rows[0]["params"] == "10" and rows[0]["max_abs_diff"] == ""
