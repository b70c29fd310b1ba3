"""Text helpers for messages: the first line of a text or an error, did-you-mean suggestions,
:func:`printable`, which makes text from files safe to show on a terminal, and :func:`csv_cell`, which makes
a value safe in a CSV file a spreadsheet opens."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

#: Characters a terminal acts on instead of showing: C0 controls (ESC, BEL, CR, backspace...), DEL, C1 controls
#: (U+0080-U+009F: CSI, OSC...), the bidirectional overrides and isolates (which reorder what is shown), and the
#: Unicode line and paragraph separators. Newline and tab are in the set too; :func:`printable` keeps them on request.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object, *, multiline: bool = False) -> str:
    """``text`` (any object, as ``str``) safe to show: every control character written as an escape.

    Text that comes from files (a recipe name, class names, a model's
    metadata, a manifest's error) may hold terminal escape sequences; shown
    raw, they recolour, retitle or clear the terminal, or hide what comes
    before them. Each such character is written as Python writes it in a
    string: ``\\x1b``, ``\\r``, ``\\x9b``, ``\\u202e``. ``multiline`` keeps
    newlines and tabs (for messages of several lines). Rich markup is not
    touched: escape it separately where text goes to a rich console.
    """
    text = str(text)
    if not UNPRINTABLE.search(text):
        return text
    return UNPRINTABLE.sub(lambda match: _escaped(match.group(), multiline), text)


def _escaped(character: str, multiline: bool) -> str:
    if multiline and character in "\n\t":
        return character
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


#: What makes a spreadsheet read a cell as a formula when it starts the cell (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` for a cell of a CSV file: what a spreadsheet opening the file shows as written, never runs.

    Numbers stay numbers (a non-finite float and ``None`` are an empty
    cell). Text is written as :func:`printable` writes it (control characters
    as escapes), and text that starts as a formula would (``=cmd|...``,
    ``+``, ``-``, ``@``, tab, carriage return; after spaces too) gets a
    leading apostrophe, which spreadsheets take as "this is text".
    """
    if isinstance(value, numbers.Real):  # numpy's too
        return value if math.isfinite(value) else ""
    if value is None:
        return ""
    raw = str(value)
    text = printable(raw)
    return "'" + text if raw.lstrip(" ").startswith(FORMULA_STARTS) else text


def listing(items: Any, shown: int = 5) -> str:
    """``'a, b, c, d, e ... (3 more)'``: the first ``shown`` items, then how many more (messages stay one short
    line for 5,000 columns)."""
    items = [str(item) for item in items]
    return ", ".join(items[:shown]) + (f" ... ({len(items) - shown} more)" if len(items) > shown else "")


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, stripped ("" if there is none)."""
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def error_line(error: BaseException) -> str:
    """The first line of an error's message, or the error's class name when it has no message."""
    return first_line(str(error)) or type(error).__name__


def did_you_mean(word: str, choices: list[str]) -> str:
    """'did you mean 'a' or 'b'?' for up to three choices close to ``word``, or '' if none is."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
    return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def suggest(word: str, choices: list[str], label: str) -> str:
    """'did you mean ...?' plus the list of valid choices."""
    listing = ", ".join(sorted(choices)) if choices else "(none)"
    close = did_you_mean(word, choices)
    return f"{close} {label}: {listing}" if close else f"{label}: {listing}"
