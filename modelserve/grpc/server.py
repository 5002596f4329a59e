"""The gRPC transport: the Seldon protocol's services (and the V2 ``inference`` service of
``grpc/v2.py``) over the shared handlers, on grpc.aio.

Every service of ``seldon.protos`` is registered whatever the service type (Generic,
Model, Router, Transformer, OutputTransformer, Combiner, Seldon), as in the original;
a method the model lacks answers a clear error, not a missing method.  Also served:
``grpc.health.v1.Health`` (SERVING once started, NOT_SERVING while draining) and server
reflection, both from our private descriptor pool.

A failure is answered with the gRPC code of its ``ServingError.status_code`` and its
message in the details (the reason in the ``seldon-reason`` trailing metadata); nothing
a client sends can stop the server.  Request bytes that do not parse are answered by
grpcio itself (INTERNAL, "Exception deserializing request!"), unknown methods too
(UNIMPLEMENTED, "Method not found!").
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from modelserve import access_log
from modelserve.codecs import messages
from modelserve.codecs.seldon_proto import SeldonProtoCodec
from modelserve.dataplane import DataPlane
from modelserve.errors import NOT_IMPLEMENTED, ServingError, StartupError
from modelserve.grpc.v2 import SERVICE as V2_SERVICE
from modelserve.grpc.v2 import V2Servicer
from modelserve.handlers.seldon import SeldonHandlers
from modelserve.handlers.v2 import V2Handlers
from modelserve.metrics.recorder import Route, ServerMetrics
from modelserve.model import LoadedModel
from modelserve.settings import Settings

if TYPE_CHECKING:
    from modelserve.tracing.otel import Tracing

logger = logging.getLogger("modelserve.grpc")

Behaviour = Callable[[Any], Awaitable[Any]]

STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    409: grpc.StatusCode.ABORTED,
    412: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
SELDON_SERVICES = tuple(messages.SERVICES)


def grpc_code(status_code: int) -> grpc.StatusCode:
    """The gRPC code of an HTTP-numbered status: other 4xx are INVALID_ARGUMENT, the rest INTERNAL."""
    code = STATUS_CODES.get(status_code)
    if code is not None:
        return code
    return grpc.StatusCode.INVALID_ARGUMENT if 400 <= status_code < 500 else grpc.StatusCode.INTERNAL


def seldon_message(answer: Any) -> Any:
    """What a handler returned, as a message to send: raw methods may answer a dict or bytes."""
    if hasattr(answer, "SerializeToString") or isinstance(answer, bytes):
        return answer  # ours, a user's own generated SeldonMessage, or already serialized
    if isinstance(answer, dict):
        try:
            return json_format.ParseDict(answer, messages.SeldonMessage(), descriptor_pool=messages.POOL)
        except json_format.ParseError as error:
            raise ServingError(f"A raw method's answer is not a SeldonMessage: {error}") from None
    raise ServingError(f"A raw method returned {type(answer).__name__}: expected a SeldonMessage or a dict")


def _serialize(message: Any) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


class SeldonServicer:
    """The methods of the seldon.protos services, each a thin call into the handlers."""

    def __init__(self, handlers: SeldonHandlers, codec: SeldonProtoCodec):
        self.handlers = handlers
        self.codec = codec
        self._metadata: Any = None

    def method_handlers(self) -> dict[str, dict[str, grpc.RpcMethodHandler]]:
        """{service full name: {method name: handler}} for every service of prediction.proto."""
        h = self.handlers
        behaviours: dict[str, Behaviour] = {
            "Predict": h.predict,
            "TransformInput": h.transform_input,
            "TransformOutput": h.transform_output,
            "Route": h.route,
            "Aggregate": h.aggregate,
            "SendFeedback": h.send_feedback,
            "Metadata": self.metadata,
            "ModelMetadata": self.metadata,
            "GraphMetadata": self.graph_metadata,
        }
        return {
            service: {
                method: unary_handler(
                    f"{service}/{method}", behaviours[method], request_class, self._recorder(service, method)
                )
                for method, (request_class, _) in methods.items()
            }
            for service, methods in messages.SERVICES.items()
        }

    def _recorder(self, service: str, method: str) -> Route | None:
        metrics = self.handlers.plane.metrics
        return metrics.route("grpc", "seldon", f"/{service}/{method}") if metrics is not None else None

    async def metadata(self, request: Any) -> Any:
        """The model's metadata; an empty message when it is invalid (as the original answers)."""
        if self._metadata is None:
            try:
                self._metadata = self.codec.metadata(self.handlers.plane.model_metadata())
            except ServingError as error:
                logger.warning("answering empty metadata on gRPC: %s", error.message)
                self._metadata = messages.SeldonModelMetadata()
        return self._metadata

    async def graph_metadata(self, request: Any) -> Any:
        raise ServingError("GraphMetadata: a single model has no inference graph", 501, NOT_IMPLEMENTED)


class Undecodable:
    """Request bytes that are not a message of the method's type."""

    def __init__(self, error: Exception):
        self.error = error


UNDECODABLE = "Exception deserializing request!"  # what grpcio's synchronous server answers


class UndecodableError(ServingError):
    """Answered as grpcio answers it: INTERNAL, without our trailing metadata."""


def _deserializer(request_class: Any, recorder: Route | None) -> Callable[[bytes], Any]:
    # grpc.aio answers a failing deserializer with UNKNOWN "Unexpected <class ...>": the
    # method answers INTERNAL with grpcio's usual text instead.
    parse = request_class.FromString

    def deserialize(data: bytes) -> Any:
        if recorder is not None:
            recorder.request_size(len(data))
        try:
            return parse(data)
        except Exception as error:
            return Undecodable(error)

    return deserialize


def _serializer(recorder: Route | None) -> Callable[[Any], bytes]:
    if recorder is None:
        return _serialize

    def serialize(message: Any) -> bytes:
        data = _serialize(message)
        recorder.response_size(len(data))
        return data

    return serialize


def unary_handler(
    name: str, behaviour: Behaviour, request_class: Any, recorder: Route | None = None
) -> grpc.RpcMethodHandler:
    """A unary-unary method: parse, call, answer or abort with the error's code and message."""

    async def answer(request: Any) -> Any:
        """The answer to send, or the ServingError to abort with."""
        if isinstance(request, Undecodable):
            logger.info("%s: undecodable request: %s", name, request.error)
            return UndecodableError(UNDECODABLE, 500)
        try:
            return seldon_message(await behaviour(request))
        except ServingError as error:
            failure = error
        except Exception as error:
            logger.exception("internal error in %s", name)
            failure = ServingError(f"Internal server error: {type(error).__name__}: {error}")
        _log_failure(name, failure)
        return failure

    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if recorder is None:
            result = await answer(request)
        else:
            started = time.perf_counter()
            recorder.start()
            status = "CANCELLED"
            try:
                result = await answer(request)
                status = grpc_code(result.status_code).name if isinstance(result, ServingError) else "OK"
            finally:
                recorder.done(status, time.perf_counter() - started)
        if isinstance(result, ServingError):
            if isinstance(result, UndecodableError):
                await context.abort(grpc.StatusCode.INTERNAL, UNDECODABLE)
            await context.abort(
                grpc_code(result.status_code), result.message, trailing_metadata=(("seldon-reason", result.reason),)
            )
        return result

    return grpc.unary_unary_rpc_method_handler(
        call, request_deserializer=_deserializer(request_class, recorder), response_serializer=_serializer(recorder)
    )


def _log_failure(name: str, error: ServingError) -> None:
    if error.status_code >= 500:
        cause = error.__cause__
        logger.error(
            "%s failed: %s %s",
            name,
            error.reason,
            error.message,
            exc_info=(type(cause), cause, cause.__traceback__) if cause else None,
        )
    else:
        logger.info("%s answered %d: %s", name, error.status_code, error.message)


def grpc_handlers(plane: DataPlane, settings: Settings) -> SeldonHandlers:
    """The Seldon handlers with the protobuf codec, over a data plane (shared with REST or not)."""
    codec = SeldonProtoCodec(plane.component.class_names, settings.request_path, settings.include_metrics_in_response)
    return SeldonHandlers(plane, codec, settings.predictive_unit_id or "0", settings.include_metrics_in_response)


def server_options(settings: Settings) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_send_message_length", settings.grpc_max_message_size),
        ("grpc.max_receive_message_length", settings.grpc_max_message_size),
        ("grpc.so_reuseport", 1),  # several worker processes bind the same port
    ]


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class GrpcServer:
    """A grpc.aio server with the Seldon services, health and reflection, on this event loop."""

    def __init__(self, handlers: SeldonHandlers, settings: Settings, tracer: Tracing | None = None):
        if not isinstance(handlers.wire, SeldonProtoCodec):
            raise TypeError("the gRPC server needs SeldonHandlers built with SeldonProtoCodec")
        self.handlers = handlers
        self.settings = settings
        self.server = grpc.aio.server(options=server_options(settings))
        self.servicer = SeldonServicer(handlers, handlers.wire)
        register = getattr(self.server, "add_registered_method_handlers", None)  # grpcio 1.63+: faster lookup
        v2 = V2Servicer(V2Handlers(handlers.plane, settings.model_name, settings.model_version))
        services = {**self.servicer.method_handlers(), V2_SERVICE: v2.method_handlers()}
        if tracer is not None:
            services = tracer.grpc_methods(services)
        for service, methods in services.items():
            if settings.access_log:
                methods = access_log.grpc_methods(service, methods)
            self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, methods),))
            if register is not None:
                register(service, methods)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        messages.add_file(health_pb2.DESCRIPTOR)
        messages.add_file(reflection_pb2.DESCRIPTOR)
        names = (*SELDON_SERVICES, V2_SERVICE, HEALTH_SERVICE, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, self.server, pool=messages.POOL)
        self.port: int | None = None

    def bind(self, host: str, port: int) -> int:
        """Listen on host:port (port 0: any free port); the port bound."""
        try:
            bound = self.server.add_insecure_port(address(host, port))
        except RuntimeError as error:
            raise StartupError(f"cannot listen on {address(host, port)} for gRPC: {error}") from None
        if not bound:
            raise StartupError(f"cannot listen on {address(host, port)} for gRPC")
        self.port = bound
        return bound

    async def start(self) -> None:
        await self.set_serving(False)
        await self.server.start()
        await self.set_serving(True)

    async def set_serving(self, serving: bool) -> None:
        """What grpc.health.v1 answers, for the server ("") and each Seldon service."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in ("", *SELDON_SERVICES, V2_SERVICE):
            await self.health.set(service, status)

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING for good, refuse new calls, let calls in flight finish for ``grace`` seconds."""
        await self.set_serving(False)
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def start_grpc_server(
    handlers: SeldonHandlers, settings: Settings, tracer: Tracing | None = None
) -> GrpcServer:
    """Build, bind (``settings.host``/``grpc_port``) and start a server on the running loop."""
    server = GrpcServer(handlers, settings, tracer)
    server.bind(settings.host, settings.grpc_port)
    await server.start()
    return server


async def serve_async(
    model: LoadedModel, settings: Settings, metrics: ServerMetrics | None = None, tracer: Tracing | None = None
) -> None:
    """Serve gRPC until SIGTERM or SIGINT, then drain for ``graceful_timeout``."""
    plane = DataPlane(model, settings, metrics)
    server = await start_grpc_server(grpc_handlers(plane, settings), settings, tracer)
    logger.info("serving %s: gRPC on %s", settings.interface_name, address(settings.host, server.port or 0))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    plane.drain()
    await server.stop(settings.graceful_timeout)
