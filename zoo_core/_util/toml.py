"""The one TOML reader: registry files, ``zoo run --config`` files and run directories' config.toml.

On Python 3.10 it reads through ``tomli`` (the same parser as 3.11's
``tomllib``). Every problem becomes a zoo error naming the file, and for a
syntax error its line and column, so the user sees ``path:line:col: TOML
syntax error: ...`` instead of a traceback. Only a regular file is read (a
device such as /dev/zero or a named pipe is refused before reading), at most
:data:`MAX_BYTES` of it, and values nested deeper than :data:`MAX_DEPTH` are
refused (a file or ``--set`` value nested thousands deep would otherwise
exhaust Python's stack).
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

from zoo_core.errors import ConfigError, ZooError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError
SYNTAX_HINT = "see https://toml.io for the syntax; strings need double quotes; fix the line shown"
#: The deepest nesting of tables and arrays zoo reads (its own files need 4).
MAX_DEPTH = 32
#: The largest TOML file zoo reads (its own registry.toml is a few KB).
MAX_BYTES = 10 * 1024 * 1024
DEPTH_HINT = "zoo's values are numbers, strings, flat arrays or tables of them: look for a run of '[' or '{'"


class TooDeepError(ValueError):
    """TOML text whose tables or arrays are nested deeper than :data:`MAX_DEPTH`."""

    def __init__(self) -> None:
        super().__init__(f"tables or arrays are nested more than {MAX_DEPTH} levels deep (zoo reads at most "
                         f"{MAX_DEPTH})")


def parse_toml(text: str) -> dict[str, Any]:
    """Parse TOML text; raises :data:`TOMLDecodeError`, or :class:`TooDeepError` for too deep a nesting."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise TooDeepError() from None
    if _too_deep(data):
        raise TooDeepError()
    return data


def _too_deep(data: Any) -> bool:
    """Whether ``data`` nests tables and arrays deeper than MAX_DEPTH (counted without recursion)."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return False


def read_toml(path: str | Path, *, what: str = "file", error: type[ZooError] = ConfigError,
              hint: str | None = None) -> tuple[dict[str, Any], str]:
    """Read the TOML file ``path``; return its table and its text (for locating keys by line).

    Args:
        path: the file to read.
        what: how messages name a missing file, e.g. ``"config file"``.
        error: the zoo error class raised for every problem.
        hint: the hint for every problem; a syntax error's hint starts with :data:`SYNTAX_HINT`.
    """
    path = Path(path)
    try:
        text = _read_regular_file(path, what).decode("utf-8")
    except FileNotFoundError:
        raise error(f"{what} '{path}' does not exist", hint=hint) from None
    except IsADirectoryError:
        raise error(f"{what} '{path}' is a folder, not a TOML file", hint=hint) from None
    except _NotReadable as problem:
        raise error(str(problem), hint=hint) from None
    except UnicodeDecodeError:
        raise error(f"{path}: cannot read: it is not UTF-8 text (is it a binary file?)", hint=hint) from None
    except OSError as problem:
        raise error(f"{path}: cannot read: {problem.strerror or problem}", hint=hint) from None
    try:
        return parse_toml(text), text
    except TooDeepError as problem:
        raise error(f"{path}: {problem}", hint=DEPTH_HINT) from None
    except tomllib.TOMLDecodeError as problem:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(problem))
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(problem))
        place = f"{path}:{match.group(1)}:{match.group(2)}" if match else str(path)
        raise error(f"{place}: TOML syntax error: {reason}",
                    hint=f"{SYNTAX_HINT}; {hint}" if hint else SYNTAX_HINT) from None


class _NotReadable(Exception):
    """A path that is not a regular file of a sane size; the message says what it is."""


_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _read_regular_file(path: Path, what: str) -> bytes:
    """The bytes of ``path``, refusing anything but a regular file of at most MAX_BYTES before reading.

    The file is opened without blocking (a named pipe would wait for a writer
    forever) and checked through the open descriptor, so it cannot be swapped.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _SPECIAL if test(mode)), "not a regular file")
            raise _NotReadable(f"{what} '{path}' is {kind}, not a TOML file; zoo reads only regular files")
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _NotReadable(f"{what} '{path}' is larger than {MAX_BYTES // (1024 * 1024)} MB; "
                           f"it cannot be a zoo TOML file")
    return data
