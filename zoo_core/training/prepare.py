"""Everything before fit: check the settings, load the data, set up TensorFlow, build the model, load a checkpoint.

Every mistake found here costs no run directory: the runner creates one only
after :func:`prepare` succeeded.

Which data a run used: a run records ``data_fingerprint`` (sha256 of the
training and test arrays it used, after the sample limits; for a streaming
dataset, of its files' bytes and labels) and, when known,
``data_source`` (the file or folder the dataset read) in manifest.json.
``zoo evaluate`` and ``zoo resume`` load the data again and refuse (exit
code 2) data whose fingerprint differs (:func:`check_same_data`): metrics of
other data would be recorded as the run's, and a resumed run would continue
on data it did not start with.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

from zoo_core._util.hashing import sha256_of_arrays, sha256_of_files
from zoo_core._util.text import printable
from zoo_core.components import PLURALS
from zoo_core.data import check_dataset, check_first_example, is_streaming, limit
from zoo_core.errors import ConfigError, DataError
from zoo_core.registry import Registry, RunConfig, recorded_plugins
from zoo_core.runs import Run, runs_root
from zoo_core.runs.timings import PhaseClock
from zoo_core.training.checkpointing import load_checkpoint
from zoo_core.training.freezing import freeze_layers
from zoo_core.training.initial_weights import find_source, load_matching
from zoo_core.training.native_logs import quiet_native_stderr
from zoo_core.training.parameter_checks import check_callbacks, check_exporters
from zoo_core.training.precision import choose_precision, dtype_policy, float32_output
from zoo_core.training.session import Prepared
from zoo_core.training.strategy import Strategy
from zoo_core.training.threads import StatelessBuild, configure_threads
from zoo_core.training.validation_split import split_validation, split_warnings

#: Runs prepared in this process so far (the first one's phases start with the process's start-up).
_RUNS_PREPARED = 0
#: Disk space kept free beyond the estimate for checkpoints, the model and exports (plots, report, logs).
SPACE_MARGIN = 32 * 2**20


def run_config(run: Run, registry: Registry, overrides: list[str] | None = None) -> RunConfig:
    """The run's config.toml (with ``overrides``, if any) resolved against the registry, to the very components
    it ran with.

    config.toml names every component as plugin:name; a run written before
    that has bare names, and a bare name that another plugin has registered
    since is bound to the plugin its manifest.json recorded. A run whose
    manifest.json a newer zoo wrote is refused (NewerFormat, exit code 2).
    """
    run.check_format()
    manifest = run.manifest()
    return registry.run_from_table(run.config_table(), manifest.get("recipe", "adhoc"), str(run.dir / "config.toml"),
                                   overrides, recorded=recorded_plugins(manifest))


def check_requirements(config: RunConfig) -> None:
    """A component whose optional extra is not installed: a ConfigError (exit 2) with the pip command, before any work."""
    for choice in config.choices():
        problem = choice.component.requirement_problem()
        if problem:
            raise ConfigError(f"{choice.kind} '{choice.ref}' {problem}",
                              hint=f"install it, or leave the {choice.kind} out of the run's {PLURALS[choice.kind]}")


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


def prepare(config: RunConfig, strategy: Strategy, resume_from: tuple[Run, dict | None] | None = None,
            root: Path | None = None) -> Prepared:
    """Load the data, set up TensorFlow, build and compile the model, load init_from's weights and freeze layers;
    for a resume, load the checkpoint instead. ``root`` is where init_from finds runs (the runs root)."""
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
    starting = resume_from is None or resume_from[1] is None  # a resume's checkpoint holds its weights
    source = find_source(settings["init_from"], runs_root(root) if resume_from is None else resume_from[0].dir.parent
                         ) if starting else None
    info = dataset.info
    clock.lap("data")
    with quiet_native_stderr():
        import tensorflow  # noqa: F401 - a phase of its own: 2 to 9 seconds, depending on the machine's day
    clock.lap("import tensorflow")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(settings["seed"])
    precision = choose_precision(settings["precision"])  # the architecture is built under its dtype policy
    with dtype_policy(precision):
        build = StatelessBuild(lambda: config.architecture.build(tuple(info.input_shape), info.num_classes))
    threads = configure_threads(math.prod(info.input_shape), settings["batch_size"], settings.get("threads", 0),
                                before_start=strategy.before_runtime_start, macs_per_example=build.macs_per_example())
    check_callbacks(config, info)  # a callback's mistake in its parameters is known now (TensorFlow has started)
    if is_streaming(dataset):  # a decode whose examples do not fit info.input_shape is known now, not mid-epoch
        check_first_example(dataset, f"dataset '{config.dataset.ref}'")
    if settings["deterministic"]:
        tf.config.experimental.enable_op_determinism()

    examples = dataset.train_files if is_streaming(dataset) else dataset.x_train  # files: decoded as they are read
    split = split_validation(examples, dataset.y_train, settings["validation_split"], settings["validation"],
                             settings["seed"])
    problems = check_split(dataset, split, settings)
    with strategy.scope():  # model, optimizer and metrics in the strategy's scope (nothing without one)
        loss = config.loss.build()
        with dtype_policy(precision):
            model = float32_output(_model(config, info, build, strategy))
        check_model(model, info, config.architecture.ref)
        model.compile(optimizer=config.optimizer.build(), loss=loss, metrics=["accuracy"])
        model.optimizer.build(model.trainable_variables)  # before freezing: a layer unfrozen later has its state
        initial = load_matching(model, source, list(info.class_names)) if source is not None else None
        frozen = freeze_layers(model, settings["freeze"])
    prepared = Prepared(dataset, split, loss, model, threads, data_warnings=problems, clock=clock,
                        initial_weights=initial, frozen=frozen, precision=precision)
    if resume_from is not None and resume_from[1] is not None:
        load_checkpoint(prepared, *resume_from)
    clock.lap("model")
    return prepared


def _model(config: RunConfig, info: Any, build: StatelessBuild, strategy: Strategy) -> Any:
    """The run's model: the stateless build, its variables created now; else the architecture built anew.

    Keras wants a model that a tf.distribute strategy trains created inside
    the strategy's scope, which exists only once the runtime has started:
    there (and for an architecture that cannot be built stateless) the
    stateless build only sized the thread pools, and the architecture is
    built again here, after the same seed.
    """
    import keras

    if build.model is not None and strategy.tf_strategy is None:
        model = build.keep()
    else:
        build.discard()
        keras.utils.set_random_seed(config.settings["seed"])
        model = config.architecture.build(tuple(info.input_shape), info.num_classes)
    if not getattr(model, "built", True):  # a subclassed model: create its weights now (checkpoints need them)
        model.build((None, *info.input_shape))
    return model


def check_split(dataset: Any, split: Any, settings: dict[str, Any]) -> list[str]:
    """Warn on stderr (once per command) about classes missing from the training or validation part, or sorted data."""
    found = split_warnings(dataset.y_train, split, list(dataset.info.class_names), settings["validation"],
                                  settings["shuffle"])
    for line in found:
        print(f"zoo: warning: {printable(line)}", file=sys.stderr, flush=True)  # class names come from data files
    return found


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
    """sha256 of the training and test arrays (data and labels) actually used; of a streaming dataset, of the bytes
    of its files (or the records themselves, for entries that are not files) and its labels, nothing decoded."""
    if is_streaming(dataset):
        return {"train_sha256": sha256_of_files(dataset.train_files, dataset.y_train, dataset.read),
                "test_sha256": sha256_of_files(dataset.test_files, dataset.y_test, dataset.read)}
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

