"""The contract between the transports and the protocols.

A protocol (Seldon, V2, KServe V1...) is one codec (``codecs/``) and one handler
(``handlers/``).  The handler says, as plain data, which HTTP routes and which gRPC
methods it serves and how its errors look; the transports (``rest/``, ``grpc/``) serve
whatever the handlers of a process declare, and know nothing of any protocol:

- an HTTP endpoint takes an ``HttpRequest`` (the whole body read once) and returns a
  ``Response`` tuple ``(status, content type, body[, extra headers])``;
- a gRPC method takes the request message (parsed by the transport with
  ``request_class.FromString``) and the call's context, and returns the answer message
  (or its bytes); it may also offer ``from_bytes``, tried first on the request's bytes;
- a failure is a ``ServingError``: the REST transport renders it with the handler's
  ``http_error``, the gRPC transport maps its status code to a gRPC code and adds the
  handler's ``rpc_trailers``;
- ``openapi`` describes the HTTP routes: the REST app serves the parts of all the
  handlers merged into one OpenAPI document (``handlers/openapi.py``).

Nothing here imports a transport: handlers sit below them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from modelserve.codecs.http import JSON, HttpRequest, Response
from modelserve.dataplane import DataPlane
from modelserve.errors import ServingError
from modelserve.settings import Settings

__all__ = [
    "JSON",
    "HttpEndpoint",
    "HttpPrefix",
    "HttpRequest",
    "HttpRoute",
    "ProtocolHandler",
    "Response",
    "RpcMethod",
    "json_response",
]

def json_response(value: object, status: int = 200) -> Response:
    """A JSON answer (numpy arrays and scalars written by orjson as they are)."""
    return status, JSON, orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


HttpEndpoint = Callable[[HttpRequest], Awaitable[Response]]
RpcBehaviour = Callable[[Any, Any], Awaitable[Any]]  # (request message, call context) -> answer
RpcBytesBehaviour = Callable[[bytes, Any], Awaitable[Any]]  # (request bytes, call context) -> answer or None


@dataclass(frozen=True)
class HttpRoute:
    """``path`` (matched exactly) served by ``endpoint`` for ``methods``."""

    path: str
    methods: tuple[str, ...]
    endpoint: HttpEndpoint
    probe: bool = False  # a health check: left out of the request metrics


@dataclass(frozen=True)
class HttpPrefix:
    """Unknown paths under ``prefix`` answer ``not_found(path)`` in the protocol's error format."""

    prefix: str
    not_found: Callable[[str], ServingError]


@dataclass(frozen=True)
class RpcMethod:
    """A unary-unary gRPC method: ``/service/name``."""

    service: str
    name: str
    request_class: Any  # a protobuf message class (its FromString parses the request)
    behaviour: RpcBehaviour
    probe: bool = False  # a health check: left out of the request metrics
    # Tried first with the request's bytes: the answer, or None for the transport to parse
    # them and call ``behaviour`` (a codec reading the plain case without protobuf objects).
    from_bytes: RpcBytesBehaviour | None = None


class ProtocolHandler:
    """What a protocol offers the transports; every part is optional."""

    protocol = ""  # the ``protocol`` label of the request metrics

    def __init__(self, plane: DataPlane, settings: Settings):
        self.plane = plane
        self.settings = settings

    def http_routes(self) -> list[HttpRoute]:
        return []

    def http_prefixes(self) -> list[HttpPrefix]:
        return []

    def http_error(self, error: ServingError) -> Response:
        """The protocol's error answer on HTTP (by default ``{"error": message}``)."""
        return error.status_code, JSON, orjson.dumps({"error": error.message})

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI part of ``http_routes``: ``{"tags", "paths", "components"}`` (``handlers/openapi.py``
        writes one with ``part``); every route and method it serves, and nothing else."""
        return {}

    def rpc_methods(self) -> list[RpcMethod]:
        return []

    def rpc_trailers(self, error: ServingError) -> tuple[tuple[str, str], ...]:
        """Trailing metadata sent with a failed gRPC call."""
        return ()
