"""Random changes to training images (flip, rotation, zoom, translation, contrast, brightness), drawn per step.

A dataset declares them as an :class:`~zoo_core.augmentation.Augmentation` (for
``image-folder``, its ``random_*`` parameters); the input pipeline applies
:func:`augment` to each training batch, and to nothing else: validation,
the test metrics and every export see the images as they are.

The draws are stateless: those of global step ``s`` (``epoch * steps_per_epoch
+ step``) come from ``(seed, s)`` alone. The same seed gives the same augmented
batches; a resumed run augments exactly as an uninterrupted one; and a
replica that trains a slice of the global batch (``offset``, ``total``) draws
the very values a one-process run draws for those examples.

Everything here imports TensorFlow; nothing on the CLI fast path imports it.
"""

from __future__ import annotations

import math
from typing import Any

import tensorflow as tf

from zoo_core.augmentation import Augmentation

#: Random numbers drawn per example: flip left-right, flip up-down, rotation, zoom, shift x, shift y, contrast,
#: brightness (each uniform in [0, 1)).
_DRAWS = 8


def step_seed(seed: int, global_step: Any) -> Any:
    """The stateless seed of one training step: ``[seed, global_step]`` (int64)."""
    return tf.stack([tf.constant(seed, tf.int64), tf.cast(global_step, tf.int64)])


def augment(images: Any, augmentation: Augmentation, seed: Any, value_range: tuple[float, float],
            offset: Any = 0, total: Any = None) -> Any:
    """``images`` (a batch, ``(n, h, w)`` or ``(n, h, w, c)``) with the augmentation's random changes, float32.

    ``seed`` is :func:`step_seed` of the step; ``value_range`` the images'
    (low, high), which the result keeps (contrast and brightness are clipped
    to it). The draws are made for the step's whole batch of ``total``
    examples (default: ``n``); these images are its examples ``offset ..
    offset + n``.
    """
    images = tf.convert_to_tensor(images)
    grey = images.shape.rank == 3
    x = tf.cast(images[..., tf.newaxis] if grey else images, tf.float32)
    count = tf.shape(x, out_type=tf.int64)[0]
    offset = tf.cast(offset, tf.int64)
    total = count if total is None else tf.cast(total, tf.int64)
    draws = tf.random.stateless_uniform(tf.stack([total, _DRAWS]), seed=seed)[offset: offset + count]
    low, high = (float(value) for value in value_range)
    if augmentation.flip in ("horizontal", "both"):
        x = tf.where((draws[:, 0] < 0.5)[:, None, None, None], tf.reverse(x, axis=[2]), x)
    if augmentation.flip in ("vertical", "both"):
        x = tf.where((draws[:, 1] < 0.5)[:, None, None, None], tf.reverse(x, axis=[1]), x)
    if augmentation.rotation or augmentation.zoom or augmentation.translation:
        x = _transform(x, augmentation, draws)
    if augmentation.contrast:
        factor = 1.0 + augmentation.contrast * (2.0 * draws[:, 6] - 1.0)
        mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        x = (x - mean) * factor[:, None, None, None] + mean
    if augmentation.brightness:
        x = x + (augmentation.brightness * (high - low) * (2.0 * draws[:, 7] - 1.0))[:, None, None, None]
    if augmentation.contrast or augmentation.brightness:
        x = tf.clip_by_value(x, low, high)
    return x[..., 0] if grey else x


def _transform(x: Any, augmentation: Augmentation, draws: Any) -> Any:
    """Rotate, zoom and shift each image about its centre in one resampling (bilinear, edges reflected).

    Output pixel (u, v) takes the input at ``centre + z·R(a)·((u, v) - centre) +
    shift``: an angle ``a`` up to ±rotation of a full turn, a scale ``z`` in
    1 ± zoom (below 1 zooms in) and a shift up to ±translation of the width
    and height.
    """
    height, width = tf.shape(x)[1], tf.shape(x)[2]
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    angle = augmentation.rotation * 2.0 * math.pi * (2.0 * draws[:, 2] - 1.0)
    scale = 1.0 + augmentation.zoom * (2.0 * draws[:, 3] - 1.0)
    shift_x = augmentation.translation * w * (2.0 * draws[:, 4] - 1.0)
    shift_y = augmentation.translation * h * (2.0 * draws[:, 5] - 1.0)
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    a0, a1 = scale * tf.cos(angle), -scale * tf.sin(angle)
    b0, b1 = scale * tf.sin(angle), scale * tf.cos(angle)
    a2 = cx - a0 * cx - a1 * cy + shift_x
    b2 = cy - b0 * cx - b1 * cy + shift_y
    zeros = tf.zeros_like(angle)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=transforms, output_shape=tf.stack([height, width]), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")
