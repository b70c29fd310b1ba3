"""``zoo serve``: put models behind TF Serving's REST API, an upload endpoint and a page.

Composition only: the work is in :mod:`zoo_core.serve`. Neither TensorFlow
nor the ASGI stack is imported until the command runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from zoo_core.cli.app import app, err, handles_errors, shown
from zoo_core.serve.settings import AUTO, TOKEN_ENV, ServeSettings

#: The defaults of the options are the settings' own (zoo_core/serve/settings.py).
DEFAULTS = ServeSettings()

SERVE_MODELS_HELP = ("Runs (id or directory), recipe names (their latest completed run), .tflite or .onnx files or "
                     "SavedModel folders; NAME=MODEL serves one under another name.")
FORMAT_HELP = ("Which of a run's verified exports to serve: auto (the first of tflite-int8, tflite-float32, "
               "tflite-float16, tflite-dynamic, onnx, savedmodel, keras), or one of those; NAME=FORMAT for the "
               "model served as NAME (repeatable).")
HOST_HELP = "The address to listen on: 127.0.0.1 is this machine only; 0.0.0.0 every interface."
PORT_HELP = "The TCP port (0: any free port; the URL is printed)."
MAX_BATCH_HELP = "The most examples run through a model at once, across concurrent requests (1: no batching)."
MAX_WAIT_HELP = "How long a request waits for others to batch with, in milliseconds."
MAX_BODY_HELP = "The largest request body taken, in bytes (413 beyond)."
TOKEN_HELP = "Require 'Authorization: Bearer TOKEN' on every request but / and /healthz (401 without it)."
TOP_K_HELP = "Classes the upload endpoint answers unless the request says ?k=."
GRACE_HELP = "Seconds requests in flight may take to finish after SIGTERM or Ctrl-C."


@app.command("serve")
@handles_errors
def serve_command(
    references: List[str] = typer.Argument(..., metavar="MODEL...", help=SERVE_MODELS_HELP),
    formats: List[str] = typer.Option([AUTO], "--format", help=FORMAT_HELP),
    host: str = typer.Option(DEFAULTS.host, "--host", help=HOST_HELP),
    port: int = typer.Option(DEFAULTS.port, "--port", help=PORT_HELP),
    max_batch: int = typer.Option(DEFAULTS.max_batch, "--max-batch", help=MAX_BATCH_HELP),
    max_wait_ms: float = typer.Option(DEFAULTS.max_wait_ms, "--max-wait-ms", help=MAX_WAIT_HELP),
    max_body: int = typer.Option(DEFAULTS.max_body_bytes, "--max-body", help=MAX_BODY_HELP),
    token: Optional[str] = typer.Option(None, "--token", help=f"{TOKEN_HELP} Or set {TOKEN_ENV}."),
    top_k: int = typer.Option(DEFAULTS.top_k, "--top-k", help=TOP_K_HELP),
    grace: float = typer.Option(DEFAULTS.grace_seconds, "--grace", help=GRACE_HELP),
    runs_dir: Optional[Path] = typer.Option(None, "--runs-dir", help="The runs root (default ./runs, or $ZOO_RUNS_DIR)."),
) -> None:
    """Serve models over HTTP: TF Serving's REST API, top classes of an uploaded image or CSV row, a page at /."""
    from zoo_core.runs import runs_root
    from zoo_core.serve import require_serve_stack, serve, served_models
    from zoo_core.training.native_logs import quiet_native_stderr

    require_serve_stack()
    settings = ServeSettings(host=host, port=port, max_batch=max_batch, max_wait_ms=max_wait_ms,
                             max_body_bytes=max_body, token=token if token is not None else os.environ.get(TOKEN_ENV),
                             top_k=top_k, grace_seconds=grace).check()
    with quiet_native_stderr():  # TensorFlow's and TFLite's log lines; real errors still show
        models = served_models(list(references), runs_root(runs_dir), list(formats))
    for model in models:
        accuracy = model.card.get("accuracy")
        figures = f", test accuracy {accuracy:.4f}" if isinstance(accuracy, (int, float)) else ""
        err.print(f"{shown(model.name)}: {shown(model.format)} {shown(model.card.get('path', ''))}{figures}")

    def announce(line: str) -> None:
        token_note = " (token required)" if settings.token else ""
        err.print(f"{shown(line)}{token_note}: the page is at /, the API at /v1/models/NAME; Ctrl-C stops")

    serve(models, settings, announce)
