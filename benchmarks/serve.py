"""A bounded load on ``zoo serve`` at 127.0.0.1, with and without server-side batching.

Usage::

    python benchmarks/serve.py MODEL [--requests 10000] [--clients 32] [--format tflite-int8]
                               [--runs-dir runs] [--out benchmarks/results/serve.json]

MODEL is what ``zoo serve`` takes (a recipe name, a run, a ``.tflite`` file).
For each mode (batching: ``--max-batch 32 --max-wait-ms 2``; none:
``--max-batch 1``) a real ``zoo serve`` process is started on a free port and
``--clients`` keep-alive connections send ``--requests`` TF Serving predict
requests in all, one MNIST test image each (``{"instances": [image / 255]}``);
then one client sends 1,000 requests one after the other, without batching.
Reported: errors (any answer but 200, or a wrong class count), p50/p99
latency, requests per second, the server's resident memory after the first
1,000 requests and at the end, and, for comparison, the same model file
called in-process (one image per call, through ``zoo_core.predict``), so the
server's overhead per request shows. The clients are asyncio streams in one
process on the same machine: they share its cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MNIST = Path(__file__).resolve().parents[1] / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz"
#: The modes measured: the server's flags, and whether the load is --clients concurrent clients or one client
#: sending one request after another (whose latency is the model's plus the server's overhead per request).
MODES = {"batching": (["--max-batch", "32", "--max-wait-ms", "2"], True),
         "no batching": (["--max-batch", "1"], True),
         "one client, no batching": (["--max-batch", "1"], False)}
#: Requests of the one-client mode.
SEQUENTIAL_REQUESTS = 1000
RSS_EVERY = 1000


def start_server(model: str, extra: list[str]) -> tuple[subprocess.Popen, str, str]:
    """``zoo serve MODEL --port 0 EXTRA``: the process, its URL and the model's name."""
    process = subprocess.Popen(["zoo", "serve", f"bench={model}", "--port", "0", *extra],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines = []
    while True:
        line = process.stderr.readline()
        lines.append(line)
        found = re.search(r"serving at (http://\S+?):? ", line)
        if found:
            return process, found.group(1), "bench"
        if not line and process.poll() is not None:
            sys.exit("zoo serve stopped:\n" + "".join(lines))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def client(host: str, port: int, path: str, bodies: list[bytes], queue: asyncio.Queue,
                 latencies: list[float], errors: list[str], done: list[int], on_done) -> None:
    """One keep-alive connection sending requests until the queue is empty."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = bodies[index % len(bodies)]
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if b" 200 " not in status_line or len(json.loads(answer)["predictions"][0]) != 10:
                errors.append(status_line.decode().strip())
            done[0] += 1
            on_done(done[0])
    finally:
        writer.close()


async def load(url: str, name: str, bodies: list[bytes], requests: int, clients: int, pid: int) -> dict:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    queue: asyncio.Queue = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    latencies: list[float] = []
    errors: list[str] = []
    rss: dict[int, float] = {}
    done = [0]

    def on_done(count: int) -> None:
        if count % RSS_EVERY == 0:
            rss[count] = rss_mb(pid)

    started = time.perf_counter()
    await asyncio.gather(*(client(host, int(port), f"/v1/models/{name}:predict", bodies, queue, latencies, errors,
                                  done, on_done) for _ in range(clients)))
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"requests": len(latencies), "errors": len(errors), "error_examples": errors[:3],
            "seconds": round(seconds, 2), "requests_per_second": round(len(latencies) / seconds, 1),
            "p50_ms": round(1000 * ordered[len(ordered) // 2], 2),
            "p99_ms": round(1000 * ordered[int(len(ordered) * 0.99)], 2),
            "rss_mb": {str(count): round(value, 1) for count, value in sorted(rss.items())}}


def in_process(model_file: str, images: np.ndarray) -> dict:
    """The same model file called in this process: one image per call, and 32 per call."""
    from zoo_core.predict import load_predictor

    predictor = load_predictor(Path(model_file))
    x = images.astype(np.float32) / 255
    one_times, batch_times = [], []
    for index in range(2000):
        started = time.perf_counter()
        predictor.predict(x[index % len(x)][np.newaxis])
        one_times.append(time.perf_counter() - started)
    for index in range(200):
        start = (index * 32) % (len(x) - 32)
        started = time.perf_counter()
        predictor.predict(x[start:start + 32])
        batch_times.append(time.perf_counter() - started)
    return {"one_image_median_us": round(1e6 * statistics.median(one_times), 1),
            "batch_32_median_us": round(1e6 * statistics.median(batch_times), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--format", default="tflite-int8")
    parser.add_argument("--runs-dir", default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "serve.json")
    arguments = parser.parse_args()
    with np.load(MNIST) as data:
        images = data["x_test"][:1000]
    bodies = [json.dumps({"instances": [(image / 255).round(4).tolist()]}).encode() for image in images]
    extra = ["--format", arguments.format] + (["--runs-dir", arguments.runs_dir] if arguments.runs_dir else [])
    result: dict = {"model": arguments.model, "format": arguments.format, "requests": arguments.requests,
                    "clients": arguments.clients, "load_average_before": round(os.getloadavg()[0], 1), "modes": {}}
    for mode, (flags, concurrent) in MODES.items():
        process, url, name = start_server(arguments.model, extra + flags)
        requests, clients = (arguments.requests, arguments.clients) if concurrent else (SEQUENTIAL_REQUESTS, 1)
        try:
            figures = asyncio.run(load(url, name, bodies, requests, clients, process.pid))
            with urllib_open(f"{url}/v1/models/{name}/metadata") as answer:
                result["model_file"] = json.loads(answer.read())["zoo"]["path"]
        finally:
            process.terminate()
            process.wait(60)
        result["modes"][mode] = {"clients": clients, **figures}
        print(f"{mode}: {json.dumps(figures)}", flush=True)
    result["in_process"] = in_process(result["model_file"], images)
    result["load_average_after"] = round(os.getloadavg()[0], 1)
    print(f"in process: {json.dumps(result['in_process'])}")
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {arguments.out}")


def urllib_open(url: str):
    import urllib.request

    return urllib.request.urlopen(url, timeout=30)


if __name__ == "__main__":
    main()
