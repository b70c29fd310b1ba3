"""The ``zoo`` command: a thin typer layer over zoo_core's Python API.

Introspection commands (``--help``, ``list``, ``show``, ``plugins``) never
import TensorFlow; the commands that train or export import it only when they
run. User mistakes (:class:`ZooError`) print a short message and exit
non-zero; ``--debug`` or ``ZOO_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

from zoo_core.cli.app import app, err, handles_errors, out, state

# Importing a command module registers its commands on `app`; 'zoo --help' lists them in this order.
from zoo_core.cli.introspect import list_rows, show_data
from zoo_core.cli.run_commands import run_rows

__all__ = ["app", "err", "handles_errors", "list_rows", "main", "out", "run_rows", "show_data", "state"]


def main() -> None:
    """Console-script entry point.

    ``--debug`` is accepted anywhere on the command line (``zoo run X --debug``
    as well as ``zoo --debug run X``): it is a request for tracebacks, not an
    option of one command.
    """
    if "--debug" in sys.argv[1:]:
        sys.argv = [sys.argv[0]] + [arg for arg in sys.argv[1:] if arg != "--debug"]
        os.environ["ZOO_DEBUG"] = "1"
    app()
