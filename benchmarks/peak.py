"""The machine's peak: TensorFlow matrix multiply GFLOP/s in float32 and bfloat16, best of a few repeats.

A product of two N × N matrices is 2 N³ floating-point operations (N³
multiply-adds). The matrices are large (N = 4,096 by default: 137 GFLOP a
product) so that dispatch and memory traffic are negligible against the
arithmetic: what one process can get out of the cores with TensorFlow's
default thread pools (oneDNN), the ceiling for any training step.

Usage: ``python peak.py RESULT.json [N] [REPEATS]``; writes
``{"float32": GFLOP/s, "bfloat16": GFLOP/s, "n": N, "seconds": {...}}``.
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

N, REPEATS = 4096, 5


def gflops(dtype: str, n: int = N, repeats: int = REPEATS) -> tuple[float, list[float]]:
    """Best GFLOP/s of an n × n matmul in ``dtype`` over ``repeats`` (after one warm-up), and each repeat's seconds."""
    import tensorflow as tf

    a = tf.cast(tf.random.stateless_uniform((n, n), seed=(1, 2)), dtype)
    b = tf.cast(tf.random.stateless_uniform((n, n), seed=(3, 4)), dtype)
    product = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.linalg.matmul(x, y)[:1, :1], tf.float32)))
    product(a, b).numpy()  # trace and warm up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        seconds.append(time.perf_counter() - start)
    return 2 * n**3 / min(seconds) / 1e9, seconds


def main() -> None:
    result = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else N
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else REPEATS
    figures: dict = {"n": n, "repeats": repeats, "seconds": {}}
    for dtype in ("float32", "bfloat16"):
        figures[dtype], figures["seconds"][dtype] = gflops(dtype, n, repeats)
    result.write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
