"""Steps per call into TensorFlow (Keras' ``steps_per_execution``): as much of an epoch as fits in a couple of
seconds, always a divisor of the epoch."""

from __future__ import annotations

import math

#: Longest a single call into TensorFlow should take: signals (Ctrl-C, an
#: orchestrator's SIGTERM) and the NaN check are acted on between calls.
MAX_SECONDS_PER_CALL = 2.0


def estimate_step_seconds(parameters: int, batch_size: int) -> float:
    """A cautious guess of one training step's time on one CPU core.

    About 6 floating-point operations per parameter and example (forward and
    backward), at a conservative 10 GFLOP/s, plus a fixed per-step cost.
    """
    return 3e-4 + 6.0 * parameters * batch_size / 1e10


def choose_steps_per_execution(steps_per_epoch: int, setting: int, live_progress: bool,
                               step_seconds: float = 0.0, cap: int | None = None) -> int:
    """Training steps per call into TensorFlow; always a divisor of the epoch's steps.

    ``setting`` > 0 is used as given (rounded to a divisor). Otherwise the
    aim is as much of an epoch as fits in MAX_SECONDS_PER_CALL in one call
    (an in-graph loop: the per-step Python and dispatch overhead is gone),
    and about a tenth of an epoch when a live progress bar needs updates.

    Keras runs exactly ``steps_per_execution`` steps per call, so a value
    that does not divide the epoch would carry the last call into the next
    epoch's batches; hence the divisor nearest the aim is taken. ``cap`` is
    the strategy's limit (``Strategy.max_steps_per_execution``: 1 under
    tf.distribute, keras-team/keras#19246), None for none.
    """
    aim = float(steps_per_epoch)
    if setting > 0:
        aim = float(setting)
    else:
        if step_seconds > 0:
            aim = min(aim, MAX_SECONDS_PER_CALL / step_seconds)
        if live_progress:
            aim = min(aim, steps_per_epoch / 10)
    aim = max(1.0, aim)
    divisors = [d for d in range(1, steps_per_epoch + 1) if steps_per_epoch % d == 0 and (cap is None or d <= cap)]
    return min(divisors, key=lambda d: (abs(math.log(d / aim)), -d))
