"""Adam's update in one TensorFlow kernel per weight, for the ``adam`` and ``adamw`` optimizers.

Keras 3's Adam updates each weight with about twenty small TensorFlow ops
(the bias correction, the two moments, the step). On a small model those
ops cost more than the arithmetic: for the tutorial's MLP at batch 32 they
are about a quarter of a training step on one CPU thread
(benchmarks/NOTES.md). TensorFlow has the same update as one kernel,
``ResourceApplyAdam``; this module makes a Keras Adam call it.

The update is Adam's, term for term in the same order (``m += (g - m)(1 -
beta_1)``, ``v += (g² - v)(1 - beta_2)``, ``w -= alpha m / (sqrt(v) +
epsilon)``, ``alpha`` the bias-corrected step), but not bit for bit: the
kernel computes ``1 - beta_2`` in float32 from float32's 0.999 (0.00100005),
where Keras rounds the float64 difference (0.001). The second moment's rate
differs by 5e-5 of itself; trained models agree to the noise of a run (the
tutorial's MLP: test accuracy 0.9798 either way, benchmarks/NOTES.md).

The optimizer stays a ``keras.optimizers.Adam`` (or ``AdamW``): its saved
config, its variables and a ``model.keras`` that holds it load in plain
Keras, without zoo. Only the instance's ``_backend_update_step`` (Keras 3's
per-step hook between clipping/weight decay and the iteration count: it
calls ``update_step`` for each weight) is replaced, so the bias correction
is computed once per step rather than once per weight.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def use_fused_kernel(optimizer: Any) -> Any:
    """Make a Keras ``Adam``/``AdamW`` update its weights with ``tf.raw_ops.ResourceApplyAdam``; returns it.

    Keras' own update does the step where the kernel does not apply:
    AMSGrad, a sparse gradient (``tf.IndexedSlices``, from an embedding), a
    weight that is not float32, and training under a tf.distribute strategy
    (whose mirrored variables Keras updates replica by replica). Weight
    decay (AdamW), clipping, gradient accumulation and the iteration count
    are Keras' as before.
    """
    keras_update_step = optimizer._backend_update_step

    def update_step(gradients: list[Any], variables: list[Any], learning_rate: Any) -> None:
        if not _fusable(optimizer, gradients, variables):
            return keras_update_step(gradients, variables, learning_rate)
        step = tf.cast(optimizer.iterations + 1, tf.float32)
        beta_1, beta_2 = tf.constant(optimizer.beta_1, tf.float32), tf.constant(optimizer.beta_2, tf.float32)
        beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
        learning_rate = tf.cast(learning_rate, tf.float32)
        epsilon = tf.constant(optimizer.epsilon, tf.float32)
        for gradient, variable in zip(gradients, variables):
            index = optimizer._get_variable_index(variable)
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=optimizer._momentums[index].handle, v=optimizer._velocities[index].handle,
                beta1_power=beta_1_power, beta2_power=beta_2_power, lr=learning_rate,
                beta1=beta_1, beta2=beta_2, epsilon=epsilon, grad=gradient)
        return None

    optimizer._backend_update_step = update_step
    return optimizer


def _fusable(optimizer: Any, gradients: list[Any], variables: list[Any]) -> bool:
    """Whether every update of this step can be the fused kernel (else Keras does the whole step)."""
    if optimizer.amsgrad or tf.distribute.has_strategy():
        return False
    return all(isinstance(gradient, tf.Tensor) and gradient.dtype == tf.float32 and variable.dtype == "float32"
               for gradient, variable in zip(gradients, variables))
