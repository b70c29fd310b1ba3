"""The settings of ``zoo serve`` (each a flag of the command), with their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from zoo_core.errors import ConfigError

#: ``--format``'s default: the first format a run has of ``zoo_core.serve.models.FORMAT_ORDER``.
AUTO = "auto"
#: The environment variable that holds the token when ``--token`` is not given.
TOKEN_ENV = "ZOO_SERVE_TOKEN"


@dataclass
class ServeSettings:
    """How the server listens, batches and protects itself.

    Attributes:
        host: the address to bind; 127.0.0.1 (this machine only) unless told otherwise.
        port: the TCP port (0: any free port; the server prints the one it got).
        max_batch: the most examples run through a model at once (1 turns batching off).
        max_wait_ms: how long the first request of a batch waits for others, in milliseconds.
        max_body_bytes: the largest request body taken (413 beyond).
        token: when set, every request but ``/`` and ``/healthz`` needs ``Authorization: Bearer TOKEN`` (401).
        top_k: how many classes the upload endpoint answers by default (``?k=`` changes it).
        grace_seconds: how long requests in flight may take to finish after SIGTERM/Ctrl-C.
    """

    host: str = "127.0.0.1"
    port: int = 8501
    max_batch: int = 32
    max_wait_ms: float = 2.0
    max_body_bytes: int = 10 * 1024 * 1024
    token: Optional[str] = None
    top_k: int = 5
    grace_seconds: float = 30.0

    def check(self) -> "ServeSettings":
        """The settings themselves; ConfigError naming the first flag out of its range."""
        limits = [("--port", self.port, 0, 65535), ("--max-batch", self.max_batch, 1, 65536),
                  ("--max-wait-ms", self.max_wait_ms, 0, 60_000), ("--max-body", self.max_body_bytes, 1, 2**40),
                  ("--top-k", self.top_k, 1, 1000), ("--grace", self.grace_seconds, 0, 3600)]
        for flag, value, low, high in limits:
            if not low <= value <= high:
                raise ConfigError(f"{flag} must be between {low} and {high} (got {value})")
        if self.token is not None and not self.token.strip():
            raise ConfigError("the token is empty", hint=f"give --token TEXT (or set {TOKEN_ENV}), or leave it out")
        return self
