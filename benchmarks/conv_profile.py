"""Where a training step of a conv recipe goes: a timed breakdown, in float32 or mixed bfloat16.

For the recipe's architecture (built as ``zoo run`` builds it, under the
precision's Keras dtype policy) at the recipe's batch size, on MNIST, with
TensorFlow's default thread pools (what zoo chooses for these models):

- ``step``: zoo's training step as ``zoo run`` runs it (the batch gathered
  in the graph, the model's ``train_step`` with the recipe's optimizer, loss
  and the accuracy metric), ``STEPS`` steps in one ``tf.function``;
- ``input``: the gather of one batch from the training tensor alone;
- ``forward``, ``forward+backward``, ``forward+backward+optimizer``: the
  model called in training mode, then its gradients, then the optimizer's
  update, each as one ``tf.function`` over ``STEPS`` steps;
- ``layers``: each layer alone (its forward and its gradients with respect
  to its input and its weights), on an input of its real shape, grouped by
  kind (convolution, pooling, batch norm, dense, activation, ...), with the
  multiply-adds zoo counts (zoo_core.training.macs) for each kind.

Each figure is the best of ``REPEATS`` timings, in milliseconds of the
process's CPU time per step (``cpu_ms``: a loaded machine distorts it far
less than wall time; ``wall_ms_per_step`` has the whole step's wall times).
``macs`` counts every layer for one example (zoo bench's count); a training
step is about 3 × the forward's multiply-adds (forward, gradient of the
input, gradient of the weights), 2 FLOPs each.

Usage: ``python conv_profile.py RESULT.json RECIPE PRECISION [--macs-only]``.
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

STEPS, REPEATS = 10, 3
#: The best wall-clock milliseconds per step of each timing, in the order they were taken.
WALL: list = []
#: The kinds a step's time is grouped into, by layer class name (the rest: "other").
KINDS = {"Conv2D": "convolution", "DepthwiseConv2D": "convolution (depthwise)", "SeparableConv2D": "convolution",
         "MaxPooling2D": "pooling", "AveragePooling2D": "pooling", "GlobalAveragePooling2D": "pooling",
         "BatchNormalization": "batch norm", "Dense": "dense", "Activation": "activation", "ReLU": "activation",
         "Add": "add", "Dropout": "dropout", "SpatialDropout2D": "dropout", "RandomTranslation": "random shift",
         "Flatten": "reshape", "Reshape": "reshape", "InputLayer": "input"}


def best_ms(function, *arguments, steps: int = STEPS) -> float:
    """Best CPU milliseconds per step of ``function(*arguments)`` (which runs ``steps`` steps), after a warm-up.

    CPU time of the process (all of TensorFlow's threads), which a machine
    loaded by other programs distorts far less than wall time; the best
    wall time of the same repeats goes to ``WALL`` under the same key.
    """
    function(*arguments)
    cpu, wall = [], []
    for _ in range(REPEATS):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function(*arguments)
        if hasattr(result, "numpy"):
            result.numpy()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    WALL.append(1000 * min(wall) / steps)
    return 1000 * min(cpu) / steps


def recipe_parts(recipe: str):
    """The recipe's run config and its dataset (zoo's own registry and MNIST)."""
    from zoo_core.workspace import Workspace

    config = Workspace().registry().resolve_recipe(recipe)
    return config, config.dataset.build()


def whole_step(model, features, labels, batch: int) -> dict:
    """zoo's step, the input alone, forward, forward+backward and the optimizer, in ms per step."""
    import tensorflow as tf

    count = features.shape[0]
    indices = tf.random.stateless_uniform((STEPS, batch), (1, 2), maxval=count, dtype=tf.int64)

    @tf.function
    def zoo_steps(indices):
        for step in tf.range(STEPS):
            model.train_step((tf.gather(features, indices[step]), tf.gather(labels, indices[step])))
        return model.get_metrics_result()["loss"]

    @tf.function
    def gathers(indices):
        total = tf.constant(0.0)
        for step in tf.range(STEPS):
            total += tf.reduce_sum(tf.gather(features, indices[step])[:, 0, 0])
        return total

    def loss_of(step):
        x, y = tf.gather(features, indices[step]), tf.gather(labels, indices[step])
        return model.compute_loss(x=x, y=y, y_pred=model(x, training=True))

    @tf.function
    def forward(indices):
        total = tf.constant(0.0)
        for step in tf.range(STEPS):
            total += tf.cast(loss_of(step), tf.float32)
        return total

    @tf.function
    def backward(indices, apply: bool):
        total = tf.constant(0.0)
        for step in tf.range(STEPS):
            with tf.GradientTape() as tape:
                loss = loss_of(step)
            gradients = tape.gradient(loss, model.trainable_variables)
            if apply:
                model.optimizer.apply(gradients, model.trainable_variables)
            else:
                total += tf.add_n([tf.reduce_sum(tf.cast(g, tf.float32)) for g in gradients])
        return total

    return {"step": best_ms(zoo_steps, indices), "input": best_ms(gathers, indices),
            "forward": best_ms(forward, indices), "forward+backward": best_ms(backward, indices, False),
            "forward+backward+optimizer": best_ms(backward, indices, True)}


def layer_times(model, batch: int) -> dict:
    """Each layer alone, forward and gradients, on a random input of its shape: ms per step and MACs, by kind."""
    import tensorflow as tf

    from zoo_core.training.macs import layer_macs

    kinds: dict = {}
    for layer in model.layers:
        kind = KINDS.get(type(layer).__name__, "other")
        if kind == "input":
            continue
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        xs = [tf.cast(tf.random.uniform((batch, *t.shape[1:])), t.dtype) for t in inputs]
        macs = layer_macs(type(layer).__name__, layer.get_config(), [t.shape for t in inputs], layer.output.shape) or 0

        @tf.function
        def run(xs, layer=layer):
            total = tf.constant(0.0)
            for _ in tf.range(STEPS):
                with tf.GradientTape() as tape:
                    tape.watch(xs)
                    out = layer(xs if len(xs) > 1 else xs[0], training=True)
                    loss = tf.reduce_sum(tf.cast(out, tf.float32))
                sources = [*xs, *layer.trainable_variables]
                gradients = tape.gradient(loss, sources, unconnected_gradients=tf.UnconnectedGradients.ZERO)
                total += tf.add_n([tf.reduce_sum(tf.cast(g, tf.float32)) for g in gradients])
            return total

        try:
            ms = best_ms(run, xs)
        except (LookupError, TypeError):  # no gradient registered (an augmentation op): its forward alone
            @tf.function
            def forward_only(xs, layer=layer):
                total = tf.constant(0.0)
                for _ in tf.range(STEPS):
                    total += tf.reduce_sum(tf.cast(layer(xs[0], training=True), tf.float32))
                return total

            ms = best_ms(forward_only, xs)
            kind += " (forward only)"
        entry = kinds.setdefault(kind, {"cpu_ms": 0.0, "macs_per_example": 0, "layers": 0})
        entry["cpu_ms"] += ms
        entry["macs_per_example"] += int(macs)
        entry["layers"] += 1
    return kinds


def main() -> None:
    result_path, recipe, precision = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    macs_only = "--macs-only" in sys.argv
    import keras
    import numpy as np

    from zoo_core.training.macs import model_macs
    from zoo_core.training.precision import dtype_policy, float32_output

    config, dataset = recipe_parts(recipe)
    batch = int(config.settings["batch_size"])
    keras.utils.set_random_seed(int(config.settings["seed"]))
    with dtype_policy(precision):
        model = float32_output(config.architecture.build(tuple(dataset.info.input_shape), dataset.info.num_classes))
    macs, uncounted = model_macs(model)
    result = {"recipe": recipe, "precision": precision, "batch_size": batch, "macs_per_example": macs,
              "uncounted": uncounted, "weights": int(model.count_params())}
    if not macs_only:
        import tensorflow as tf

        model.compile(optimizer=config.optimizer.build(), loss=config.loss.build(), metrics=["accuracy"])
        model.optimizer.build(model.trainable_variables)
        features = tf.constant(np.asarray(dataset.x_train, dtype=np.float32))
        labels = tf.constant(np.asarray(dataset.y_train))
        result["threads"] = tf.config.threading.get_intra_op_parallelism_threads()
        result["cpu_ms_per_step"] = whole_step(model, features, labels, batch)
        result["wall_ms_per_step"] = dict(zip(result["cpu_ms_per_step"], WALL))
        result["layers"] = layer_times(model, batch)
        result["load_average"] = os.getloadavg()
    result_path.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
