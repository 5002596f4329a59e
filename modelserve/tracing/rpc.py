"""A server span per gRPC call, around unary-unary method handlers (tracing on only).

The span continues the trace of the call's ``traceparent``/``tracestate`` metadata and
carries the RPC semantic-convention attributes; as for gRPC servers in the
conventions, UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and
DATA_LOSS mark it as an error.
"""

from __future__ import annotations

import asyncio
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
    """The unary-unary handler with its behaviour inside a server span."""
    behaviour = handler.unary_unary
    name = f"{service}/{method}"
    attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}

    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        parent = extract(context.invocation_metadata() or (), getter=METADATA)
        with tracer.start_as_current_span(
            name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                answer = await behaviour(request, context)
            except BaseException as error:
                code = context.code()
                if not isinstance(code, grpc.StatusCode):  # not aborted: grpcio answers it itself
                    code = grpc.StatusCode.CANCELLED if isinstance(error, asyncio.CancelledError) else None
                    code = code or grpc.StatusCode.UNKNOWN
                span.set_attribute(STATUS_CODE, code.value[0])
                if code in SERVER_ERRORS:
                    span.set_attribute("error.type", code.name)
                    details = context.details()
                    span.set_status(Status(StatusCode.ERROR, details if isinstance(details, str) else None))
                raise
            span.set_attribute(STATUS_CODE, 0)
            return answer

    return handler._replace(unary_unary=call)
