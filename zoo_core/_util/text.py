"""Text helpers for messages: the first line of a text or an error."""

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
