"""Text helpers for messages: the first line of a text or an error, and did-you-mean suggestions."""

from __future__ import annotations


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, stripped ("" if there is none)."""
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def error_line(error: BaseException) -> str:
    """The first line of an error's message, or the error's class name when it has no message."""
    return first_line(str(error)) or type(error).__name__


def suggest(word: str, choices: list[str], label: str) -> str:
    """'did you mean ...?' plus the list of valid choices."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
    listing = ", ".join(sorted(choices)) if choices else "(none)"
    if close:
        return f"did you mean {' or '.join(repr(c) for c in close)}? {label}: {listing}"
    return f"{label}: {listing}"
