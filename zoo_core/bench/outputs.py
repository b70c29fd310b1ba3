"""Where ``zoo bench`` and ``zoo compare`` write: ``--out DIR``, or ``<runs root>/<kind>/<UTC time>/``."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from zoo_core.runs import check_writable


def output_folder(root: Path, kind: str, out: Path | None = None) -> Path:
    """The folder to write into, checked before any work: ``out``, or a new ``root/kind/<time>`` name.

    ``out`` that is a file (or lies under one) is a ConfigError (exit code
    2); a folder that cannot be written is a RunError. The timestamped folder
    is only named here: it is created when the files are written, so a bench
    that fails leaves no empty folder.
    """
    from zoo_core.training.finished_runs import check_out_folder

    if out is not None:
        check_out_folder(Path(out))
        check_writable(Path(out), what=f"the {kind} folder", hint="choose a writable folder with --out")
        return Path(out)
    parent = root / kind
    check_writable(parent, what=f"the {kind} folder", hint="choose a writable folder with --out (or --runs-dir)")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder, number = parent / stamp, 1
    while folder.exists():
        number += 1
        folder = parent / f"{stamp}-{number}"
    return folder
