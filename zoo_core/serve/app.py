"""The ASGI app of ``zoo serve`` (Starlette): TF Serving's REST API, the upload endpoint, the page, health, metrics.

Routes (docs/serve.md has the bodies):

- ``GET /`` the page; ``GET /healthz``; ``GET /metrics`` (Prometheus);
- ``GET /models``: the served models with their records (what the page lists);
- ``GET /v1/models/NAME`` and ``GET /v1/models/NAME/metadata`` (TF Serving);
- ``POST /v1/models/NAME:predict`` with ``instances`` or ``inputs`` (TF Serving);
- ``POST /models/NAME/top-classes?k=5``: a PNG/JPEG image or CSV rows of raw features as the body.

Every refusal is a 4xx JSON answer ``{"error": ..., "hint": ...}``; an
unexpected failure is a 500 with ``{"error": "internal error ..."}`` (the
traceback goes to the server's log, never to the client), and the server goes
on serving.
"""

from __future__ import annotations

import hmac
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from zoo_core.errors import RequestError, ZooError
from zoo_core.predict import top_classes
from zoo_core.serve import tfserving
from zoo_core.serve.batching import Batcher
from zoo_core.serve.metrics import CONTENT_TYPE, Metrics
from zoo_core.serve.models import ServedModel
from zoo_core.serve.settings import ServeSettings
from zoo_core.serve.uploads import upload_examples

LOGGER = logging.getLogger(__name__)
#: The page at ``/``: one static HTML file with its script inline (nothing from a CDN).
PAGE = Path(__file__).parent / "page" / "index.html"
#: Paths open without the token: the page (it asks for the token) and the health check.
OPEN_PATHS = ("/", "/healthz")


class _Server:
    """What the endpoints share: the models, their batchers, the settings and the metrics."""

    def __init__(self, models: list[ServedModel], settings: ServeSettings) -> None:
        self.models = {model.name: model for model in models}
        self.settings = settings
        self.metrics = Metrics()
        self.batchers = {model.name: Batcher(model.name, model.predictor.predict, settings.max_batch,
                                             settings.max_wait_ms / 1000,
                                             on_batch=lambda n, name=model.name: self.metrics.batched(name, n))
                         for model in models}

    def model(self, name: str) -> ServedModel:
        if name not in self.models:
            served = ", ".join(self.models) or "none"
            raise RequestError(404, f"no model named '{name}' is served here", hint=f"served: {served} (GET /models)")
        return self.models[name]

    async def body(self, request: Any) -> bytes:
        """The request body, refused (413) beyond ``max_body_bytes`` before more of it is read."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(int(declared), limit)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(None, limit)  # the rest is not read: its size is not known
            chunks.append(chunk)
        return b"".join(chunks)

    def check_token(self, request: Any) -> None:
        token = self.settings.token
        if token is None or request.url.path in OPEN_PATHS:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise RequestError(401, "this server needs a token" if not given else "the token is wrong",
                               hint="send the header 'Authorization: Bearer TOKEN' (the token zoo serve was given)")


def _too_large(size: int | None, limit: int) -> RequestError:
    told = f"{size:,} bytes" if size is not None else "more than that"
    return RequestError(413, f"the body is larger than the server takes (the limit is {limit:,} bytes; it has {told})",
                        hint="send fewer examples per request, or start zoo serve with a larger --max-body")


def _answer(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(content, status_code=status, headers=headers)


def _refusal(error: ZooError, status: int) -> Any:
    content = {"error": error.message}
    if error.hint:
        content["hint"] = error.hint
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _answer(content, status, headers)


Handler = Callable[[_Server, Any], Awaitable[Any]]


def _endpoint(server: _Server, name: str, handler: Handler) -> Callable[[Any], Awaitable[Any]]:
    """``handler`` behind the token check, with its refusals as JSON 4xx, its failures as 500, and counted."""

    async def endpoint(request: Any) -> Any:
        started = time.perf_counter()
        model = request.path_params.get("name", "")
        try:
            server.check_token(request)
            if model:
                model = server.model(model).name
            response = await handler(server, request)
        except RequestError as error:
            response = _refusal(error, error.status)
        except ZooError as error:  # e.g. a DataError from the model on these inputs: the request's problem
            response = _refusal(error, 400)
        except Exception:  # noqa: BLE001 - a bug: logged with its traceback here, a short answer there
            LOGGER.exception("zoo serve: %s %s failed", request.method, request.url.path)
            response = _answer({"error": "internal error: the server failed on this request (its log has the details)"},
                               500)
        model = model if model in server.models else ""
        server.metrics.answered(model, name, response.status_code, time.perf_counter() - started)
        return response

    return endpoint


async def _page(server: _Server, request: Any) -> Any:
    from starlette.responses import HTMLResponse

    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


async def _healthz(server: _Server, request: Any) -> Any:
    return _answer({"status": "ok", "models": list(server.models)})


async def _metrics(server: _Server, request: Any) -> Any:
    from starlette.responses import Response

    return Response(server.metrics.text(), media_type=CONTENT_TYPE)


async def _models(server: _Server, request: Any) -> Any:
    return _answer({"models": [_card(model) for model in server.models.values()]})


def _card(model: ServedModel) -> dict[str, Any]:
    contract = model.contract
    return {"name": model.name, "format": model.format, **model.card,
            "input": {key: contract.get(key) for key in ("input_shape", "channels", "image", "feature_names")},
            "class_names": model.class_names}


async def _status(server: _Server, request: Any) -> Any:
    return _answer(tfserving.status(server.model(request.path_params["name"])))


async def _metadata(server: _Server, request: Any) -> Any:
    return _answer(tfserving.metadata(server.model(request.path_params["name"])))


async def _predict(server: _Server, request: Any) -> Any:
    model = server.model(request.path_params["name"])
    body = tfserving.read_json(await server.body(request))
    examples, key = tfserving.predict_examples(body, model)
    probabilities = await server.batchers[model.name].predict(examples)
    return _answer({key: probabilities.tolist()})


async def _top_classes(server: _Server, request: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    model = server.model(request.path_params["name"])
    k = _k(request.query_params.get("k"), server.settings.top_k)
    body = await server.body(request)
    examples = await run_in_threadpool(upload_examples, body, request.headers.get("content-type", ""), model)
    probabilities = await server.batchers[model.name].predict(examples)
    names = model.class_names
    return _answer({"model": model.name, "format": model.format,
                    "top_classes": [top_classes(row, names, k) for row in probabilities]})


def _k(text: str | None, default: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise RequestError(400, f"k={text!r} is not a number of classes", hint="give k between 1 and 1000, e.g. ?k=3")
    return int(text)


async def _not_found(request: Any, error: Exception) -> Any:
    status = getattr(error, "status_code", 404)
    what = "no such endpoint" if status == 404 else f"{request.method} is not allowed here"
    return _answer({"error": f"{what}: {request.method} {request.url.path}",
                    "hint": "GET /models lists the models; docs/serve.md lists the endpoints"}, status)


def create_app(models: list[ServedModel], settings: ServeSettings) -> Any:
    """The Starlette app serving ``models`` (already loaded) with ``settings``."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.routing import Route

    server = _Server(models, settings)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        for batcher in server.batchers.values():
            batcher.start()
        yield
        for batcher in server.batchers.values():  # after the last request in flight is answered
            await batcher.stop()

    def route(path: str, name: str, handler: Handler, method: str = "GET") -> Route:
        return Route(path, _endpoint(server, name, handler), methods=[method])

    routes = [
        route("/", "page", _page),
        route("/healthz", "healthz", _healthz),
        route("/metrics", "metrics", _metrics),
        route("/models", "models", _models),
        route("/v1/models/{name}", "status", _status),
        route("/v1/models/{name}/metadata", "metadata", _metadata),
        route("/v1/models/{name}:predict", "predict", _predict, "POST"),
        route("/models/{name}/top-classes", "top-classes", _top_classes, "POST"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _not_found})
    app.state.zoo = server
    return app
