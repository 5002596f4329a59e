"""The access log (``--access-log``): one line per request, on the ``modelserve.access`` logger.

A line names the method, path (REST and metrics) or full gRPC method, the status (HTTP
code, or gRPC code name), the duration in milliseconds and the worker; in the JSON log
format these are keys of the record.  The wrappers here are installed only when the
access log is on, so a server without it runs none of this code per request.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

from modelserve import logs

logger = logging.getLogger("modelserve.access")

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def record(method: str, path: str | None, status: int | str | None, seconds: float) -> None:
    """Log one request; ``path`` is None for gRPC (the method is the full gRPC method),
    ``status`` None when no answer was sent (the client went away)."""
    millis = round(seconds * 1000.0, 3)
    worker = logs.worker()
    fields = {"method": method, "path": path, "status": status, "duration_ms": millis, "worker": worker}
    shown = "-" if status is None else status
    if path is None:
        logger.info("%s %s %.3fms %s", method, shown, millis, worker, extra={"fields": fields})
    else:
        logger.info("%s %s %s %.3fms %s", method, path, shown, millis, worker, extra={"fields": fields})


class AccessLogApp:
    """ASGI middleware: one access line per HTTP request, timed until its answer is sent."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        status: int | None = None

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            record(scope["method"], scope["path"], status, perf_counter() - start)


def grpc_methods(service: str, methods: dict[str, Any]) -> dict[str, Any]:
    """The unary-unary method handlers of ``service``, each logging one access line per call."""
    import grpc

    logged = {}
    for name, handler in methods.items():
        logged[name] = grpc.unary_unary_rpc_method_handler(
            _logged_call(f"/{service}/{name}", handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return logged


def _logged_call(full_name: str, call: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``call`` (grpc.aio's coroutine or the threaded server's plain function) logged."""
    if not inspect.iscoroutinefunction(call):

        def logged_on_thread(request: Any, context: Any) -> Any:
            start = perf_counter()
            code = "OK"
            try:
                return call(request, context)
            except BaseException:
                aborted = context.code()
                code = aborted.name if aborted is not None else "UNKNOWN"
                raise
            finally:
                record(full_name, None, code, perf_counter() - start)

        return logged_on_thread

    async def logged(request: Any, context: Any) -> Any:
        start = perf_counter()
        code = "OK"
        try:
            return await call(request, context)
        except asyncio.CancelledError:
            code = "CANCELLED"  # the client went away or the deadline passed
            raise
        except BaseException:
            # context.abort() set the code before raising; anything else grpcio answers UNKNOWN.
            aborted = context.code()
            code = aborted.name if aborted is not None else "UNKNOWN"
            raise
        finally:
            record(full_name, None, code, perf_counter() - start)

    return logged
