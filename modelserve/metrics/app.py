"""The metrics port as an ASGI application (one-process mode): the merged exposition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Scope = dict[str, Any]
Render = Callable[[str], tuple[bytes, str]]


class MetricsApp:
    """Answers the metrics path (text format, or OpenMetrics when asked); 404 elsewhere."""

    def __init__(self, endpoint: str, render: Render):
        self.endpoint = endpoint
        self.render = render

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
            body, content_type = self.render(accept)
            status = 200
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})
