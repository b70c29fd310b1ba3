"""The checkpoint format: what ``<run>/checkpoint/`` holds and how it is committed (no Keras here).

A checkpoint is ``model-NNNN.npz`` (the values of the model's weights and
of the optimizer's variables, uncompressed: :func:`write_variables_npz`;
format 2 wrote a whole ``model-NNNN.keras`` each epoch, several times
slower, and is still read), ``weights-NNNN.npz`` (the weight snapshots the
plots need) and
``state.json``, which names those two files and holds the epoch count, the
history rows, the dropout/random seed-generator states (Keras does not save
them in .keras files), the optimizer's step count, each callback's saved
state (``callbacks``: key -> its ``zoo_state()``) and, when a callback stopped
training before the last epoch, why (``stopped_early``). Each file is written
to a temporary name and renamed; ``state.json`` is written last and is the
commit point: until it is renamed into place the previous checkpoint stays
valid, so a process killed at any moment leaves a consistent checkpoint.
Older files are removed after the commit. zoo_core.training.checkpointing
supplies the Keras parts (saving the model, reading its seed generators).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any, Callable

from zoo_core.files import atomic_path, write_json_atomic
from zoo_core.runs.formats import check_format, stamp

#: Version of checkpoint/state.json (a state.json without ``format`` is format 1); ``zoo_version`` says who wrote it.
CHECKPOINT_FORMAT = 3
STATE_FILE = "state.json"


def commit_checkpoint(directory: Path, epochs_done: int, save_model: Callable[[Path], None], rows: list[dict],
                      snapshots: list[dict[str, Any]], optimizer_iterations: int | None,
                      seed_generators: list[dict[str, Any]], extra: dict[str, Any] | None = None,
                      model_suffix: str = ".npz") -> dict[str, Any]:
    """Write and commit a checkpoint of ``epochs_done`` completed epochs; return its state.

    ``save_model(path)`` writes the model file at ``path`` (a temporary name
    ending in ``model_suffix``); ``extra`` adds keys to the state (``callbacks``, ``stopped_early``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    model_name, weights_name = f"model-{epochs_done:04d}{model_suffix}", f"weights-{epochs_done:04d}.npz"
    with atomic_path(directory / model_name) as temporary:
        save_model(temporary)
    write_weights_npz(directory / weights_name, snapshots)
    state = {
        **stamp({}, CHECKPOINT_FORMAT),
        "epochs_done": epochs_done,
        "model": model_name,
        "weights": weights_name,
        "optimizer_iterations": optimizer_iterations,
        "rng": {"seed_generators": seed_generators},
        "history": rows,
        **(extra or {}),
    }
    write_json_atomic(directory / STATE_FILE, state)
    for old in [*directory.glob("model-*.keras"), *directory.glob("model-*.npz"), *directory.glob("weights-*.npz"),
                directory / "model.keras",
                directory / "weights.npz"]:
        if old.name not in (model_name, weights_name):
            old.unlink(missing_ok=True)
    return state


def read_checkpoint(directory: Path, epochs: int | None = None) -> dict[str, Any] | None:
    """The committed checkpoint state in ``directory`` (None if there is none), checked for consistency.

    Raises NewerFormat (zoo_core.runs.formats, exit code 2) if a newer zoo
    wrote it in a format this one does not know. Raises ValueError naming
    what is wrong if the state is unreadable, if its format is not a number,
    if it counts more than ``epochs`` completed epochs (the run's setting,
    when given), if its history does not have one numbered row per completed
    epoch, if a file name it holds is not a plain name inside ``directory``
    (an absolute path or '..' would load another run's files), or if the
    files it names are missing.
    """
    path = directory / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path} is unreadable ({error})") from None
    if isinstance(state, dict):
        check_format(path, state, CHECKPOINT_FORMAT)  # before anything else: a newer format may mean other things
    if not isinstance(state, dict) or type(state.get("epochs_done")) is not int or state["epochs_done"] < 0:
        raise ValueError(f"{path} has no valid 'epochs_done'")
    if epochs is not None:
        check_epochs_done(directory, state, epochs)
    rows = state.get("history")
    if not isinstance(rows, list) or len(rows) != state["epochs_done"] or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: its history does not have one row per completed epoch")
    state.setdefault("model", "model.keras")  # format 1
    for key in ("model", "weights"):
        if (key == "model" or state.get(key) is not None) and not _plain_name(state.get(key)):
            raise ValueError(f"{path}: '{key}' must name a file in {directory}, got {state.get(key)!r}")
    if not (directory / str(state["model"])).is_file():
        raise ValueError(f"{path} names the model file '{state['model']}', which is missing")
    _check_rows(path, rows)
    iterations = state.get("optimizer_iterations")
    if iterations is not None and (type(iterations) is not int or iterations < 0):
        raise ValueError(f"{path}: 'optimizer_iterations' must be a count, got {iterations!r}")
    callbacks = state.get("callbacks")
    if callbacks is not None and (not isinstance(callbacks, dict) or not all(isinstance(v, dict) for v in callbacks.values())):
        raise ValueError(f"{path}: 'callbacks' must map each callback to its state, got {callbacks!r}"[:400])
    stopped = state.get("stopped_early")
    if stopped is not None and not isinstance(stopped, dict):
        raise ValueError(f"{path}: 'stopped_early' must be a table, got {stopped!r}"[:400])
    return state


def check_epochs_done(directory: Path, state: dict[str, Any], epochs: int) -> None:
    """A ValueError if the checkpoint ``state`` read from ``directory`` counts more completed epochs than ``epochs``."""
    if state["epochs_done"] > epochs:
        raise ValueError(f"{directory / STATE_FILE} says {state['epochs_done']} epochs are done, but the run has "
                         f"{epochs} (config.toml's 'epochs')")


def _plain_name(name: Any) -> bool:
    """A file name with no folder in it: no separator, not '.', '..' or absolute, no NUL."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\x00" not in name and not Path(name).is_absolute())


def _check_rows(path: Path, rows: list[dict]) -> None:
    """Each history row is epoch N (1, 2, ...) with numbers (a validation loss may be NaN): else a ValueError."""
    for number, row in enumerate(rows, start=1):
        if row.get("epoch") != number or type(row.get("epoch")) is not int:
            raise ValueError(f"{path}: history row {number} is for epoch {row.get('epoch')!r}, not {number}")
        for key, value in row.items():
            if type(value) not in (int, float):
                raise ValueError(f"{path}: history row {number} has {key}={value!r}, not a number")


def damaged_zip(path: Path) -> str | None:
    """Why the zip file at ``path`` (a .keras or .npz file) is damaged, or None if every member reads back."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, EOFError, ValueError, RuntimeError, zipfile.BadZipFile, zlib.error) as error:
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return f"its member '{bad}' is corrupt" if bad is not None else None


def epochs_done(run_dir: Path) -> int | None:
    """Epochs done in a run directory's committed checkpoint: 0 without one, None if it is unreadable."""
    try:
        state = read_checkpoint(run_dir / "checkpoint")
    except (ValueError, OSError):
        return None
    return int(state["epochs_done"]) if state else 0


def write_weights_npz(path: Path, snapshots: list[dict[str, Any]]) -> None:
    """Keep the weight snapshots with the run, so plots can be redrawn on resume (written atomically)."""
    import numpy as np

    arrays = {f"{index}/{name}": values for index, layers in enumerate(snapshots) for name, values in layers.items()}
    with atomic_path(path) as temporary:
        with open(temporary, "xb") as handle:
            np.savez(handle, **arrays)  # uncompressed: compressing cost 10x the write, every epoch


def read_weights_npz(path: Path) -> list[dict[str, Any]]:
    """Inverse of write_weights_npz (an epoch without a snapshot, lost to a damaged file, reads back as {})."""
    import numpy as np

    snapshots: dict[int, dict[str, Any]] = {}
    with np.load(path) as data:
        for key in data.files:
            index, _, name = key.partition("/")
            snapshots.setdefault(int(index), {})[name] = data[key]
    return [snapshots.get(i, {}) for i in range(max(snapshots, default=-1) + 1)]  # {}: an epoch whose snapshot was lost



def write_variables_npz(path: Path, groups: dict[str, list[tuple[str, Any]]]) -> None:
    """Write named groups of variable values (``{"model": [(path, array), ...], ...}``) to an .npz file.

    Member ``<group>/<index>`` holds a value, ``<group>/paths`` the variables'
    paths in order (read back by :func:`read_variables_npz` to check that they
    fit). Written at ``path`` directly: the caller gives a temporary name.
    """
    import numpy as np

    arrays: dict[str, Any] = {}
    for group, items in groups.items():
        arrays[f"{group}/paths"] = np.array([name for name, _ in items], dtype=str)
        arrays.update({f"{group}/{index}": value for index, (_, value) in enumerate(items)})
    with open(path, "xb") as handle:
        np.savez(handle, **arrays)


def read_variables_npz(path: Path) -> dict[str, list[tuple[str, Any]]]:
    """Inverse of :func:`write_variables_npz`: ``{group: [(path, array), ...]}``."""
    import numpy as np

    groups: dict[str, list[tuple[str, Any]]] = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            group, _, member = key.rpartition("/")
            if member == "paths":
                paths = [str(name) for name in data[key]]
                groups[group] = [(name, data[f"{group}/{index}"]) for index, name in enumerate(paths)]
    return groups
