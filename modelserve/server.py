"""Running one serving process: build the application from a loaded model and serve it
on listening sockets with uvicorn (httptools parser, uvloop event loop).

The sockets are made here, not by uvicorn, so that a supervisor can create them once
and hand the same ones to several worker processes.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import uvicorn

from modelserve.codecs.seldon import SeldonJsonCodec
from modelserve.dataplane import DataPlane
from modelserve.errors import StartupError
from modelserve.handlers.seldon import SeldonHandlers
from modelserve.metrics import MetricsApp
from modelserve.model import LoadedModel
from modelserve.rest.app import RestApp
from modelserve.settings import Settings

logger = logging.getLogger(__name__)

Scope = dict[str, Any]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; a clear StartupError when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def build_rest_app(model: LoadedModel, settings: Settings) -> RestApp:
    plane = DataPlane(model, settings)
    request_path = (
        {settings.predictive_unit_id: settings.predictive_unit_image or ""} if settings.predictive_unit_id else {}
    )
    codec = SeldonJsonCodec(model.component.class_names, request_path, settings.include_metrics_in_response)
    handlers = SeldonHandlers(plane, codec, settings.predictive_unit_id or "0", settings.include_metrics_in_response)
    return RestApp(handlers, settings.max_body_size, settings.payload_passthrough)


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
        access_log=settings.access_log,
        timeout_keep_alive=max(1, settings.keepalive),
        server_header=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout),
        limit_max_requests=None,
    )


def serve(model: LoadedModel, settings: Settings) -> None:
    """Serve REST and metrics in this process until SIGTERM or SIGINT."""
    if settings.http_port == settings.metrics_port:
        raise StartupError(f"the HTTP and metrics ports must differ (both {settings.http_port})")
    rest = build_rest_app(model, settings)
    metrics = MetricsApp(settings.metrics_endpoint)
    sockets = [bind(settings.host, settings.http_port), bind(settings.host, settings.metrics_port)]
    app = PortRouter({settings.http_port: rest, settings.metrics_port: metrics})
    logger.info(
        "serving %s: REST on %s:%d, metrics on %s:%d%s",
        settings.interface_name,
        settings.host,
        settings.http_port,
        settings.host,
        settings.metrics_port,
        settings.metrics_endpoint,
    )
    try:
        uvicorn.Server(uvicorn_config(app, settings)).run(sockets=sockets)
    finally:
        model.component.close()
        for sock in sockets:
            sock.close()
