"""The gRPC transport: the methods the protocols declare, on grpc.aio.

Every method is registered with bytes in and bytes out: the request is parsed here with
its message class (so that undecodable bytes get grpcio's usual answer, INTERNAL
"Exception deserializing request!", and its size is known), the handler's behaviour
answers a message, and the answer is serialized here.  Also served:
``grpc.health.v1.Health`` (SERVING while the data plane is ready) and server
reflection, both over our private descriptor pool.

A failure is answered with the gRPC code of its ``ServingError.status_code`` and its
message in the details (plus the protocol's trailing metadata); nothing a client sends
can stop the server.  Unknown methods are answered by grpcio itself (UNIMPLEMENTED,
"Method not found!").
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from modelserve import access_log
from modelserve.codecs import messages
from modelserve.dataplane.bounds import DEADLINE
from modelserve.errors import NOT_READY, ServingError, StartupError, log_failure
from modelserve.handlers.contract import ProtocolHandler, RpcMethod
from modelserve.metrics.recorder import Route, ServerMetrics
from modelserve.settings import Settings

if TYPE_CHECKING:
    from modelserve.tracing.otel import Tracing

logger = logging.getLogger("modelserve.grpc")

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
UNDECODABLE = "Exception deserializing request!"  # what grpcio's synchronous server answers


def error_code(error: ServingError) -> grpc.StatusCode:
    """The gRPC code of a failure: the one it names, else the one of its status."""
    if error.rpc_code is not None:
        return grpc.StatusCode[error.rpc_code]
    return grpc_code(error.status_code)


def grpc_code(status_code: int) -> grpc.StatusCode:
    """The gRPC code of an HTTP-numbered status: other 4xx are INVALID_ARGUMENT, the rest INTERNAL."""
    code = STATUS_CODES.get(status_code)
    if code is not None:
        return code
    return grpc.StatusCode.INVALID_ARGUMENT if 400 <= status_code < 500 else grpc.StatusCode.INTERNAL


class _Undecodable(ServingError):
    """Request bytes that are not a message of the method's type: answered as grpcio answers them."""


Answering = Callable[[bytes, Any], Awaitable["bytes | ServingError"]]

DRAINING = ServingError("The server is shutting down: retry on another one", 503, NOT_READY)


class Gate:
    """The calls of one server: counted while they run, turned away (UNAVAILABLE) once it drains."""

    def __init__(self, max_calls: int | None = None, on_max_calls: Callable[[], None] | None = None):
        self.draining = False
        self.running = 0
        self.calls = 0
        self.idle = asyncio.Event()
        self._max_calls = max_calls
        self._on_max_calls = on_max_calls

    def entered(self) -> None:
        """A call started."""
        self.running += 1

    def left(self) -> None:
        """A call ended (answered, failed or cancelled)."""
        self.running -= 1
        self.calls += 1
        if self.draining:
            if not self.running:
                self.idle.set()
        elif self._max_calls is not None and self.calls >= self._max_calls:
            self._max_calls = None
            if self._on_max_calls is not None:
                self._on_max_calls()

    def close(self) -> None:
        self.draining = True
        if not self.running:
            self.idle.set()


def answering(method: RpcMethod, handler: ProtocolHandler, gate: Gate, count: bool = True) -> Answering:
    """The method's work from request bytes to answer bytes (or the ServingError to abort
    with), shared by both servers; with ``count``, it counts in ``gate`` while it runs."""
    name = f"{method.service}/{method.name}"
    parse, behaviour = method.request_class.FromString, method.behaviour
    from_bytes = method.from_bytes

    async def answer(data: bytes, context: Any) -> bytes | ServingError:
        if gate.draining:
            return DRAINING
        if count:
            gate.entered()
        try:
            try:
                message = None if from_bytes is None else await from_bytes(data, context)
                if message is None:
                    try:
                        request = parse(data)
                    except Exception as error:
                        logger.info("%s: undecodable request: %s", name, error)
                        return _Undecodable(UNDECODABLE)
                    message = await behaviour(request, context)
                return message if isinstance(message, bytes) else message.SerializeToString()
            except ServingError as error:
                failure = error
            except Exception as error:
                logger.exception("internal error in %s", name)
                failure = ServingError(f"Internal server error: {type(error).__name__}: {error}")
            log_failure(name, failure)
            return failure
        finally:
            if count:
                gate.left()

    return answer


def status_of(result: bytes | ServingError) -> tuple[str, int]:
    """The code a call's result is counted under, and its answer's size."""
    if isinstance(result, ServingError):
        return error_code(result).name, 0
    return "OK", len(result)


def abort_details(result: ServingError, handler: ProtocolHandler) -> tuple[grpc.StatusCode, str, tuple[Any, ...]]:
    """The code, details and trailing metadata a failed call is answered with."""
    if isinstance(result, _Undecodable):
        return grpc.StatusCode.INTERNAL, UNDECODABLE, ()
    metadata = tuple(handler.rpc_trailers(result))
    if result.retry_after is not None:  # gRFC A6: when a client may retry
        metadata = (*metadata, ("grpc-retry-pushback-ms", str(result.retry_after * 1000)))
    return error_code(result), result.message, metadata


def unary_handler(
    method: RpcMethod, handler: ProtocolHandler, recorder: Route | None, gate: Gate, request_timeout: float = 0.0
) -> grpc.RpcMethodHandler:
    """A unary-unary method on grpc.aio: parse, call, serialize; or abort with the error's code and message."""
    answer = answering(method, handler, gate)

    async def deadline_answer(data: bytes, context: grpc.aio.ServicerContext) -> bytes | ServingError:
        remaining = context.time_remaining()  # the client's deadline, if it set one
        if remaining is not None or request_timeout:
            if remaining is None or (request_timeout and request_timeout < remaining):
                remaining = request_timeout
            DEADLINE.set(asyncio.get_running_loop().time() + remaining)
        return await answer(data, context)

    async def call(data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if recorder is None:
            result = await deadline_answer(data, context)
        else:
            started = time.perf_counter()
            recorder.start()
            status, size = "CANCELLED", 0
            try:
                result = await deadline_answer(data, context)
                status, size = status_of(result)
            finally:
                recorder.finish(status, time.perf_counter() - started, len(data), size)
        if isinstance(result, ServingError):
            code, details, metadata = abort_details(result, handler)
            await context.abort(code, details, trailing_metadata=metadata)
        return result  # type: ignore[return-value]  # abort() raises

    return grpc.unary_unary_rpc_method_handler(call)


def server_options(settings: Settings) -> list[tuple[str, Any]]:
    options: dict[str, Any] = {
        "grpc.max_send_message_length": settings.grpc_max_message_size,
        "grpc.max_receive_message_length": settings.grpc_max_message_size,
        **settings.grpc_options,  # GRPC_OPTIONS: the user's channel arguments (grpc takes the first of a name)
        "grpc.so_reuseport": 1,  # several worker processes bind the same port
    }
    return list(options.items())


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Health(health.aio.HealthServicer):
    """grpc.health.v1: the server ("") and every served service are SERVING while ready."""

    def __init__(self, services: Sequence[str], ready: Callable[[], bool]):
        super().__init__()
        self.services = frozenset(("", *services))
        self.ready = ready

    async def Check(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if request.service not in self.services:
            return await super().Check(request, context)  # NOT_FOUND
        serving = self.ready() and not self._gracefully_shutting_down
        return health_pb2.HealthCheckResponse(
            status=health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )


class MethodTable(grpc.GenericRpcHandler):
    """Every method of the server in one dictionary, found with one lookup per call.

    Nothing is registered with ``add_registered_method_handlers``: grpc.aio waits on one
    pending future per registered method (``asyncio.wait`` over all of them for every
    call), which cost more per call than everything this server does for a small message.
    """

    def __init__(self, methods: dict[str, grpc.RpcMethodHandler]):
        self.methods = methods
        self._get = methods.get

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return self._get(handler_call_details.method)


class _Collector:
    """Stands in for the server when generated code adds a servicer: its methods go into ``table``."""

    def __init__(self, table: dict[str, grpc.RpcMethodHandler]):
        self.table = table
        self.services: set[str] = set()
        self.generic: list[Any] = []

    def add_registered_method_handlers(self, service: str, methods: dict[str, grpc.RpcMethodHandler]) -> None:
        self.services.add(service)
        self.table.update((f"/{service}/{name}", handler) for name, handler in methods.items())

    def add_generic_rpc_handlers(self, handlers: Sequence[Any]) -> None:
        self.generic.extend(handlers)

    def leftovers(self) -> tuple[Any, ...]:
        """Generic handlers of services that were not also registered (older generated code)."""
        return tuple(h for h in self.generic if getattr(h, "service_name", lambda: None)() not in self.services)


class GrpcServer:
    """A grpc.aio server with the protocols' methods, health and reflection, on this event loop."""

    def __init__(
        self,
        handlers: Sequence[ProtocolHandler],
        settings: Settings,
        ready: Callable[[], bool],
        metrics: ServerMetrics | None = None,
        tracer: Tracing | None = None,
        gate: Gate | None = None,
    ):
        self.settings = settings
        self.gate = gate or Gate()
        self.server = self._make_server()
        services: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
        for handler in handlers:
            for method in handler.rpc_methods():
                recorder = None
                if metrics is not None and not method.probe:
                    recorder = metrics.route("grpc", handler.protocol, f"/{method.service}/{method.name}")
                methods = services.setdefault(method.service, {})
                methods[method.name] = self._method_handler(method, handler, recorder)
        if tracer is not None:
            services = tracer.grpc_methods(services)
        table: dict[str, grpc.RpcMethodHandler] = {}
        for service, methods in services.items():
            if settings.access_log:
                methods = access_log.grpc_methods(service, methods)
            table.update((f"/{service}/{name}", handler) for name, handler in methods.items())
        self.services = tuple(services)
        self.health = self._health(self.services, ready)
        messages.add_file(health_pb2.DESCRIPTOR)
        messages.add_file(reflection_pb2.DESCRIPTOR)
        # Merlin's server lists only its own service and reflection (its health is not reflected).
        reflected = self.services if settings.merlin else (*self.services, HEALTH_SERVICE)
        collected = _Collector(table)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, collected)
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
            self._reflection((*reflected, reflection.SERVICE_NAME), pool=messages.POOL), collected
        )
        self.methods = table
        self.server.add_generic_rpc_handlers((MethodTable(table), *collected.leftovers()))
        self.port: int | None = None

    def _make_server(self) -> Any:
        return grpc.aio.server(options=server_options(self.settings))

    def _method_handler(self, method: RpcMethod, handler: ProtocolHandler, recorder: Route | None) -> Any:
        return unary_handler(method, handler, recorder, self.gate, self.settings.request_timeout)

    _health: Callable[..., Any] = _Health
    _reflection: Callable[..., Any] = reflection.aio.ReflectionServicer

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
        await self.server.start()
        for service in ("", *self.services):  # what Watch reports until the drain
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        """Drain: NOT_SERVING for good; new calls answered UNAVAILABLE (clients retry them
        elsewhere) while the calls under way finish, within ``grace`` seconds; then GOAWAY
        and close.  Stopping grpc.aio with calls still arriving would answer some CANCELLED."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        self.gate.close()
        await self.health.enter_graceful_shutdown()
        try:
            await asyncio.wait_for(self.gate.idle.wait(), grace)
        except TimeoutError:
            logger.warning("%d calls still running after %.0fs: cancelling them", self.gate.running, grace)
        if self.port is not None:
            # Calls that reach grpc.aio after this point would be answered CANCELLED by its
            # shutdown; cut the connections first, so that their clients see UNAVAILABLE.
            cut_connections(self.port)
        await self._close(max(0.0, min(1.0, deadline - loop.time())))

    async def _close(self, grace: float) -> None:
        """Stop the server itself (GOAWAY, then close), within ``grace`` seconds."""
        await self.server.stop(grace)


def cut_connections(port: int) -> int:
    """Shut down, at the TCP level, this process's sockets on ``port`` (the connections of the
    gRPC server and its listener): what their clients send next fails UNAVAILABLE, a code
    gRPC clients retry, where grpc.aio's own shutdown would cancel calls it has read but not
    yet started.  The number of sockets shut down; 0 where /proc is not there."""
    cut = 0
    try:
        descriptors = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    for name in descriptors:
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except (OSError, ValueError):
            continue
        try:
            inet = sock.type == socket.SOCK_STREAM and sock.family in (socket.AF_INET, socket.AF_INET6)
            if inet and sock.getsockname()[1] == port:
                sock.shutdown(socket.SHUT_RDWR)
                cut += 1
        except OSError:
            pass
        finally:
            sock.close()
    return cut
