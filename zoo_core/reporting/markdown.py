"""Markdown and number formatting for every Markdown file zoo writes: tables, text, cells, code, numbers, sizes.

Text from files and registries (class names, recipe and component names,
parameter values, messages) goes into Markdown only through :func:`inline`,
:func:`cell` or :func:`code`: the one way to write it for Markdown, as
:func:`zoo_core._util.text.csv_cell` is for CSV and ``shown`` (the CLI) for
the terminal.
"""

from __future__ import annotations

import html
import json
import math
import re
from datetime import datetime
from typing import Any, Iterable, Sequence

from zoo_core._util.text import printable

MISSING = "–"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Lines of a Markdown table (cells must already be escaped)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def cell(value: Any) -> str:
    """Text safe inside a table cell: as :func:`inline`, and pipes escaped."""
    return inline(value).replace("|", "\\|")


def inline(value: Any) -> str:
    """Text safe in a line of Markdown: on one line, control characters written as escapes (``\\x1b``), and
    ``<``, ``>`` and ``&`` as HTML entities, so that no name becomes HTML (``<img onerror=...>``) in a viewer."""
    return html.escape(_one_line(value), quote=False)


def code(value: Any) -> str:
    """Text as an inline code span, safe in a table cell too: one line, control characters written as escapes,
    pipes escaped, and fenced by more backticks than any run of them inside (a code span shows ``<`` as it is).

    Empty text is an empty string (a code span cannot be empty).
    """
    text = _one_line(value).replace("|", "\\|")
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _one_line(value: Any) -> str:
    return printable(" ".join(str(value).split()))


def value(value: Any) -> str:
    """A parameter value as written in TOML / JSON (``0.2``, ``"relu"``, ``[128, 64]``)."""
    if isinstance(value, float):
        return repr(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(value: Any, digits: int = 4) -> str:
    """A float with ``digits`` decimals, or a dash when missing or not finite."""
    if value is None or not isinstance(value, (int, float)):
        return MISSING
    return f"{value:.{digits}f}" if math.isfinite(value) else str(value)


def scientific(value: Any) -> str:
    """A small float in scientific notation (``3.1e-07``), or a dash."""
    return f"{value:.1e}" if finite(value) else MISSING


def size(size: Any) -> str:
    """Bytes as KB / MB."""
    if not finite(size) or size <= 0:
        return MISSING
    return f"{size / 1024:,.0f} KB" if size < 10 * 1024 * 1024 else f"{size / 1024 / 1024:,.1f} MB"


def duration(seconds: float) -> str:
    """``42.3 s``, ``3 min 12 s`` or ``1 h 02 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def elapsed(started: Any, finished: Any) -> float | None:
    """Seconds between two ISO 8601 timestamps, or ``None`` if either is missing or unreadable."""
    try:
        return (datetime.fromisoformat(str(finished)) - datetime.fromisoformat(str(started))).total_seconds()
    except (TypeError, ValueError):
        return None
