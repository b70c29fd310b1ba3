"""The ``zoo`` Typer app, its consoles, the main options and the error handling every command shares.

A leaf of the CLI package: it imports no command module; they register on
:data:`app` when they are imported (see ``zoo_core/cli/__init__.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape

from zoo_core import __version__
from zoo_core.errors import ZooError
from zoo_core.workspace import Workspace

#: The width of output that goes to a pipe or a file: wide enough that no table folds a cell.
UNFOLDED_WIDTH = 1000


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


out = ZooConsole(highlight=False, soft_wrap=True)
err = ZooConsole(stderr=True, highlight=False, soft_wrap=True)


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
            err.print(f"[bold red]error:[/] {escape(str(error))}")
            raise typer.Exit(error.exit_code) from None
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
            err.print(f"[bold red]internal error:[/] {escape(type(error).__name__)}: {escape(str(error))}\n"
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
