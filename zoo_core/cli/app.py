"""The ``zoo`` Typer app, its consoles, the main options and the error handling every command shares.

A leaf of the CLI package: it imports no command module; they register on
:data:`app` when they are imported (see ``zoo_core/cli/__init__.py``).
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Optional

import typer
from rich.console import Console, ConsoleDimensions, ConsoleOptions, RenderableType, RenderHook
from rich.markup import escape
from rich.measure import Measurement
from rich.segment import Segment

from zoo_core import __version__
from zoo_core._util.text import UNPRINTABLE, printable
from zoo_core.errors import ZooError
from zoo_core.workspace import Workspace

#: The width of output that goes to a pipe or a file: wide enough that no table folds a cell.
UNFOLDED_WIDTH = 1000
#: The exit code when the reader of zoo's output went away (``zoo list | head -1``): 128 + SIGPIPE, as Unix tools.
BROKEN_PIPE_EXIT = 141


def shown(text: Any, *, multiline: bool = False) -> str:
    """Text from a file (a name, a message) ready for a rich console: control characters escaped, then markup.

    ``multiline`` keeps newlines and tabs (see :func:`~zoo_core._util.text.printable`).
    """
    return escape(printable(text, multiline=multiline))


def stop_quietly(stream: Optional[IO[str]] = None) -> None:
    """The reader of ``stream`` (stdout by default) went away: exit 141 without a word, as Unix tools do.

    As ``seq 1 1000000 | head -1`` does: no message, no traceback.
    """
    silence(stream or sys.stdout)
    raise typer.Exit(BROKEN_PIPE_EXIT)


def silence(stream: IO[str]) -> None:
    """Point ``stream``'s file descriptor at /dev/null, so that Python's own flush at exit finds no closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file (a test's buffer): nothing to redirect
        pass


class _PrintableSegments:
    """A renderable drawn as ``renderable`` is, with control characters in its text escaped (rich keeps ESC)."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterable[Segment]:
        for segment in console.render(self.renderable, options):
            if segment.control or not UNPRINTABLE.search(segment.text):
                yield segment
            else:
                yield Segment(printable(segment.text, multiline=True), segment.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.renderable)


class _PrintableHook(RenderHook):
    """The last line of defence: whatever a command prints reaches the terminal without control characters.

    The renderers escape text from files with :func:`shown` (so tables keep
    their widths); this catches any text that did not go through it.
    """

    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        return [_PrintableSegments(renderable) for renderable in renderables]


class ZooConsole(Console):
    """rich's Console; on a terminal as wide as the terminal, elsewhere (a pipe, a file) never folding a cell.

    rich lays a table out to 80 columns when it cannot see a terminal, which
    cuts paths and names into pieces in ``zoo ... | cat``, logs and CI output;
    a table there is printed at its natural width. An explicit width
    (``COLUMNS``, or setting ``width``) still wins.
    """

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size; :data:`UNFOLDED_WIDTH` columns when there is no terminal and no explicit width."""
        size = super().size
        if self._width is None and "COLUMNS" not in self._environ and not self.is_terminal:
            return ConsoleDimensions(UNFOLDED_WIDTH, size.height)
        return size

    def on_broken_pipe(self) -> None:
        """The reader went away (``zoo list | head -1``): stop quietly, as Unix tools do."""
        self.quiet = True
        stop_quietly(self.file)


out = ZooConsole(highlight=False, soft_wrap=True)
err = ZooConsole(stderr=True, highlight=False, soft_wrap=True)
out.push_render_hook(_PrintableHook())
err.push_render_hook(_PrintableHook())


@dataclass
class CommandState(Workspace):
    """The workspace the commands use, plus the CLI-only ``--debug`` flag."""

    debug: bool = False

    def configure(self, registry_file: Optional[Path], plugins_dir: Optional[Path], debug: bool) -> None:
        """Take the main options; the catalog and registry load afresh on next use."""
        self.registry_file, self.plugins_dir, self.debug = registry_file, plugins_dir, debug
        self.forget()


state = CommandState()


def handles_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command so a ZooError prints a short message and sets the exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ZooError as error:
            if state.debug:
                raise
            err.print(f"[bold red]error:[/] {shown(error, multiline=True)}")
            raise typer.Exit(error.exit_code) from None
        except BrokenPipeError:
            if state.debug:
                raise
            stop_quietly()
        except KeyboardInterrupt:
            if state.debug:
                raise
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as error:  # a bug, not a user mistake: say so briefly
            if state.debug:
                raise
            err.print(f"[bold red]internal error:[/] {escape(type(error).__name__)}: "
                      f"{shown(error, multiline=True)}\n"
                      "  run again with --debug for the traceback, and please report it")
            raise typer.Exit(1) from None

    return wrapper


app = typer.Typer(
    name="zoo",
    help="Compose TensorFlow/Keras training runs from named parts, and ship the result.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        out.print(f"zoo {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    registry: Optional[Path] = typer.Option(None, "--registry", help="Extra registry.toml layered on the built-in and ./registry.toml."),
    plugins_dir: Optional[Path] = typer.Option(None, "--plugins-dir", envvar="ZOO_PLUGINS_DIR",
                                               help="Also load loose .py plugin files from this folder."),
    debug: bool = typer.Option(False, "--debug", envvar="ZOO_DEBUG", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Compose TensorFlow/Keras training runs from named parts, and ship the result."""
    state.configure(registry, plugins_dir, debug)
