"""The ``precision`` setting: Keras' mixed precision, applied while a run's model is built, and undone after training.

A run with ``precision = "mixed_bfloat16"`` or ``"mixed_float16"`` builds
its architecture under that Keras dtype policy (:func:`dtype_policy`, which
puts the previous global policy back afterwards, so other runs in the same
process are not affected): layers compute in 16 bits, their variables stay
float32. The output is kept in float32 (:func:`float32_output`; the built-in
architectures' ``probabilities`` layer is float32 already), so the softmax
and the loss are computed in float32. Under ``mixed_float16`` Keras' compile
wraps the optimizer in a ``keras.optimizers.LossScaleOptimizer``.

After training the model computes in float32 again
(:func:`compute_in_float32`): evaluation, model.keras, ``zoo predict``,
``zoo bench`` and the exports see a float32 model with the trained weights.

:func:`usable_precision` falls back to float32, with a warning, where the
machine cannot run the request fast: bfloat16 on a CPU without bfloat16
instructions (and no GPU). float16 without a GPU trains, but slowly: a
warning says so (a config written for a GPU machine should still run on a
laptop, to check it, rather than be refused).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Iterator

#: /proc/cpuinfo flags of CPUs with bfloat16 arithmetic (x86: AVX-512 BF16, AMX; Arm: BF16).
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
#: The name the float32 layer added after a model whose output is not float32 gets.
FLOAT32_OUTPUT = "float32_probabilities"


def cpu_flags(path: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU's feature flags (x86 ``flags``, Arm ``Features``); None where they cannot be read (not Linux)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


def usable_precision(requested: str, has_gpu: bool, flags: set[str] | None) -> tuple[str, str | None]:
    """The precision a run uses for ``requested`` on this machine, and a warning to show (None: nothing to say).

    ``flags`` are :func:`cpu_flags` (None: unknown, the request is trusted).
    """
    if requested == "mixed_bfloat16" and not has_gpu and flags is not None and not flags & BF16_FLAGS:
        return "float32", ("precision 'mixed_bfloat16' needs a GPU or a CPU with bfloat16 instructions "
                           f"({', '.join(sorted(BF16_FLAGS))} in /proc/cpuinfo), and this machine has neither: "
                           "training in float32 instead (bfloat16 emulated on this CPU is slower than float32)")
    if requested == "mixed_float16" and not has_gpu:
        return requested, ("precision 'mixed_float16' without a GPU: CPUs compute float16 slowly, so this run will be "
                           "slower than in float32; it is meant for GPUs (on a CPU with bfloat16 instructions, "
                           "use precision = \"mixed_bfloat16\")")
    return requested, None


def choose_precision(requested: str) -> str:
    """The precision this machine uses for ``requested`` (:func:`usable_precision`); its warning goes to stderr.

    Imports TensorFlow (to list GPUs) only for a mixed precision.
    """
    if requested == "float32":
        return requested
    import tensorflow as tf

    from zoo_core.training.native_logs import quiet_native_stderr

    with quiet_native_stderr():  # CUDA's complaints on a machine without a GPU
        gpus = tf.config.list_physical_devices("GPU")
    used, warning = usable_precision(requested, bool(gpus), cpu_flags())
    if warning:
        print(f"zoo: warning: {warning}", file=sys.stderr, flush=True)
    return used


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Keras' global dtype policy is ``precision`` inside the block, and what it was before afterwards."""
    import keras

    before = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(before)


def float32_output(model: Any) -> Any:
    """``model``, or, when its output is not float32, the same model with a float32 linear layer after it.

    The softmax and the loss then see float32 values. The built-in
    architectures end in a float32 ``probabilities`` layer and are returned
    as they are; a model that is not functional is returned as it is.
    """
    import keras

    outputs = getattr(model, "outputs", None)
    if not outputs or len(outputs) != 1 or str(outputs[0].dtype) == "float32":
        return model
    output = keras.layers.Activation("linear", dtype="float32", name=FLOAT32_OUTPUT)(outputs[0])
    return keras.Model(model.inputs, output, name=model.name)


def compute_in_float32(model: Any) -> Any:
    """Make every layer of ``model`` compute in float32 (its variables are float32 already); return it.

    Its compiled functions are dropped: the next predict or evaluate traces
    them again, in float32.
    """
    for layer in _all_layers(model):
        if layer.dtype_policy.name != "float32":
            layer.dtype_policy = "float32"
    for name in ("predict_function", "test_function"):
        if hasattr(model, name):
            setattr(model, name, None)
    return model


def _all_layers(model: Any) -> list[Any]:
    """``model`` and every layer inside it, nested ones too."""
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=True, recursive=True))
    return [model, *getattr(model, "layers", [])]
