"""A server span per HTTP request, around any ASGI app (installed only with tracing on).

The span continues the trace of the request's ``traceparent``/``tracestate`` headers
(through the configured propagators, ``OTEL_PROPAGATORS``) and carries the HTTP
semantic-convention attributes; a 5xx answer marks it as an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry.propagate import extract
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

Scope = dict[str, Any]
Message = dict[str, Any]
Headers = list[tuple[bytes, bytes]]

KNOWN_METHODS = frozenset(("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"))


class HeaderGetter(Getter[Headers]):
    """Reads propagation fields from ASGI headers (lower-case names, latin-1 bytes)."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


HEADERS = HeaderGetter()


class TracingMiddleware:
    def __init__(self, app: Any, tracer: Tracer):
        self.app = app
        self.tracer = tracer
        self.routes: dict[str, Any] = getattr(app, "routes", {})

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        attributes: dict[str, Any] = {"url.path": path, "url.scheme": scope.get("scheme", "http")}
        if method in KNOWN_METHODS:
            attributes["http.request.method"] = method
            name = method
        else:
            attributes["http.request.method"] = "_OTHER"
            attributes["http.request.method_original"] = method
            name = "HTTP"
        if path in self.routes:
            attributes["http.route"] = path
            name = f"{name} {path}"
        if scope.get("http_version"):
            attributes["network.protocol.version"] = scope["http_version"]
        server, client = scope.get("server"), scope.get("client")
        if server:
            attributes["server.port"] = server[1]
        if client:
            attributes["client.address"] = client[0]
        parent = extract(scope["headers"], getter=HEADERS)
        span_context = self.tracer.start_as_current_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )
        with span_context as span:

            async def traced_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_attribute("error.type", str(status))
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            await self.app(scope, receive, traced_send)
