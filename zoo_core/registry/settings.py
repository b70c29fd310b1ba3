"""The training settings of a run (epochs, batch size, ...) and their checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Union

from zoo_core._util.text import suggest
from zoo_core._util.values import check_value
from zoo_core.components import Parameter, toml_literal, written_as
from zoo_core.errors import ConfigError

#: The largest value of an integer setting that TensorFlow takes as an int32.
MAX_INT_SETTING = 2**31 - 1


@dataclass(frozen=True)
class Setting:
    """One run setting: a typed parameter plus a range check.

    ``int32_example`` is set on integer settings TensorFlow takes as int32:
    a larger value is refused, and the hint suggests this example.
    """

    parameter: Parameter
    valid: Callable[[Any], bool] = lambda value: True
    rule: str = ""
    int32_example: int | None = None

    def check(self, value: Any, where: str) -> Any:
        """Return ``value`` checked against the setting's type and range, or raise ConfigError naming ``where``."""
        name = self.parameter.name
        try:
            value = check_value(self.parameter.annotation, value, f"{where}: setting '{name}'")
        except ConfigError as error:
            error.key = name
            error.hint = error.hint or f"e.g. {written_as(name, toml_literal(self.parameter.default), where, name)}"
            raise
        if not self.valid(value):
            raise ConfigError(
                f"{where}: setting '{name}' must be {self.rule}, got {value!r}",
                hint=f"e.g. {written_as(name, toml_literal(self.parameter.default), where, name)}", key=name,
            )
        if self.int32_example is not None and value > MAX_INT_SETTING:
            raise ConfigError(f"{where}: setting '{name}' is {value}, more than the largest allowed ({MAX_INT_SETTING})",
                              hint=f"e.g. {written_as(name, str(self.int32_example), where, name)}", key=name)
        return value


def _setting(name: str, annotation: Any, default: Any, help: str,
             valid: Callable[[Any], bool] = lambda value: True, rule: str = "",
             int32_example: int | None = None) -> Setting:
    return Setting(Parameter(name, annotation, default, help), valid, rule, int32_example)


SETTINGS: dict[str, Setting] = {
    s.parameter.name: s
    for s in [
        _setting("epochs", int, 10, "passes over the training data", lambda v: v >= 1, "at least 1", 10),
        _setting("batch_size", int, 32,
                 "examples per training step: the global batch, over all replicas and workers "
                 "(each replica computes batch_size / replicas)", lambda v: v >= 1, "at least 1", 32),
        _setting("validation_split", float, 0.1,
                 "fraction of the training data held out for validation (which part: the validation setting)",
                 lambda v: 0.0 <= v < 1.0, "in [0, 1)"),
        _setting("validation", Literal["last", "stratified"], "last",
                 "which part validation_split holds out: last (the last part, as Keras does; one class on data "
                 "sorted by class) or stratified (the same share of every class, drawn with the seed)"),
        _setting("seed", int, 42, "seed for weights, shuffling and dropout", lambda v: 0 <= v < 2**32,
                 "in [0, 2**32)"),
        _setting("shuffle", bool, True, "shuffle the training data every epoch"),
        _setting("max_train_samples", int, 0, "use only the first N training examples (0: all)",
                 lambda v: v >= 0, "0 or more", 1000),
        _setting("max_test_samples", int, 0, "use only the first N test examples (0: all)",
                 lambda v: v >= 0, "0 or more", 1000),
        _setting("steps_per_execution", int, 0,
                 "training steps per call into TensorFlow (0: a whole epoch, or a tenth of one under a live progress bar; "
                 "always 1 under a tf.distribute strategy)",
                 lambda v: v >= 0, "0 or more", 0),
        _setting("threads", int, 0,
                 "TensorFlow threads per op pool (0: one for small models, all cores for large ones)",
                 lambda v: v >= 0, "0 or more"),
        _setting("deterministic", bool, False,
                 "make TensorFlow ops deterministic (same seed, same metrics; a little slower)"),
        _setting("precision", Literal["float32", "mixed_bfloat16", "mixed_float16"], "float32",
                 "float32, or Keras mixed precision: layers compute in 16 bits, weights stay float32 "
                 "(mixed_bfloat16: CPUs with bfloat16 instructions and recent GPUs; mixed_float16: GPUs, with loss "
                 "scaling); the model is float32 again after training (exports, zoo predict)"),
        _setting("tensorboard", bool, False, "true adds the tensorboard callback (logs in the run's tensorboard/ "
                 "folder); kept for earlier configs: list it in callbacks instead"),
        _setting("progress", Literal["auto", "bar", "lines", "none"], "auto",
                 "how training progress is shown: a live bar on a terminal, lines otherwise"),
        _setting("strategy", Literal["none", "mirrored", "multi-worker", "auto"], "none",
                 "tf.distribute strategy: none, mirrored (all local GPUs), multi-worker (the cluster in TF_CONFIG "
                 "or --workers), auto (multi-worker if TF_CONFIG has several tasks, else mirrored on several GPUs); "
                 "docs/distributed.md"),
        _setting("init_from", str, "",
                 "start from trained weights: a run (directory, id, or a recipe's latest completed run), a .keras "
                 "model or a .weights.h5 file; every layer whose name and weight shapes match is loaded, the others "
                 "(a head of another class count) start anew; empty: random weights"),
        _setting("freeze", Union[Literal["none", "backbone"], list[str]], "none",
                 "layers whose weights do not train: none, backbone (all but the head: the layer probabilities and "
                 "layers named head*), or a list of layer names or glob patterns; a frozen BatchNorm layer keeps "
                 "its statistics (the fine-tune callback unfreezes)"),
        _setting("join_timeout", int, 300,
                 "multi-worker: seconds to wait for every worker to join (and for the chief) before giving up "
                 "with exit code 75", lambda v: v >= 1, "at least 1"),
    ]
}


def check_settings(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Every setting, with ``values`` checked and defaults filled in."""
    checked = {}
    for key, value in values.items():
        if key not in SETTINGS:
            raise ConfigError(f"{where}: unknown setting '{key}'", hint=suggest(key, list(SETTINGS), "settings"),
                              key=key)
        checked[key] = SETTINGS[key].check(value, where)
    for name, setting in SETTINGS.items():
        checked.setdefault(name, setting.parameter.default)
    return checked
