"""uvicorn's configuration for the REST app (httptools parser, uvloop loop), and the
port router of the one-process mode."""

from __future__ import annotations

from typing import Any

import uvicorn

from modelserve.settings import Settings

Scope = dict[str, Any]


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
        timeout_keep_alive=max(1, settings.keepalive),
        server_header=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout),
        limit_max_requests=None,
    )
