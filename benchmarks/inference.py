"""Latency and throughput of every exported variant of one zoo run.

Usage: ``python inference.py RUN_DIR RESULT.json``. Measures Keras's
compiled ``predict_on_batch`` (a traced graph, the fastest way to call a Keras
model; an eager ``model(x)`` call is several times slower), the SavedModel
serving signature and each ``.tflite`` file with ai_edge_litert: median
latency of one image, and images per second at batch 1,000.
"""

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

SINGLE_REPEATS = 300
BATCH = 1000


def median_seconds(call, repeats: int) -> float:
    for _ in range(10):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tflite_figures(path: Path, images: np.ndarray) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    detail = interpreter.get_input_details()[0]
    index = detail["index"]

    def prepared(batch: np.ndarray) -> np.ndarray:
        scale, zero = detail["quantization"]
        if detail["dtype"] in (np.int8, np.uint8) and scale:
            return np.clip(np.round(batch / scale + zero), np.iinfo(detail["dtype"]).min,
                           np.iinfo(detail["dtype"]).max).astype(detail["dtype"])
        return batch.astype(detail["dtype"])

    one = prepared(images[:1])
    interpreter.resize_tensor_input(index, one.shape)
    interpreter.allocate_tensors()

    def run_one():
        interpreter.set_tensor(index, one)
        interpreter.invoke()

    latency = median_seconds(run_one, SINGLE_REPEATS)
    many = prepared(images[:BATCH])
    interpreter.resize_tensor_input(index, many.shape)
    interpreter.allocate_tensors()

    def run_batch():
        interpreter.set_tensor(index, many)
        interpreter.invoke()

    batch_seconds = median_seconds(run_batch, 20)
    return {"latency_us": latency * 1e6, "images_per_second": BATCH / batch_seconds, "bytes": path.stat().st_size}


def main() -> None:
    run_dir, result_path = Path(sys.argv[1]), Path(sys.argv[2])
    with np.load(Path(__file__).resolve().parent.parent / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz") as data:
        images = (data["x_test"][:BATCH] / 255.0).astype(np.float32)
    results = {}
    for path in sorted((run_dir / "exports").glob("*.tflite")):
        variant = path.stem.split("-")[-1] if "-" in path.stem else path.stem
        results[f"tflite {variant}"] = tflite_figures(path, images)

    import keras
    import tensorflow as tf

    model = keras.models.load_model(run_dir / "model.keras", safe_mode=True)
    one, many = tf.constant(images[:1]), tf.constant(images)
    results["keras predict_on_batch"] = {  # compiled on the first calls (median_seconds warms up first)
        "latency_us": median_seconds(lambda: model.predict_on_batch(images[:1]), 100) * 1e6,
        "images_per_second": BATCH / median_seconds(lambda: model.predict_on_batch(images), 10),
        "bytes": (run_dir / "model.keras").stat().st_size}
    versions = sorted((run_dir / "exports").glob("*/[0-9]*"))
    if versions:
        serving = tf.saved_model.load(str(versions[-1])).signatures["serving_default"]
        name = list(serving.structured_input_signature[1])[0]
        results["savedmodel"] = {
            "latency_us": median_seconds(lambda: serving(**{name: one}), 100) * 1e6,
            "images_per_second": BATCH / median_seconds(lambda: serving(**{name: many}), 10),
            "bytes": sum(p.stat().st_size for p in versions[-1].rglob("*") if p.is_file())}
    result_path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
