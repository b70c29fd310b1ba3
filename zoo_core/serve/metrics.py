"""What ``GET /metrics`` reports, in Prometheus' text format (through prometheus_client).

- ``zoo_serve_requests_total{model, endpoint, code}``: requests answered;
- ``zoo_serve_errors_total{model, endpoint, code}``: those answered with a 4xx or 5xx;
- ``zoo_serve_request_seconds{model, endpoint}``: a histogram of the time to answer;
- ``zoo_serve_batch_examples{model}``: a histogram of the examples per call of the model.

``model`` is a served model's name, or empty when the request named none
(or an unknown one: a client cannot add labels). Each app has its own
registry, so two servers in one process (tests) do not mix their figures.
"""

from __future__ import annotations

from typing import Any

#: Bounds of the latency histogram, in seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
#: Bounds of the batch-size histogram, in examples.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: The Content-Type of the text format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """The server's counters and histograms, in a registry of their own."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("zoo_serve_requests", "Requests answered.", ["model", "endpoint", "code"],
                                registry=self.registry)
        self.errors = Counter("zoo_serve_errors", "Requests answered with an error (4xx or 5xx).",
                              ["model", "endpoint", "code"], registry=self.registry)
        self.latency = Histogram("zoo_serve_request_seconds", "Seconds to answer a request.", ["model", "endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch = Histogram("zoo_serve_batch_examples", "Examples per call of the model.", ["model"],
                               buckets=BATCH_BUCKETS, registry=self.registry)

    def answered(self, model: str, endpoint: str, code: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(model, endpoint, str(code)).inc()
        if code >= 400:
            self.errors.labels(model, endpoint, str(code)).inc()
        self.latency.labels(model, endpoint).observe(seconds)

    def batched(self, model: str, examples: int) -> None:
        """Count one call of a model on ``examples`` examples."""
        self.batch.labels(model).observe(examples)

    def text(self) -> Any:
        """The registry in Prometheus' text format (bytes)."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
