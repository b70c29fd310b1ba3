"""Checkpointing a run: committing a checkpoint of the model, and loading one into a fresh model.

The format of ``<run>/checkpoint/`` (which files, state.json, the commit
point) is zoo_core.runs.checkpoint, which knows no Keras; this module is its
Keras side: the values of the model's and the optimizer's variables
(:func:`save_variables`, :func:`load_variables`), the dropout seed
generators (:func:`seed_generator_states`), a commit (:func:`save_checkpoint`),
the committed state of a run (:func:`committed_state`) and a resume's load
(:func:`load_checkpoint`). The callback that commits one at each epoch end
is zoo_core.training.callbacks.checkpointer.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from zoo_core._util.text import error_line
from zoo_core.errors import RunError
from zoo_core.runs import NewerFormat, Run
from zoo_core.runs.checkpoint import (check_epochs_done, commit_checkpoint, damaged_zip, read_checkpoint,
                                      read_variables_npz, read_weights_npz, write_variables_npz)


def committed_state(run: Run) -> dict[str, Any] | None:
    """The run's committed checkpoint (None if it has none); a RunError saying what to do if it is damaged."""
    try:
        return read_checkpoint(run.dir / "checkpoint")
    except NewerFormat:  # not damaged: written by a newer zoo (exit code 2, upgrade zoo)
        raise
    except ValueError as error:
        raise _damaged(run, error) from None


def check_committed_epochs(run: Run, state: dict[str, Any] | None, epochs: int) -> None:
    """A checkpoint may not count more epochs done than the run has (a tampered state.json): else damaged."""
    if state is not None:
        try:
            check_epochs_done(run.dir / "checkpoint", state, epochs)
        except ValueError as error:
            raise _damaged(run, error) from None


def _damaged(run: Run, error: ValueError) -> RunError:
    return RunError(f"run '{run.id}': its checkpoint is damaged: {error}", hint=_start_over_hint(run))


def _start_over_hint(run: Run) -> str:
    """How to go on from a damaged checkpoint: train the run again from epoch 1, or start a new run."""
    return (f"delete the folder {run.dir / 'checkpoint'} and run 'zoo resume {run.dir}' again to train the run "
            f"from epoch 1 in the same directory, or start a new run: zoo run --config {run.dir / 'config.toml'}")


def save_checkpoint(directory: Path, model: Any, epochs_done: int, rows: list[dict],
                    snapshots: list[dict[str, np.ndarray]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Commit a checkpoint of ``epochs_done`` completed epochs (format: zoo_core.runs.checkpoint); return its state."""
    optimizer = getattr(model, "optimizer", None)
    return commit_checkpoint(directory, epochs_done, lambda path: save_variables(model, path), rows, snapshots,
                             int(optimizer.iterations.numpy()) if optimizer is not None else None,
                             seed_generator_states(model), extra)


def save_variables(model: Any, path: Path) -> None:
    """The values of the model's weights and its optimizer's variables, as an .npz file at ``path``.

    What a checkpoint needs to resume: the architecture is rebuilt from
    config.toml. Several times cheaper than ``model.save`` (which walks and
    re-serialises the model and the optimizer every epoch).
    """
    groups = {"model": _values(model.weights)}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        groups["optimizer"] = _values(optimizer.variables)
    write_variables_npz(path, groups)


def load_variables(model: Any, path: Path) -> None:
    """Put the values written by :func:`save_variables` back; a ValueError saying what does not fit."""
    groups = read_variables_npz(path)
    optimizer = getattr(model, "optimizer", None)
    targets = {"model": list(model.weights), "optimizer": list(optimizer.variables) if optimizer is not None else []}
    for group, variables in targets.items():
        saved = groups.get(group, [])
        if len(saved) != len(variables):
            raise ValueError(f"{len(saved)} {group} variables saved, the model has {len(variables)}")
        for variable, (name, value) in zip(variables, saved):
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"{group} variable {name} has shape {tuple(value.shape)} in the checkpoint, "
                                 f"{tuple(variable.shape)} in the model")
    for group, variables in targets.items():
        for variable, (_, value) in zip(variables, groups.get(group, [])):
            variable.assign(value)


def _values(variables: list[Any]) -> list[tuple[str, np.ndarray]]:
    import keras

    return [(str(getattr(v, "path", v.name)), np.asarray(keras.ops.convert_to_numpy(v))) for v in variables]


def seed_generator_states(model: Any) -> list[dict[str, Any]]:
    """The state of every random seed generator of the model's layers (dropout, noise...), in order."""
    import keras

    states = []
    for index, variable in enumerate(_seed_variables(model)):
        value = np.asarray(keras.ops.convert_to_numpy(variable))
        states.append({"index": index, "path": str(getattr(variable, "path", "")),
                       "dtype": value.dtype.name, "value": value.tolist()})
    return states


def restore_seed_generators(model: Any, states: list[dict[str, Any]]) -> bool:
    """Put back the seed-generator states from :func:`seed_generator_states`; False if they do not fit."""
    variables = _seed_variables(model)
    if len(variables) != len(states):
        return False
    values = [np.asarray(state["value"], dtype=state.get("dtype", "uint32")) for state in states]
    if any(tuple(v.shape) != tuple(var.shape) for v, var in zip(values, variables)):
        return False
    for variable, value in zip(variables, values):
        variable.assign(value.astype(np.dtype(variable.dtype)))
    return True


def _seed_variables(model: Any) -> list[Any]:
    """State variables of the SeedGenerators that the model's layers own (Keras tracks them per layer)."""
    layers = model._flatten_layers(include_self=True) if hasattr(model, "_flatten_layers") else [model]
    found, seen = [], set()
    for layer in layers:
        for generator in getattr(layer, "_seed_generators", []) or []:
            state = getattr(generator, "state", None)
            if state is not None and id(state) not in seen:
                seen.add(id(state))
                found.append(state)
    return found


def load_checkpoint(prepared: Any, run: Run, state: dict) -> None:
    """Put the checkpoint's weights, optimizer state and seed-generator states into the fresh model."""
    directory = run.dir / "checkpoint"
    model = prepared.model
    damage = damaged_zip(directory / state["model"])
    if damage is not None:
        raise RunError(f"run '{run.id}': its checkpoint model file {directory / state['model']} is damaged ({damage})",
                       hint=_start_over_hint(run))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if str(state["model"]).endswith(".npz"):
                load_variables(model, directory / state["model"])
            else:  # format 2: a whole .keras file
                model.load_weights(directory / state["model"])
        except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a file that does not fit
            raise RunError(f"run '{run.id}': its checkpoint does not fit the model built from config.toml "
                           f"({type(error).__name__}: {error_line(error)})",
                           hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}") from None
    skipped = [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]
    iterations = state.get("optimizer_iterations")
    if skipped or (isinstance(iterations, int) and int(model.optimizer.iterations.numpy()) != iterations):
        raise RunError(f"run '{run.id}': the optimizer state in its checkpoint could not be restored"
                       + (f" ({skipped[0][:200]})" if skipped else ""),
                       hint=f"start a new run from its config: zoo run --config {run.dir / 'config.toml'}")
    seeds = (state.get("rng") or {}).get("seed_generators")
    if seeds is not None and not restore_seed_generators(model, seeds):
        warnings.warn(f"run '{run.id}': the dropout random state in the checkpoint does not fit the model; "
                      "the resumed epochs use fresh dropout masks", stacklevel=2)
    prepared.first_epoch = int(state["epochs_done"])
    prepared.rows = [dict(row) for row in state["history"]]
    prepared.snapshots = checkpoint_snapshots(directory, state)  # lost: the callbacks start anew at this epoch
    prepared.checkpoint = state


def checkpoint_snapshots(directory: Path, state: dict) -> list:
    """The weight snapshots of a checkpoint; none (with a warning) if its weights file is missing or damaged.

    The file only feeds the weight-distribution plot: losing it costs that
    plot its epochs before the resume, never the resume.
    """
    if not state.get("weights"):
        return []
    weights_file = directory / str(state["weights"])
    problem = "is missing" if not weights_file.is_file() else None
    if problem is None:
        try:
            return read_weights_npz(weights_file)[: state["epochs_done"] + 1]
        except Exception as error:  # noqa: BLE001 - a truncated zip raises BadZipFile, zlib.error, EOFError...
            problem = f"is damaged ({type(error).__name__})"
    print(f"zoo: warning: {weights_file} {problem}; the weight-distribution plot starts at epoch "
          f"{state['epochs_done']} (the model and optimizer state are restored)", file=sys.stderr, flush=True)
    return []
