"""``python -m zoo_core.cli``: the same as the ``zoo`` command."""

from zoo_core.cli import main

main()
