"""Run the app under uvicorn until SIGTERM or Ctrl-C, then finish the requests in flight and stop.

The socket is bound here (not by uvicorn) so that a port already taken is a
clear error before anything is served, and port 0 gives a free port that is
announced.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Callable

from zoo_core.errors import ConfigError
from zoo_core.serve.models import ServedModel
from zoo_core.serve.settings import ServeSettings


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; ConfigError for an unknown host or a port in use."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                 flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise ConfigError(f"--host '{host}' is not an address of this machine ({error.strerror})",
                          hint="e.g. --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface)") from None
    listener = socket.socket(family, kind, protocol)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(2048)
    except OSError as error:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}",
                          hint="choose another --port (0 takes any free one), or stop what is using it") from None
    listener.set_inheritable(True)
    return listener


def url_of(listener: socket.socket) -> str:
    """``http://HOST:PORT`` of a bound socket (IPv6 hosts in brackets)."""
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(models: list[ServedModel], settings: ServeSettings, announce: Callable[[str], None] = print) -> None:
    """Serve ``models`` until SIGTERM or SIGINT; requests in flight then get up to ``grace_seconds`` to finish.

    ``announce`` is told the URL (``serving at http://127.0.0.1:8501``) once
    the socket listens, before the first request is taken.
    """
    import uvicorn

    from zoo_core.serve.app import create_app

    settings.check()
    listener = bind(settings.host, settings.port)
    config = uvicorn.Config(create_app(models, settings), log_level="warning", access_log=False,
                            timeout_graceful_shutdown=settings.grace_seconds, lifespan="on",
                            limit_concurrency=None, server_header=False)
    server = uvicorn.Server(config)
    announce(f"serving at {url_of(listener)}")
    try:
        asyncio.run(server.serve(sockets=[listener]))
    finally:
        listener.close()
