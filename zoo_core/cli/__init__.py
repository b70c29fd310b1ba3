"""The ``zoo`` command: a thin typer layer over zoo_core's Python API.

Introspection commands (``--help``, ``list``, ``show``, ``plugins``) never
import TensorFlow; the commands that train or export import it only when they
run. User mistakes (:class:`ZooError`) print a short message and exit
non-zero; ``--debug`` or ``ZOO_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import Any, Optional

from zoo_core._util.text import printable
from zoo_core.errors import ConfigError
from zoo_core.cli.app import BROKEN_PIPE_EXIT, app, err, handles_errors, out, shown, silence, state

# Importing a command module registers its commands on `app`; 'zoo --help' lists them in this order.
from zoo_core.cli.introspect import list_rows, show_data
from zoo_core.cli.run_commands import run_rows
from zoo_core.cli.bench_commands import bench_command, compare_command
from zoo_core.cli.sweep_commands import sweep_rows
from zoo_core.cli.serve_commands import serve_command

__all__ = ["app", "bench_command", "compare_command", "err", "global_options_first", "handles_errors", "list_rows",
           "main", "out", "run_rows", "serve_command", "show_data", "state", "sweep_rows"]

#: Main options that take a value and may also be given after the command name (``zoo run X --registry f.toml``).
GLOBAL_VALUE_OPTIONS = ("--registry", "--plugins-dir")
#: Warnings that say something to a library's authors, not to zoo's user: hidden unless --debug.
NOISE_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning, ResourceWarning)


def main() -> None:
    """Console-script entry point.

    ``--debug`` is accepted anywhere on the command line (``zoo run X --debug``
    as well as ``zoo --debug run X``): it is a request for tracebacks, not an
    option of one command. So are ``--registry FILE`` and ``--plugins-dir DIR``.
    Python warnings and zoo's log messages are one line each (``zoo: warning:
    ...``) unless ``--debug``; output cut short by its reader (``zoo list |
    head -1``) ends quietly.
    """
    try:
        arguments = global_options_first(sys.argv[1:])
    except ConfigError as error:
        err.print(f"[bold red]error:[/] {shown(error, multiline=True)}")
        sys.exit(error.exit_code)
    if "--debug" in arguments:
        arguments = [arg for arg in arguments if arg != "--debug"]
        os.environ["ZOO_DEBUG"] = "1"
    sys.argv = [sys.argv[0], *arguments]
    if not os.environ.get("ZOO_DEBUG"):
        _one_line_warnings()
    try:
        app()
    except SystemExit as done:
        _flush_stdout()
        _exit_without_teardown(done.code)
        raise
    finally:
        _flush_stdout()


def _exit_without_teardown(code: object) -> None:
    """End a ``zoo`` process that ran TensorFlow at once: its teardown at exit takes seconds (benchmarks/NOTES.md).

    Only in the ``zoo`` process itself (whose ``__main__`` calls this
    :func:`main`), never in a program that calls ``main`` (a test); everything
    zoo writes is closed by then, and the streams are flushed here.
    """
    if "tensorflow" not in sys.modules or getattr(sys.modules.get("__main__"), "main", None) is not main:
        return
    import logging

    if isinstance(code, str):
        print(code, file=sys.stderr)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


def global_options_first(arguments: list[str]) -> list[str]:
    """``arguments`` with ``--registry FILE`` and ``--plugins-dir DIR`` moved before the command name.

    They are options of ``zoo`` itself, so click accepts them only there;
    moved, they work anywhere, like ``--debug``. ``--registry=FILE`` works
    too; everything after ``--`` stays where it is. Raises ConfigError for
    an option without its value.
    """
    moved: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if argument == "--":
            rest += arguments[index:]
            break
        if argument.partition("=")[0] in GLOBAL_VALUE_OPTIONS and "=" in argument:
            moved.append(argument)
        elif argument in GLOBAL_VALUE_OPTIONS:
            if index + 1 == len(arguments) or arguments[index + 1].startswith("-"):
                raise ConfigError(f"{argument} needs a value",
                                  hint=f"{argument} {'FILE' if argument == '--registry' else 'DIR'}, "
                                       "before or after the command name")
            moved += arguments[index:index + 2]
            index += 1
        else:
            rest.append(argument)
        index += 1
    return moved + rest


def _one_line_warnings() -> None:
    """Python warnings and zoo's log records as one line each on stderr: ``zoo: warning: ...``, no source lines."""
    for category in NOISE_WARNINGS:
        warnings.filterwarnings("ignore", category=category)
    warnings.showwarning = _show_warning
    handler = logging.StreamHandler()  # to stderr
    handler.setFormatter(_OneLineFormatter())
    logger = logging.getLogger("zoo_core")
    logger.addHandler(handler)
    logger.propagate = False


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int,
                  file: Optional[Any] = None, line: Optional[str] = None) -> None:
    """``warnings.showwarning`` in one line: what, and which kind of warning; never the source line."""
    stream = file or sys.stderr
    text = printable(" ".join(str(message).split()))
    try:
        stream.write(f"zoo: warning: {text} ({category.__name__})\n")
    except (OSError, ValueError):  # stderr is gone: a warning is not worth failing for
        pass


class _OneLineFormatter(logging.Formatter):
    """``zoo: warning: message``: the level in lower case, control characters escaped, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        return f"zoo: {record.levelname.lower()}: {printable(record.getMessage(), multiline=True)}"


def _flush_stdout() -> None:
    """Flush what is left for stdout; a reader that went away (``| head -1``) ends zoo quietly."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence(sys.stdout)
        sys.exit(BROKEN_PIPE_EXIT)
