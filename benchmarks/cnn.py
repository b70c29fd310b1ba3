"""A LeNet-like conv net on a slice of MNIST: zoo's thread choice and training loop against a plain Keras fit.

The model: Conv2D 32 (3×3, relu), Conv2D 64 (3×3, relu), MaxPooling 2×2,
Flatten, Dense 128 relu, Dense 10 softmax; Adam, sparse categorical
cross-entropy, batch 32, the first ``IMAGES`` training images, no
validation. Modes (one per process: TensorFlow's thread pools are sized
once per process):

- ``keras``: ``model.fit(x, y, batch_size=32)`` with TensorFlow's default
  thread pools and Keras' defaults (one step per call);
- ``zoo``: zoo's thread choice (zoo_core.training.threads.configure_threads
  with the model's multiply-adds, zoo_core.training.macs), zoo's
  training loop (zoo_core.training.loop: index blocks, steps per call
  chosen as ``zoo run`` does) and zoo's built-in ``adam`` (Keras' Adam
  with the fused update kernel, plugins/zoo_plugins/optimizers/_fused_adam.py), as
  ``zoo run`` trains it;
- ``zoo-1-thread``: the same with one thread per pool (what zoo chose for
  any 28×28 input before it counted the model's multiply-adds).

Usage: ``python cnn.py RESULT.json MODE [EPOCHS]``; writes
``{"epoch_seconds": [...], "threads": ..., "accuracy": ...}``.
"""

import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

MNIST = Path(__file__).resolve().parent.parent / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz"
IMAGES, BATCH, SEED = 3000, 32, 42


def lenet():
    """The LeNet-like network (imports Keras: call after the thread pools are set)."""
    import keras

    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def threads_for(mode: str) -> int:
    """Set the thread pools as the mode says; return the intra-op count (0: TensorFlow's default)."""
    if mode == "keras":
        import tensorflow as tf

        return tf.config.threading.get_intra_op_parallelism_threads()
    from zoo_core.training.threads import configure_threads, macs_per_example

    return configure_threads(28 * 28, BATCH, 1 if mode == "zoo-1-thread" else 0, macs_per_example=macs_per_example(lenet))


def main() -> None:
    result_path, mode = Path(sys.argv[1]), sys.argv[2]
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    threads = threads_for(mode)
    import keras

    with np.load(MNIST) as data:
        x = (data["x_train"][:IMAGES, :, :, None] / 255.0).astype(np.float32)
        y = data["y_train"][:IMAGES].astype(np.int64)
        x_test, y_test = (data["x_test"][:, :, :, None] / 255.0).astype(np.float32), data["y_test"]
    keras.utils.set_random_seed(SEED)
    model = lenet()
    if mode == "keras":
        optimizer = keras.optimizers.Adam()
    else:
        from zoo_plugins.optimizers.keras_optimizers import adam

        optimizer = adam()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    marks: list[float] = []
    timer = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: marks.append(time.perf_counter()),
                                           on_epoch_end=lambda epoch, logs: marks.append(time.perf_counter()))
    if mode == "keras":
        model.fit(x, y, batch_size=BATCH, epochs=epochs, callbacks=[timer], verbose=0)
    else:
        from zoo_core.training import execution, loop

        steps = math.ceil(len(x) / BATCH)
        model.steps_per_execution = execution.choose_steps_per_execution(
            steps, 0, live_progress=False, step_seconds=execution.estimate_step_seconds(model.count_params(), BATCH))
        stream = loop.index_blocks(len(x), BATCH, model.steps_per_execution, SEED, True, 0, epochs)
        loop.install_train_function(model, x, y, BATCH)
        model.fit(stream, epochs=epochs, steps_per_epoch=steps, callbacks=[timer], verbose=0, shuffle=False)
    probabilities = model.predict(x_test, batch_size=1024, verbose=0)
    result_path.write_text(json.dumps({
        "epoch_seconds": [after - before for before, after in zip(marks, marks[1:])], "threads": threads,
        "steps_per_execution": int(getattr(model, "steps_per_execution", 1) or 1),
        "accuracy": float(np.mean(np.argmax(probabilities, axis=1) == y_test))}))


if __name__ == "__main__":
    main()
