"""A server span per gRPC call, around unary-unary method handlers (tracing on only).

The span continues the trace of the call's ``traceparent``/``tracestate`` metadata and
carries the RPC semantic-convention attributes; as for gRPC servers in the
conventions, UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and
DATA_LOSS mark it as an error.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry.propagate import extract
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

Metadata = Sequence[tuple[str, Any]]

SERVER_ERRORS = frozenset(
    (
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    )
)
STATUS_CODE = "rpc.grpc.status_code"


class MetadataGetter(Getter[Metadata]):
    """Reads propagation fields from invocation metadata (lower-case keys; ``-bin`` ones skipped)."""

    def get(self, carrier: Metadata, key: str) -> list[str] | None:
        key = key.lower()
        values = [value for name, value in carrier if name == key and isinstance(value, str)]
        return values or None

    def keys(self, carrier: Metadata) -> list[str]:
        return [name for name, _ in carrier]


METADATA = MetadataGetter()


def traced_handler(tracer: Tracer, service: str, method: str, handler: Any) -> Any:
    """The unary-unary handler with its behaviour inside a server span (grpc.aio's coroutine
    or the threaded server's plain function, as the handler has)."""
    behaviour = handler.unary_unary
    name = f"{service}/{method}"
    attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}

    def span(context: Any) -> Any:
        return tracer.start_as_current_span(
            name,
            context=extract(context.invocation_metadata() or (), getter=METADATA),
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )

    if not inspect.iscoroutinefunction(behaviour):

        def call_on_thread(request: Any, context: grpc.ServicerContext) -> Any:
            with span(context) as current:
                try:
                    answer = behaviour(request, context)
                except BaseException as error:
                    _failed(current, context, error)
                    raise
                current.set_attribute(STATUS_CODE, 0)
                return answer

        return handler._replace(unary_unary=call_on_thread)

    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        with span(context) as current:
            try:
                answer = await behaviour(request, context)
            except BaseException as error:
                _failed(current, context, error)
                raise
            current.set_attribute(STATUS_CODE, 0)
            return answer

    return handler._replace(unary_unary=call)


def _failed(span: Any, context: Any, error: BaseException) -> None:
    """The span of a call that raised: its code (the one it was aborted with, else the one
    grpcio answers), and error status for the server-side codes."""
    code = context.code()
    if not isinstance(code, grpc.StatusCode):  # not aborted: grpcio answers it itself
        code = grpc.StatusCode.CANCELLED if isinstance(error, asyncio.CancelledError) else None
        code = code or grpc.StatusCode.UNKNOWN
    span.set_attribute(STATUS_CODE, code.value[0])
    if code in SERVER_ERRORS:
        span.set_attribute("error.type", code.name)
        details = context.details()
        if isinstance(details, bytes):  # (grpcio's synchronous context keeps them encoded)
            details = details.decode("utf-8", "replace")
        span.set_status(Status(StatusCode.ERROR, details if isinstance(details, str) else None))
