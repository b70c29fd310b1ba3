"""The ``init_from`` setting: start a run from trained weights, layer by layer.

:func:`find_source` (no TensorFlow) finds what ``init_from`` names before
any work: a run (its directory, its id, or a recipe name meaning the
recipe's latest completed run; its model.keras is loaded), a ``.keras``
model or a ``.weights.h5`` file. :func:`load_matching` then puts into the
freshly built model every layer whose weights fit: same layer name and
same weight shapes. A layer the source lacks, or whose shapes differ (a
head sized for another class count), keeps its fresh random weights and is
trained anew, and so is a run's head when the run learnt other classes
(the same count of other digits); the record (manifest.json's ``init_from``) says which layers
were loaded, which were not and why, and where the weights came from (the
run id, and the file's sha256). No layer that fits at all means the source
is another architecture: a ConfigError, never a silently random model.

A ``.weights.h5`` file holds no layer names, only Keras' paths (the layer's
class and its place among layers of that class: ``layers/dense_1``), so its
layers are matched by that path and their shapes. A resumed run never calls
this: its checkpoint holds the weights (zoo_core.training.prepare).
"""

from __future__ import annotations

import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo_core._util.text import error_line
from zoo_core.errors import ConfigError
from zoo_core.runs import RunNotFound, find_run
from zoo_core.training.freezing import is_head

#: The file suffixes init_from takes, besides a run.
MODEL_SUFFIX, WEIGHTS_SUFFIX = ".keras", ".weights.h5"


@dataclass(frozen=True)
class Source:
    """Where initial weights come from: the file to read, and the run it belongs to (if any)."""

    reference: str  #: as the init_from setting wrote it
    file: Path
    run_id: str | None = None
    class_names: list[str] | None = None  #: the classes the run's head learnt (unknown for a file)


def find_source(reference: str, root: Path) -> Source | None:
    """The file ``init_from`` names (None when it is empty); a ConfigError (exit 2) if there is none."""
    if not reference:
        return None
    if reference.endswith((MODEL_SUFFIX, WEIGHTS_SUFFIX)):
        file = Path(reference).expanduser()
        if not file.is_file():
            raise ConfigError(f"init_from: the file '{reference}' does not exist", key="init_from",
                              hint="give an existing .keras model or .weights.h5 file, or a run (id, directory, "
                                   "or a recipe name for its latest completed run)")
        return Source(reference, file)
    try:
        run = find_run(reference, root)
    except RunNotFound as error:
        raise ConfigError(f"init_from: {error.message}", key="init_from",
                          hint=f"if '{reference}' is a recipe, train it first: zoo run {reference} (the run must "
                               f"complete; --runs-dir must be the same); {error.hint or ''}".rstrip("; ")) from None
    model = run.dir / "model.keras"
    if not model.is_file():
        raise ConfigError(f"init_from: run '{run.id}' has no model.keras (status {run.status()})", key="init_from",
                          hint=f"name a completed run, or train one first: zoo run {run.manifest().get('recipe', '')}")
    names = (run.manifest().get("dataset") or {}).get("class_names")
    return Source(reference, model, run.id, [str(name) for name in names] if isinstance(names, list) else None)


def load_matching(model: Any, source: Source, class_names: list[str]) -> dict[str, Any]:
    """Load every layer of ``source`` that fits ``model``; return the record for manifest.json and say it on stderr.

    A run's head (zoo_core.training.freezing.is_head) is not loaded when the
    run learnt other classes than ``class_names`` (the dataset's now), even
    with the same count: its weights would name the wrong classes.
    """
    from zoo_core.export.metadata import sha256_of

    saved = _saved_layers(source)
    other_classes = source.class_names is not None and source.class_names != list(class_names)
    loaded, skipped = [], []
    for name, layer, key in _weighted_layers(model, by_path=source.file.name.endswith(WEIGHTS_SUFFIX)):
        values = saved.get(key)
        ours = [tuple(v.shape) for v in layer.weights]
        if values is None:
            skipped.append({"layer": name, "why": "missing"})
        elif other_classes and is_head(name):
            skipped.append({"layer": name, "why": f"the head of other classes: {_names(source.class_names)} in the "
                                                  f"source, {_names(class_names)} here"})
        elif [tuple(v.shape) for v in values] != ours:
            theirs = [tuple(v.shape) for v in values]
            skipped.append({"layer": name, "why": f"shape differs: {_shapes(theirs)} in the source, "
                                                  f"{_shapes(ours)} here"})
        else:
            for variable, value in zip(layer.weights, values):
                variable.assign(value)
            loaded.append(name)
    if not loaded:
        raise ConfigError(f"init_from: no layer of the model fits the weights in '{source.file}' (none has the same "
                          f"name and weight shapes): it holds another architecture", key="init_from",
                          hint="start from a run or file of the same architecture ('zoo runs' lists runs), or leave "
                               "init_from empty to start from random weights")
    record = {"reference": source.reference, "file": str(source.file), "sha256": sha256_of(source.file),
              "loaded": loaded, "skipped": skipped}
    if source.run_id is not None:
        record = {"run_id": source.run_id, **record}
    _say(record)
    return record


def _say(record: dict[str, Any]) -> None:
    where = f"run {record['run_id']}" if "run_id" in record else f"{record['file']} (sha256 {record['sha256'][:12]})"
    print(f"zoo: init_from {where}: loaded {len(record['loaded'])} layer(s): {', '.join(record['loaded'])}",
          file=sys.stderr, flush=True)
    for skip in record["skipped"]:
        print(f"zoo: init_from: layer {skip['layer']} starts anew ({skip['why']})", file=sys.stderr, flush=True)


def _names(names: list[str] | None) -> str:
    shown = ", ".join((names or [])[:12])
    return f"[{shown}{', ...' if len(names or []) > 12 else ''}]"


def _shapes(shapes: list[tuple[int, ...]]) -> str:
    return ", ".join(str(shape) for shape in shapes)


def _weighted_layers(model: Any, by_path: bool) -> list[tuple[str, Any, str]]:
    """(name, layer, key) of every layer that owns weights; the key is its name, or its Keras path in a weights file."""
    found = []
    for path, layer in _walk(model, "layers", by_path):
        if layer.weights and not _children(layer):
            found.append((layer.name, layer, path if by_path else layer.name))
    return found


def _walk(container: Any, prefix: str, by_path: bool) -> list[tuple[str, Any]]:
    """Every layer under ``container`` with its path as Keras writes it in a .weights.h5 file (class name, counter)."""
    from keras.src.utils.naming import to_snake_case

    found, used = [], {}
    for layer in _children(container):
        name = to_snake_case(type(layer).__name__)
        used[name] = used.get(name, -1) + 1
        path = f"{prefix}/{name}" + (f"_{used[name]}" if used[name] else "")
        found.append((path, layer))
        found.extend(_walk(layer, f"{path}/layers", by_path))
    return found


def _children(layer: Any) -> list[Any]:
    return list(getattr(layer, "layers", None) or [])


def _saved_layers(source: Source) -> dict[str, list[Any]]:
    """The source's weights by layer name (a .keras model) or by Keras path (a .weights.h5 file)."""
    if source.file.name.endswith(WEIGHTS_SUFFIX):
        return _weights_file(source.file)
    import keras

    try:
        if not zipfile.is_zipfile(source.file):
            raise ValueError("not a zip archive")
        saved = keras.saving.load_model(source.file, compile=False, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a file it cannot read
        raise _unreadable(source, error) from None
    return {name: [keras.ops.convert_to_numpy(v) for v in layer.weights]
            for name, layer, _ in _weighted_layers(saved, by_path=False)}


def _weights_file(file: Path) -> dict[str, list[Any]]:
    """path -> the arrays under ``path/vars`` in a Keras .weights.h5 file."""
    import h5py

    try:
        with h5py.File(file, "r") as data:
            found: dict[str, list[Any]] = {}

            def visit(name: str, item: Any) -> None:
                if isinstance(item, h5py.Group) and name.endswith("/vars") and len(item):
                    found[name[: -len("/vars")]] = [item[str(i)][()] for i in range(len(item))]

            data.visititems(visit)
            return found
    except Exception as error:  # noqa: BLE001 - h5py raises OSError, KeyError... for a damaged file
        raise _unreadable(Source(str(file), file), error) from None


def _unreadable(source: Source, error: Exception) -> ConfigError:
    return ConfigError(f"init_from: cannot read '{source.file}': {type(error).__name__}: {error_line(error)}",
                       key="init_from", hint="the file is damaged or not a Keras model (.keras) or weights file "
                                             "(.weights.h5); save it again, or name another run or file")
