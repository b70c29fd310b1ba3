"""The classic TensorFlow MNIST tutorial program, as written, timed per epoch.

The only changes from the tutorial: the data is read from the same
``mnist.npz`` that zoo ships (the tutorial downloads it, and this machine has
no network), and a callback records each epoch's wall time exactly as zoo
does (zoo_core.training.callbacks.EpochTimer: from the previous epoch's end,
or the start of training, to this epoch's end). Usage:
``python tutorial.py RESULT.json [EPOCHS]``.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

MNIST = Path(__file__).resolve().parent.parent / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz"


class EpochTimes(tf.keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []
        self.mark = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.seconds.append(now - self.mark)
        self.mark = now


def main() -> None:
    result_path = Path(sys.argv[1])
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    with np.load(MNIST) as data:
        (x_train, y_train), (x_test, y_test) = (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
    x_train, x_test = x_train / 255.0, x_test / 255.0

    model = tf.keras.models.Sequential([
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimes()
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1, callbacks=[timer], verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    result_path.write_text(json.dumps({"epoch_seconds": timer.seconds, "accuracy": accuracy, "loss": loss}))


if __name__ == "__main__":
    main()
