"""What every REST-serving process needs: the listening sockets, the REST application
built from a loaded model, and uvicorn's configuration (httptools parser, uvloop loop).

The sockets are made here, not by uvicorn, so that a supervisor can create them once
and hand the same ones to several worker processes.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

import uvicorn

from modelserve.access_log import AccessLogApp
from modelserve.codecs.seldon import SeldonJsonCodec
from modelserve.dataplane import DataPlane
from modelserve.errors import StartupError
from modelserve.handlers.seldon import SeldonHandlers
from modelserve.handlers.v2 import V1Handlers, V2Handlers
from modelserve.metrics.recorder import ServerMetrics
from modelserve.model import LoadedModel
from modelserve.rest.app import RestApp
from modelserve.rest.v2 import add_v2_routes
from modelserve.settings import Settings

if TYPE_CHECKING:
    from modelserve.tracing.otel import Tracing

logger = logging.getLogger(__name__)

Scope = dict[str, Any]


def bind(host: str, port: int, listen: bool = True) -> socket.socket:
    """A TCP socket bound to host:port, listening unless told not to; a clear StartupError
    when the port is taken.

    ``listen=False`` holds a port that other processes will bind with SO_REUSEPORT (the
    gRPC workers): a busy port fails the start at once, and nobody is accepted here.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR if listen else socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    if listen:
        sock.listen(2048)
        sock.set_inheritable(True)
    return sock


def build_rest_app(model: LoadedModel, settings: Settings, metrics: ServerMetrics | None = None) -> RestApp:
    plane = DataPlane(model, settings, metrics)
    codec = SeldonJsonCodec(model.component.class_names, settings.request_path, settings.include_metrics_in_response)
    handlers = SeldonHandlers(plane, codec, settings.predictive_unit_id or "0", settings.include_metrics_in_response)
    app = RestApp(handlers, settings.max_body_size, settings.payload_passthrough)
    v2 = V2Handlers(plane, settings.model_name, settings.model_version)
    add_v2_routes(app, v2, V1Handlers(plane, v2))
    return app


def served_app(app: RestApp, settings: Settings, tracer: Tracing | None = None) -> Any:
    """The REST app as uvicorn serves it: inside the tracing and access-log wrappers when on,
    and closing every connection after its answer with ``--keepalive 0``."""
    served: Any = app if tracer is None else tracer.asgi(app)
    if settings.access_log:
        served = AccessLogApp(served)
    return served if settings.keepalive else CloseConnections(served)


class CloseConnections:
    """No keep-alive (gunicorn's ``--keepalive 0``): every answer says ``Connection: close``,
    and uvicorn closes the connection once the answer is sent."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)


class PortRouter:
    """One ASGI application per listening port, chosen by the connection's local port."""

    def __init__(self, apps: dict[int, Any]):
        self.apps = apps
        self.default = next(iter(apps.values()))

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        server = scope.get("server")
        app = self.apps.get(server[1], self.default) if server else self.default
        await app(scope, receive, send)


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_config=None,
        access_log=False,  # ours (modelserve/access_log.py) has the duration and the worker
        timeout_keep_alive=max(1, settings.keepalive),  # 0: CloseConnections, see served_app
        server_header=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout),
        limit_max_requests=None,
    )
