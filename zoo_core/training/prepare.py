"""Everything before fit: check the settings, load the data, set up TensorFlow, build the model, load a checkpoint.

Every mistake found here costs no run directory: the runner creates one only
after :func:`prepare` succeeded.

Which data a run used: a run records ``data_fingerprint`` (sha256 of the
training and test arrays it used, after the sample limits) and, when known,
``data_source`` (the file or folder the dataset read) in manifest.json.
``zoo evaluate`` and ``zoo resume`` load the data again and refuse (exit
code 2) data whose fingerprint differs (:func:`check_same_data`): metrics of
other data would be recorded as the run's, and a resumed run would continue
on data it did not start with.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo_core._util.hashing import sha256_of_arrays
from zoo_core._util.text import error_line, printable
from zoo_core.components import REQUIRED
from zoo_core.data import check_dataset, limit
from zoo_core.errors import ConfigError, DataError, RunError, ZooError
from zoo_core.registry import ComponentChoice, Registry, RunConfig, recorded_plugins
from zoo_core.runs import Run, safe_name
from zoo_core.runs.checkpoint import damaged_zip, read_weights_npz
from zoo_core.runs.timings import PhaseClock
from zoo_core.training import engine
from zoo_core.training.extensions import check_callbacks, check_requirements
from zoo_core.training.strategy import Strategy
from zoo_core.training.threads import macs_per_example

#: Runs prepared in this process so far (the first one's phases start with the process's start-up).
_RUNS_PREPARED = 0
#: Disk space kept free beyond the estimate for checkpoints, the model and exports (plots, report, logs).
SPACE_MARGIN = 32 * 2**20


@dataclass
class Prepared:
    """A run ready to fit: data, model (compiled, optimizer built), and where training resumes."""

    dataset: Any
    split: Any
    loss: Any
    model: Any
    threads: int
    first_epoch: int = 0
    rows: list[dict] = field(default_factory=list)
    snapshots: list = field(default_factory=list)
    checkpoint: dict | None = None
    data_warnings: list[str] = field(default_factory=list)  #: what is wrong with the data's split, for manifest.json
    clock: PhaseClock = field(default_factory=PhaseClock)  #: the run's phases so far (manifest.json's timings)


def run_config(run: Run, registry: Registry, overrides: list[str] | None = None) -> RunConfig:
    """The run's config.toml (with ``overrides``, if any) resolved against the registry, to the very components
    it ran with.

    config.toml names every component as plugin:name; a run written before
    that has bare names, and a bare name that another plugin has registered
    since is bound to the plugin its manifest.json recorded.
    """
    manifest = run.manifest()
    return registry.run_from_table(run.config_table(), manifest.get("recipe", "adhoc"), str(run.dir / "config.toml"),
                                   overrides, recorded=recorded_plugins(manifest))


def load_dataset(config: RunConfig) -> Any:
    """Build the run's dataset, check its contract and apply the sample limits."""
    where = f"dataset '{config.dataset.ref}'"
    try:
        dataset = config.dataset.build()
        check_dataset(dataset, where)
    except DataError as error:
        if not error.hint:
            error.hint = (f"fix the data the dataset reads, or its parameters ('zoo show {config.dataset.component.name}' "
                          "lists them, e.g. --set dataset.path=...)")
        raise
    except MemoryError:
        raise DataError(f"{where}: not enough memory to load the data",
                        hint="the dataset loads all of its file before anything else (max_train_samples and "
                             "max_test_samples are applied afterwards, so they do not lower the memory needed); "
                             "use a smaller data file, or a machine with more memory") from None
    settings = config.settings
    return limit(dataset, settings["max_train_samples"], settings["max_test_samples"])


def bytes_needed(model: Any, config: RunConfig) -> int:
    """A generous estimate of the disk space a run needs: checkpoints, model.keras and exports."""
    import numpy as np

    optimizer = getattr(model, "optimizer", None)
    weights = sum(int(np.prod(v.shape)) for v in model.weights) * 4
    slots = sum(int(np.prod(v.shape)) for v in (optimizer.variables if optimizer is not None else [])) * 4
    checkpoint = weights + slots
    # two checkpoints exist while one is committed, plus model.keras; a SavedModel and each export
    # are about the weights' size (staged beside the destination, so twice while they move).
    return 3 * checkpoint + 2 * weights * (1 + len(config.exporters)) + SPACE_MARGIN


def prepare(config: RunConfig, strategy: Strategy, resume_from: tuple[Run, dict | None] | None = None) -> Prepared:
    """Load the data, set up TensorFlow, build and compile the model; for a resume, load the checkpoint."""
    global _RUNS_PREPARED
    clock = PhaseClock(from_process_start=_RUNS_PREPARED == 0)  # the first run of a process: its start-up counts
    _RUNS_PREPARED += 1
    clock.lap("startup")
    settings = config.settings
    check_requirements(config)  # an optional extra a component needs (tensorboard, mlflow) is installed
    dataset = load_dataset(config)
    if resume_from is None:  # a mistake in an exporter's parameters is known now, not after training
        check_exporters(config.exporters, dataset, config.recipe)
    else:  # a resumed run continues on the data it started with
        check_resumed_data(resume_from[0], config, dataset)
    info = dataset.info
    clock.lap("data")
    with engine.quiet_native_stderr():
        import tensorflow  # noqa: F401 - a phase of its own: 2 to 9 seconds, depending on the machine's day
    clock.lap("import tensorflow")
    threads = engine.configure_threads(
        math.prod(info.input_shape), settings["batch_size"], settings.get("threads", 0),
        before_start=strategy.before_runtime_start,
        macs_per_example=lambda: macs_per_example(lambda: config.architecture.build(tuple(info.input_shape),
                                                                                    info.num_classes)))
    check_callbacks(config, info)  # a callback's mistake in its parameters is known now (TensorFlow has started)
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(settings["seed"])
    if settings["deterministic"]:
        tf.config.experimental.enable_op_determinism()

    split = engine.split_validation(dataset.x_train, dataset.y_train, settings["validation_split"],
                                    settings["validation"], settings["seed"])
    problems = check_split(dataset, split, settings)
    with strategy.scope():  # model, optimizer and metrics in the strategy's scope (nothing without one)
        loss = config.loss.build()
        model = config.architecture.build(tuple(info.input_shape), info.num_classes)
        if not getattr(model, "built", True):  # a subclassed model: create its weights now (checkpoints need them)
            model.build((None, *info.input_shape))
        check_model(model, info, config.architecture.ref)
        model.compile(optimizer=config.optimizer.build(), loss=loss, metrics=["accuracy"])
        model.optimizer.build(model.trainable_variables)  # its state exists from the start (checkpoints, resume)
    prepared = Prepared(dataset, split, loss, model, threads, data_warnings=problems, clock=clock)
    if resume_from is not None and resume_from[1] is not None:
        load_checkpoint(prepared, *resume_from)
    clock.lap("model")
    return prepared


def check_split(dataset: Any, split: Any, settings: dict[str, Any]) -> list[str]:
    """Warn on stderr (once per command) about classes missing from the training or validation part, or sorted data."""
    found = engine.split_warnings(dataset.y_train, split, list(dataset.info.class_names), settings["validation"],
                                  settings["shuffle"])
    for line in found:
        print(f"zoo: warning: {printable(line)}", file=sys.stderr, flush=True)  # class names come from data files
    return found


def load_checkpoint(prepared: Prepared, run: Run, state: dict) -> None:
    """Put the checkpoint's weights, optimizer state and seed-generator states into the fresh model."""
    from zoo_core.training.callbacks import WeightSnapshots, load_variables, restore_seed_generators

    directory = run.dir / "checkpoint"
    model = prepared.model
    damage = damaged_zip(directory / state["model"])
    if damage is not None:
        raise RunError(f"run '{run.id}': its checkpoint model file {directory / state['model']} is damaged ({damage})",
                       hint=f"delete the folder {directory} and run 'zoo resume {run.dir}' again to train the run "
                            f"from epoch 1 in the same directory, or start a new run: "
                            f"zoo run --config {run.dir / 'config.toml'}")
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
    prepared.snapshots = checkpoint_snapshots(directory, state)
    if not prepared.snapshots and prepared.first_epoch > 0:  # lost: keep each later snapshot at its own epoch
        taker = WeightSnapshots()
        taker.set_model(model)
        taker.snapshot()
        prepared.snapshots = [{} for _ in range(prepared.first_epoch)] + taker.snapshots
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


class _ReachedTheWork(BaseException):
    """An exporter called by :func:`check_exporters` got past its parameter checks (a BaseException, so that
    an exporter's own ``except Exception`` does not take it for a failure)."""


class ParameterCheckContext:
    """What an exporter receives when zoo checks its parameters before any work.

    ``dataset``, ``model_name`` and ``metadata`` are real; reading ``model``
    or ``destination`` means the exporter has checked its parameters and
    starts working, so the check call ends there.
    """

    def __init__(self, dataset: Any, model_name: str) -> None:
        self.dataset, self.model_name, self.metadata = dataset, model_name, {}

    @property
    def model(self) -> Any:
        raise _ReachedTheWork

    @property
    def destination(self) -> Any:
        raise _ReachedTheWork


def check_exporters(exporters: list[ComponentChoice], dataset: Any, model_name: str,
                    set_prefix: str = "exporters.{name}.") -> None:
    """Call each exporter up to its first use of the model or destination: a mistake it finds is a ConfigError.

    The plugin guide asks factories to check their parameters at the top,
    before any work; so a range error (``max_abs_diff=-1``) is known before
    training (``zoo run``) or export (``zoo export``) starts, and exits with
    code 2 and a hint. ``set_prefix`` is how ``--set`` names the exporter's
    parameters in the command at hand (``{name}`` is the exporter's name). Any
    other failure is left to the real export, which records it.
    """
    for choice in exporters:
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the real export prints its warnings
                choice.build(ParameterCheckContext(dataset, safe_name(model_name)))
        except _ReachedTheWork:
            continue
        except ZooError as error:
            raise ConfigError(f"exporter '{choice.ref}' refuses its parameters: {error.message}",
                              hint=error.hint or _parameter_hint(choice, error.message,
                                                                  set_prefix.format(name=choice.ref))) from None
        except Exception:  # noqa: BLE001 - not a parameter check: the export itself reports it
            continue


def _parameter_hint(choice: ComponentChoice, message: str, set_prefix: str) -> str:
    """'e.g. --set exporters.savedmodel.max_abs_diff=1e-05 (the default)' for the parameter the message names."""
    listing = f"'zoo show {choice.component.name}' lists its parameters"
    for name, parameter in choice.component.parameters().items():
        if re.search(rf"\b{re.escape(name)}\b", message) and parameter.default not in (None, REQUIRED):
            return f"e.g. --set {set_prefix}{name}={json.dumps(parameter.default)} (the default); {listing}"
    return listing


def check_model(model: Any, info: Any, ref: str) -> None:
    """An architecture must output one probability per class."""
    shape = tuple(model.output_shape) if hasattr(model, "output_shape") else None
    if shape is not None and shape[-1] != info.num_classes:
        raise ConfigError(f"architecture '{ref}' outputs {shape[-1]} values per example, "
                          f"but the dataset has {info.num_classes} classes",
                          hint="the architecture must end in a softmax over num_classes")


# -- which data a run used ---------------------------------------------------------------

#: The parts of a fingerprint, in the order messages list them.
PARTS = ("train_sha256", "test_sha256")


def fingerprint(dataset: Any) -> dict[str, str]:
    """sha256 of the training and test arrays (data and labels) actually used."""
    return {"train_sha256": sha256_of_arrays((dataset.x_train, dataset.y_train)),
            "test_sha256": sha256_of_arrays((dataset.x_test, dataset.y_test))}


def data_source(config: RunConfig) -> str | None:
    """The file or folder the run's dataset reads, when zoo can tell; else None.

    A non-empty dataset parameter named ``path``, ``file`` or ``*_path``, else
    the environment variable ``ZOO_<DATASET>_PATH`` (e.g. ``ZOO_MNIST_PATH``)
    of the dataset's component, if set.
    """
    for name, value in config.dataset.params.items():
        if (name in ("path", "file") or name.endswith("_path")) and isinstance(value, str) and value:
            return value
    variable = f"ZOO_{config.dataset.component.name.upper().replace('-', '_')}_PATH"
    return os.environ.get(variable) or None


def check_resumed_data(run: Run, config: RunConfig, dataset: Any) -> None:
    """Refuse (DataError, exit code 2) to resume ``run`` on data other than those it started with."""
    check_same_data(run, fingerprint(dataset), data_source(config), f"zoo resume {run.id}",
                    hint="resume on the data the run started with (the dataset's path or its environment "
                         "variable as then), or start a new run on these data: "
                         f"zoo run --config {run.dir / 'config.toml'}")


def differing_parts(recorded: Any, found: dict[str, str]) -> list[str]:
    """The fingerprint parts that differ between the run's record and the data loaded now ([] if no record)."""
    if not isinstance(recorded, dict):
        return []
    return [part for part in PARTS if part in recorded and recorded[part] != found.get(part)]


def check_same_data(run: Run, found: dict[str, str], source: str | None, command: str, hint: str) -> None:
    """Refuse (DataError, exit code 2) data whose fingerprint differs from the one ``run`` recorded.

    ``found`` is :func:`fingerprint` of the data loaded now and ``source``
    where they came from (None if unknown); ``command`` starts the message
    (``zoo evaluate``), ``hint`` says what to do instead.
    """
    manifest = run.manifest()
    recorded = manifest.get("data_fingerprint")
    differing = differing_parts(recorded, found)
    if not differing:
        return
    sets = " and ".join(part.split("_")[0] for part in differing)
    then = manifest.get("data_source")
    raise DataError(
        f"{command}: the data loaded now are not the data run '{run.id}' used (its {sets} set differs)\n"
        f"  the run's data{f' (from {then!r})' if then else ''}: {describe(recorded)}\n"
        f"  the data now{f' (from {source!r})' if source else ''}: {describe(found)}",
        hint=hint)


def describe(record: dict[str, Any]) -> str:
    """'train_sha256=..., test_sha256=...' (the full digests)."""
    return ", ".join(f"{part}={record.get(part)}" for part in PARTS if part in record)

