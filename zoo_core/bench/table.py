"""The bench table as text: display cells (shared by the terminal and bench.md), CSV, Markdown; and writing them.

The files are written atomically (:mod:`zoo_core.files`): bench.csv (exact
numbers, one row per model × format), bench.json (the same plus where and
when), bench.md (the table as shown) and bench.png (:mod:`zoo_core.bench.plot`).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from zoo_core._util.text import csv_cell
from zoo_core.bench.suite import COLUMNS, BenchResult
from zoo_core.files import write_json_atomic, write_text_atomic
from zoo_core.reporting import markdown

#: The columns shown in the terminal and in bench.md.
HEADER = ["model", "format", "accuracy", "Δ vs keras", "check", "size", "latency (1 image)", "batch 1,000",
          "params", "MACs"]
DASH = markdown.MISSING


def display_rows(result: BenchResult) -> list[list[str]]:
    """Each row's cells under :data:`HEADER`, as text."""
    return [display_cells(row) for row in result.rows]


def display_cells(row: dict[str, Any]) -> list[str]:
    """One row's cells: accuracy to 4 decimals, Δ in points, sizes in KB/MB, µs or ms, images/s, counts."""
    if row.get("status") != "ok":
        return [row["model"], row["format"], DASH, DASH, "failed", DASH, DASH, DASH,
                count(row.get("params")), short_count(row.get("macs"))]
    check = {"reference": "reference", "ok": "ok", "mismatch": "MISMATCH"}.get(row.get("check") or "", DASH)
    delta = DASH if row["format"] == "keras" else points(row.get("delta_vs_keras"))
    return [row["model"], row["format"], markdown.number(row.get("accuracy")), delta, check,
            markdown.size(row.get("size_bytes")), latency(row.get("latency_us")), rate(row.get("images_per_second")),
            count(row.get("params")), short_count(row.get("macs"))]


def points(delta: Any) -> str:
    """An accuracy difference (a fraction) in percentage points: ``+0.02 pt``."""
    return f"{delta * 100:+.2f} pt" if markdown.finite(delta) else DASH


def latency(microseconds: Any) -> str:
    """``4.3 µs``, ``283 µs`` or ``1.25 ms``."""
    if not markdown.finite(microseconds):
        return DASH
    if microseconds >= 1000:
        return f"{microseconds / 1000:.2f} ms"
    return f"{microseconds:.1f} µs" if microseconds < 100 else f"{microseconds:.0f} µs"


def rate(images_per_second: Any) -> str:
    """``941,691 /s``."""
    return f"{images_per_second:,.0f} /s" if markdown.finite(images_per_second) else DASH


def count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else DASH


def short_count(value: Any) -> str:
    """``101.8 K``, ``2.35 M``, ``1.10 G``."""
    if not isinstance(value, int):
        return DASH
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if value >= limit:
            return f"{value / limit:.2f} {suffix}" if suffix != "K" else f"{value / limit:.1f} K"
    return str(value)


def bench_csv(result: BenchResult) -> str:
    """bench.csv: every column of :data:`~zoo_core.bench.suite.COLUMNS`, exact numbers, empty where none; text
    (recipe names, messages) as :func:`~zoo_core._util.text.csv_cell` writes it, so no cell runs as a formula."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in result.rows:
        writer.writerow({key: csv_cell(row.get(key)) for key in COLUMNS})
    return buffer.getvalue()


def bench_markdown(result: BenchResult) -> str:
    """bench.md: where and when, the table, the problems and the exporters not measured."""
    host = result.machine
    lines = ["# zoo bench", "",
             f"Measured {result.created} on {host.get('machine')} ({host.get('cpus')} cores, load average "
             f"{host.get('load_average', '-')} at the start), TensorFlow "
             f"{host.get('tensorflow')}, LiteRT {host.get('ai_edge_litert')}. Accuracy on each run's whole test "
             f"set; latency: median of {result.repeat} single-image calls after a warm-up; batch 1,000: images "
             "per second. Δ vs keras: the format's accuracy minus the Keras model's, in points; check: within the "
             "exporter's verification thresholds.", ""]
    lines += markdown.table(HEADER, ([markdown.cell(value) for value in cells] for cells in display_rows(result)))
    problems = result.problems()
    if problems:
        lines += ["", "Problems:", ""] + [f"- {markdown.inline(problem)}" for problem in problems]
    if result.skipped:
        lines += ["", "Not measured:", ""]
        lines += [f"- {markdown.inline(row['model'])} {markdown.inline(row['exporter'])}: {markdown.inline(row['reason'])}"
                  for row in result.skipped]
    return "\n".join(lines) + "\n\n![accuracy against latency and size](bench.png)\n"


def write_bench(result: BenchResult, folder: Path) -> dict[str, Path]:
    """Write bench.csv, bench.json, bench.md and bench.png into ``folder``; return their paths by name."""
    from zoo_core.bench.plot import plot_bench

    folder.mkdir(parents=True, exist_ok=True)
    return {"csv": write_text_atomic(folder / "bench.csv", bench_csv(result)),
            "json": write_json_atomic(folder / "bench.json", _json_safe(result.to_dict())),
            "md": write_text_atomic(folder / "bench.md", bench_markdown(result)),
            "png": plot_bench(folder / "bench.png", result)}


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value
