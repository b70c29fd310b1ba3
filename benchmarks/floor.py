"""The floor: a hand-written TensorFlow training loop for the tutorial's model, one ``tf.function`` per epoch.

What zoo's engine could reach at best on this machine for the same work:
the same model (Flatten, Dense 128 relu, Dropout 0.2, Dense 64 relu,
Dropout 0.2, Dense 10 softmax, Keras layers), the same optimizer (Keras Adam,
its defaults), sparse categorical cross-entropy, batch 32, on the same
54,000 training images as the tutorial and zoo (the first 90 % of MNIST's
training split). Nothing else: no validation pass, no metrics, no
callbacks, no checkpoint. One epoch is one call into TensorFlow: a
``tf.range`` loop over the batches of a stateless permutation seeded by
(seed, epoch), every batch gathered in the graph from one tensor; the
intra- and inter-op thread pools have one thread each.

With ``--fused`` the optimizer updates each weight with TensorFlow's fused
Adam kernel, as zoo's ``adam`` does by default
(plugins/zoo_plugins/optimizers/_fused_adam.py): the floor of zoo's engine as it is now.
Without it, Keras' own Adam (about twenty ops per weight): the floor as the
performance issue first defined it.

Usage: ``python floor.py RESULT.json [EPOCHS] [--fused]``; writes
``{"epoch_seconds": [...], "accuracy": ..., "loss": ...}``, each epoch timed
from the previous one's end as zoo and the tutorial do.
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import keras  # noqa: E402

MNIST = Path(__file__).resolve().parent.parent / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz"
BATCH, SEED, TRAINED_ON = 32, 42, 54_000


def model() -> keras.Model:
    """The tutorial's network, as Keras layers."""
    return keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])


def epoch_function(net: keras.Model, optimizer: keras.optimizers.Optimizer, x: tf.Tensor, y: tf.Tensor):
    """One tf.function that trains one whole epoch; returns the last batch's loss."""
    count = int(x.shape[0])
    steps = -(-count // BATCH)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    weights = net.trainable_variables

    @tf.function
    def epoch(number: tf.Tensor) -> tf.Tensor:
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64),
                                                         seed=tf.stack([tf.constant(SEED, tf.int64), number]))
        loss = tf.constant(0.0)
        for step in tf.range(steps):
            batch = order[step * BATCH: (step + 1) * BATCH]
            with tf.GradientTape() as tape:
                loss = loss_fn(tf.gather(y, batch), net(tf.gather(x, batch), training=True))
            optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    return epoch


def main() -> None:
    arguments = [argument for argument in sys.argv[1:] if argument != "--fused"]
    result_path = Path(arguments[0])
    epochs = int(arguments[1]) if len(arguments) > 1 else 10
    with np.load(MNIST) as data:
        x_train, y_train = data["x_train"][:TRAINED_ON], data["y_train"][:TRAINED_ON]
        x_test, y_test = data["x_test"], data["y_test"]
    x = tf.constant((x_train / 255.0).astype(np.float32))
    y = tf.constant(y_train.astype(np.int64))
    keras.utils.set_random_seed(SEED)
    net = model()
    optimizer = keras.optimizers.Adam()
    if "--fused" in sys.argv:
        from zoo_plugins.optimizers._fused_adam import use_fused_kernel

        use_fused_kernel(optimizer)
    optimizer.build(net.trainable_variables)
    epoch = epoch_function(net, optimizer, x, y)
    seconds, mark = [], time.perf_counter()
    for number in range(epochs):
        epoch(tf.constant(number, tf.int64)).numpy()
        now = time.perf_counter()
        seconds.append(now - mark)
        mark = now
    probabilities = net.predict((x_test / 255.0).astype(np.float32), batch_size=1024, verbose=0)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == y_test))
    loss = float(np.mean(keras.losses.sparse_categorical_crossentropy(y_test, probabilities)))
    result_path.write_text(json.dumps({"epoch_seconds": seconds, "accuracy": accuracy, "loss": loss}))


if __name__ == "__main__":
    main()
