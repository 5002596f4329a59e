"""The metrics port: Prometheus exposition of this server's registry."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

Scope = dict[str, Any]


class MetricsApp:
    """ASGI application answering the metrics path (text format, or OpenMetrics when asked)."""

    def __init__(self, endpoint: str, registry: CollectorRegistry = REGISTRY):
        self.endpoint = endpoint
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != self.endpoint or scope["method"] not in ("GET", "HEAD"):
            status, content_type, body = 404, "text/plain; charset=utf-8", b"Not Found\n"
        else:
            accept = ""
            for key, value in scope["headers"]:
                if key == b"accept":
                    accept = value.decode("latin-1")
            encoder, content_type = choose_encoder(accept)
            status, body = 200, encoder(self.registry)
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})
