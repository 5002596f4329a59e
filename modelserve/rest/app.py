"""The REST transport: a plain ASGI application over the Seldon protocol handlers.

No web framework: a route is a dictionary lookup on the path and the method, the body
is read once, and an endpoint returns ``(status, content_type, body)``.  Every failure,
ours or the user's, is answered in the protocol's error body with its status code and
logged once; nothing a client sends can stop the process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

import orjson

from modelserve.errors import (
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    NOT_READY,
    PAYLOAD_TOO_LARGE,
    BadRequest,
    ServingError,
)
from modelserve.handlers.seldon import SeldonHandlers
from modelserve.metrics.recorder import Route
from modelserve.rest.requests import Request, raw_payload, seldon_message

logger = logging.getLogger("modelserve.rest")

JSON = b"application/json"
Response = tuple[int, bytes, bytes]  # status, content type, body
Endpoint = Callable[[Request], Awaitable[Response]]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_PONG = (200, b"text/html; charset=utf-8", b"pong")


def json_response(value: Any, status: int = 200) -> Response:
    return status, JSON, orjson.dumps(value, option=_DUMPS_OPTIONS)


def error_response(error: ServingError) -> Response:
    return json_response(error.to_dict(), error.status_code)


class ClientDisconnected(Exception):
    pass


class RestApp:
    """ASGI application serving the Seldon protocol's routes."""

    def __init__(self, handlers: SeldonHandlers, max_body_size: int, payload_passthrough: bool = False):
        self.handlers = handlers
        self.max_body_size = max_body_size
        self.payload_passthrough = payload_passthrough
        self.routes: dict[str, dict[str, Endpoint]] = {}
        # The built-in metrics of each path (None: not recorded, as health probes).
        self.metrics = handlers.plane.metrics
        self.recorders: dict[str, Route | None] = {}
        self.unmatched = self.metrics.route("rest", "none", "unmatched") if self.metrics else None
        self._openapi = resources.files("modelserve.rest").joinpath("seldon-openapi.json").read_bytes()
        self._add_seldon_routes()

    def route(
        self, path: str, methods: tuple[str, ...], endpoint: Endpoint, protocol: str = "seldon", probe: bool = False
    ) -> None:
        """Serve ``endpoint`` on ``path``; a probe's requests are left out of the request metrics."""
        for method in methods:
            self.routes.setdefault(path, {})[method] = endpoint
        self.recorders[path] = None if probe or self.metrics is None else self.metrics.route("rest", protocol, path)

    def _add_seldon_routes(self) -> None:
        both = ("GET", "POST")
        post = ("POST",)
        get = ("GET",)
        handlers = self.handlers
        predict = self._passthrough if self.payload_passthrough else self._seldon(handlers.predict, "predict")
        self.route("/predict", both, predict)
        self.route("/api/v1.0/predictions", post, predict)
        self.route("/api/v0.1/predictions", post, predict)
        self.route("/transform-input", both, self._seldon(handlers.transform_input, "transform_input"))
        self.route("/transform-output", both, self._seldon(handlers.transform_output, "transform_output"))
        self.route("/route", both, self._seldon(handlers.route, "route"))
        self.route("/aggregate", both, self._seldon(handlers.aggregate, "aggregate"))
        feedback = self._seldon(handlers.send_feedback, "send_feedback")
        self.route("/send-feedback", both, feedback)
        self.route("/api/v1.0/feedback", post, feedback)
        self.route("/api/v0.1/feedback", post, feedback)
        self.route("/health/ping", get, self.ping, probe=True)
        self.route("/health/status", get, self.health_status, probe=True)
        self.route("/api/v1.0/health/status", get, self.health_status, probe=True)
        self.route("/metadata", get, self.metadata)
        self.route("/api/v1.0/metadata", get, self.metadata)
        self.route("/seldon.json", get, self.openapi)

    def _seldon(self, handler: Callable[[Any], Awaitable[Any]], verb: str) -> Endpoint:
        """An endpoint taking a SeldonMessage; a raw method's answer may choose the status."""
        if self.handlers.plane.has_raw(verb):

            async def raw_endpoint(request: Request) -> Response:
                return answer_response(await handler(seldon_message(request)))

            return raw_endpoint

        async def endpoint(request: Request) -> Response:
            answer = await handler(seldon_message(request))
            return 200, JSON, orjson.dumps(answer, option=_DUMPS_OPTIONS)

        return endpoint

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
        method = scope["method"]
        methods = self.routes.get(scope["path"])
        if methods is None:
            response = error_response(ServingError(f"No route {scope['path']}", 404, NOT_FOUND))
            return await _send(send, response, scope, 0)
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
            response = self._not_allowed(method, scope["path"], methods)
            return await _send(send, response, scope, 0, [(b"allow", allow)])
        body = b""
        try:
            body = await self._read_body(scope, receive)
            request = Request(method, scope["path"], scope["query_string"], scope["headers"], body)
            response = await endpoint(request)
        except ServingError as error:
            _log_failure(error, scope)
            response = error_response(error)
        except ClientDisconnected:
            return 499, len(body), 0
        except Exception:
            logger.exception("internal error on %s %s", method, scope["path"])
            response = error_response(ServingError("Internal server error"))
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

    def _not_allowed(self, method: str, path: str, methods: dict[str, Endpoint]) -> Response:
        allowed = ", ".join(sorted(methods))
        error = ServingError(f"Method {method} not allowed on {path}: use {allowed}", 405, METHOD_NOT_ALLOWED)
        return error_response(error)

    # -- other endpoints

    async def _passthrough(self, request: Request) -> Response:
        if not self.handlers.plane.has_raw("predict"):
            raise BadRequest("PAYLOAD_PASSTHROUGH is on but the model has no predict_raw to take the raw payload")
        return answer_response(await self.handlers.predict(raw_payload(request)))

    async def ping(self, request: Request) -> Response:
        return _PONG

    async def health_status(self, request: Request) -> Response:
        if not self.handlers.plane.healthy:
            raise ServingError("Model is not ready", 503, NOT_READY)
        return answer_response(await self.handlers.health_status())

    async def metadata(self, request: Request) -> Response:
        return json_response(self.handlers.plane.model_metadata())

    async def openapi(self, request: Request) -> Response:
        return 200, JSON, self._openapi


def answer_response(answer: Any) -> Response:
    """An answer as the handlers return it; raw answers may also be text, bytes or protobuf."""
    if isinstance(answer, dict):
        status = answer.get("status")
        code = status.get("code") if isinstance(status, dict) else None
        if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
            return json_response(answer, code)
        return json_response(answer)
    if isinstance(answer, (bytes, bytearray)):
        return 200, JSON, bytes(answer)
    if isinstance(answer, str):
        return 200, JSON, answer.encode()
    if hasattr(answer, "DESCRIPTOR"):  # a protobuf message from a *_raw method
        from google.protobuf import json_format

        return json_response(json_format.MessageToDict(answer))
    if isinstance(answer, list):
        return json_response(answer)
    raise ServingError(f"A raw method returned {type(answer).__name__}: expected a dict, list, str or bytes")


async def _send(
    send: Send, response: Response, scope: Scope, request_bytes: int, extra: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, int, int]:
    status, content_type, body = response
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
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


def _log_failure(error: ServingError, scope: Scope) -> None:
    if error.status_code >= 500:
        cause = error.__cause__
        logger.error(
            "%s %s failed: %s %s",
            scope["method"],
            scope["path"],
            error.reason,
            error.message,
            exc_info=(type(cause), cause, cause.__traceback__) if cause else None,
        )
    else:
        logger.info("%s %s answered %d: %s", scope["method"], scope["path"], error.status_code, error.message)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
