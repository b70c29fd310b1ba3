"""The one TOML reader: registry files, ``zoo run --config`` files and run directories' config.toml.

On Python 3.10 it reads through ``tomli`` (the same parser as 3.11's
``tomllib``). Every problem becomes a zoo error naming the file, and for a
syntax error its line and column, so the user sees ``path:line:col: TOML
syntax error: ...`` instead of a traceback.
"""

from __future__ import annotations

import re
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


def parse_toml(text: str) -> dict[str, Any]:
    """Parse TOML text (raises :data:`TOMLDecodeError`); for values from ``--set`` and tests."""
    return tomllib.loads(text)


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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} '{path}' does not exist", hint=hint) from None
    except IsADirectoryError:
        raise error(f"{what} '{path}' is a folder, not a TOML file", hint=hint) from None
    except UnicodeDecodeError:
        raise error(f"{path}: cannot read: it is not UTF-8 text (is it a binary file?)", hint=hint) from None
    except OSError as problem:
        raise error(f"{path}: cannot read: {problem.strerror or problem}", hint=hint) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as problem:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(problem))
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(problem))
        place = f"{path}:{match.group(1)}:{match.group(2)}" if match else str(path)
        raise error(f"{place}: TOML syntax error: {reason}",
                    hint=f"{SYNTAX_HINT}; {hint}" if hint else SYNTAX_HINT) from None
