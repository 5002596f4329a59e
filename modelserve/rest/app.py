"""The REST transport: a plain ASGI application serving the routes the protocols declare.

No web framework: a route is a dictionary lookup on the path and the method, the body
is read once, and an endpoint (``handlers/``) returns ``(status, content_type, body)``.
A path belongs to one protocol, whose error format renders every failure on it;
unknown paths answer 404 in the format of the protocol owning their prefix (else the
first protocol's).  Every failure, ours or the user's, is logged once; nothing a
client sends can stop the process.  The handlers' OpenAPI parts, merged, are served at
``/openapi.json`` (``handlers/openapi.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from modelserve.errors import (
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    BadRequest,
    ServingError,
    log_failure,
    quote,
)
from modelserve.handlers.contract import HttpEndpoint, HttpRequest, ProtocolHandler, Response
from modelserve.handlers.openapi import OpenApiHandler
from modelserve.metrics.recorder import Route, ServerMetrics

logger = logging.getLogger("modelserve.rest")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ClientDisconnected(Exception):
    pass


class RestApp:
    """ASGI application over the HTTP routes of the given protocol handlers, and over
    their OpenAPI document (``/openapi.json``, ``/docs``)."""

    def __init__(self, handlers: Sequence[ProtocolHandler], max_body_size: int, metrics: ServerMetrics | None = None):
        handlers = [*handlers, OpenApiHandler(handlers)]
        self.max_body_size = max_body_size
        self.routes: dict[str, dict[str, HttpEndpoint]] = {}
        self.owners: dict[str, ProtocolHandler] = {}  # the protocol of each path: its error format
        # The built-in metrics of each path (None: not recorded, as health probes).
        self.recorders: dict[str, Route | None] = {}
        self.prefixes: list[tuple[str, Callable[[str], ServingError], ProtocolHandler]] = []
        self.default = handlers[0]
        self.unmatched = metrics.route("rest", "none", "unmatched") if metrics else None
        for handler in handlers:
            for route in handler.http_routes():
                if route.path in self.owners and self.owners[route.path] is not handler:
                    raise ValueError(f"{route.path} is served by two protocols")
                for method in route.methods:
                    self.routes.setdefault(route.path, {})[method] = route.endpoint
                self.owners[route.path] = handler
                recorder = None
                if metrics is not None and not route.probe:
                    recorder = metrics.route("rest", handler.protocol, route.path)
                self.recorders[route.path] = recorder
            for prefix in handler.http_prefixes():
                self.prefixes.append((prefix.prefix, prefix.not_found, handler))

    def _owner(self, path: str) -> ProtocolHandler:
        owner = self.owners.get(path)
        if owner is not None:
            return owner
        for prefix, _, handler in self.prefixes:
            if path.startswith(prefix):
                return handler
        return self.default

    def _missing(self, path: str) -> Response:
        for prefix, not_found, handler in self.prefixes:
            if path.startswith(prefix):
                return handler.http_error(not_found(path))
        return self.default.http_error(ServingError(f"No route {quote(path)}", 404, NOT_FOUND))

    # -- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        recorder = self.recorders.get(scope["path"], self.unmatched)
        if recorder is None:  # a health probe, or built-in metrics are off
            await self._handle(scope, receive, send)
            return
        started = time.perf_counter()
        recorder.start()
        status, request_bytes, response_bytes = 499, 0, 0
        try:
            status, request_bytes, response_bytes = await self._handle(scope, receive, send)
        finally:
            recorder.finish(status, time.perf_counter() - started, request_bytes, response_bytes)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> tuple[int, int, int]:
        """Answer one request: (status, request body size, response body size)."""
        method, path = scope["method"], scope["path"]
        methods = self.routes.get(path)
        if methods is None:
            return await _send(send, self._missing(path), scope, 0)
        endpoint = methods.get(method)
        if endpoint is None:
            allow = ", ".join(sorted(methods)).encode()
            if method == "OPTIONS":
                preflight = [
                    (b"allow", allow),
                    (b"access-control-allow-methods", allow),
                    (b"access-control-allow-headers", b"*"),
                ]
                return await _send(send, (200, b"text/plain", b""), scope, 0, preflight)
            message = f"Method {quote(method)} not allowed on {quote(path)}: use {allow.decode()}"
            error = ServingError(message, 405, METHOD_NOT_ALLOWED)
            return await _send(send, self._owner(path).http_error(error), scope, 0, [(b"allow", allow)])
        body = b""
        try:
            body = await self._read_body(scope, receive)
            response = await endpoint(HttpRequest(method, path, scope["query_string"], scope["headers"], body))
        except ServingError as error:
            log_failure(f"{method} {path}", error)
            response = self._owner(path).http_error(error)
        except ClientDisconnected:
            return 499, len(body), 0
        except Exception:
            logger.exception("internal error on %s %s", method, path)
            response = self._owner(path).http_error(ServingError("Internal server error"))
        return await _send(send, response, scope, len(body))

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        message = await receive()
        body: bytes = message.get("body", b"")
        if not message.get("more_body"):
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            if len(body) > self.max_body_size:
                raise _too_large(len(body), self.max_body_size)
            return body
        declared = _content_length(scope["headers"])
        if declared is not None and declared > self.max_body_size:
            raise _too_large(declared, self.max_body_size)
        chunks = [body]
        size = len(body)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_size:
                raise _too_large(size, self.max_body_size)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


async def _send(
    send: Send, response: Response, scope: Scope, request_bytes: int, extra: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, int, int]:
    status, content_type, body = response[:3]
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if len(response) == 4:
        headers.extend(response[3])
    if extra:
        headers.extend(extra)
    if _has_origin(scope["headers"]):
        headers.append((b"access-control-allow-origin", b"*"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status, request_bytes, len(body)


def _has_origin(headers: list[tuple[bytes, bytes]]) -> bool:
    # Browsers send Origin on cross-site calls; the original allows every origin (CORS).
    for key, _ in headers:
        if key == b"origin":
            return True
    return False


def _too_large(size: int, limit: int) -> ServingError:
    return ServingError(f"Request body of {size} bytes exceeds the limit of {limit}", 413, PAYLOAD_TOO_LARGE)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in headers:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise BadRequest("Invalid Content-Length header") from None
    return None


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
