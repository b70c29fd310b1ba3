"""Links in a run directory: zoo makes none, writes through none, and refuses a run that holds one.

A symbolic link where a zoo file or folder should be (``.lock`` pointing at
``~/.bashrc``, ``plots`` at ``/etc``) would make zoo write outside the run
directory. So every command that takes a run (``find_run``) and every process
that takes a run's lock (``RunLock``: training, resume, evaluate, export)
first looks for one anywhere in the run and refuses the run with
:class:`LinkInRun` (exit code 2), naming the link and how to fix it;
``zoo runs`` lists such a run with the link named. The files zoo writes in
place, the lock and the manifest's reserve, are also opened with
:data:`NOFOLLOW` (and the lock must be a plain file with no other name), and
atomic writes (``zoo_core.files``) rename over a name, never write through it.
"""

from __future__ import annotations

import os
from pathlib import Path

from zoo_core.errors import RunError

#: ``os.open`` flag: fail (ELOOP) rather than follow a symbolic link at the last part of the path.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class LinkInRun(RunError):
    """A run directory holds a link (or a lock that is not zoo's own plain file): zoo refuses to work in it."""

    exit_code = 2


def find_link(directory: Path) -> Path | None:
    """The first symbolic link anywhere inside ``directory`` (links are not followed), or None."""
    for parent, folders, files in os.walk(directory):  # a linked folder is listed, never entered
        folders.sort()
        for name in sorted([*folders, *files]):
            path = Path(parent) / name
            if path.is_symlink():
                return path
    return None


def check_no_links(directory: Path, what: str = "use") -> None:
    """Raise :class:`LinkInRun` if the run directory holds a symbolic link anywhere; ``what`` names the action."""
    link = find_link(directory)
    if link is not None:
        raise link_error(directory, link, what)


def link_error(directory: Path, link: Path, what: str = "use", problem: str = "") -> LinkInRun:
    """The error for ``link`` in a run: what is wrong, which path, how to fix it.

    ``problem`` says what is wrong when it is not a symbolic link (a hard
    link, a lock that is not a plain file).
    """
    if not problem:
        try:
            problem = f"is a symbolic link to '{os.readlink(link)}'"
        except OSError:
            problem = "is a symbolic link"
    return LinkInRun(f"cannot {what} run '{directory.name}': '{link}' {problem}; zoo never writes through a link "
                     "in a run directory, as that would change a file outside it",
                     hint=f"remove the link (rm '{link}'; the file it points to stays as it is) and try again; "
                          "if the run needs that file, copy it there instead of linking it")
