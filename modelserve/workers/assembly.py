"""What a serving process is made of, built in one place for every kind of process.

A REST worker, a gRPC worker and the one process of ``--debug`` all call ``assemble``:
the model loaded, its user calls set up (threads), tracing started, the process's
metrics opened, the data plane over them, and one handler per protocol.  The
transports are then built from the handlers (``rest_app``, ``grpc_server``).

Registering a protocol is one line in ``PROTOCOLS``: its handler declares its REST routes
and gRPC methods, and both transports serve what it declares.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelserve import tracing
from modelserve.access_log import AccessLogApp
from modelserve.dataplane import DataPlane
from modelserve.errors import ServingError
from modelserve.handlers.contract import ProtocolHandler
from modelserve.handlers.kserve_v1 import KServeV1Handler
from modelserve.handlers.merlin import MerlinHandler
from modelserve.handlers.openapi import OpenApiHandler
from modelserve.handlers.seldon import SeldonHandler
from modelserve.handlers.upi import UpiHandler
from modelserve.handlers.v2 import V2Handler
from modelserve.metrics import open_metrics
from modelserve.metrics.recorder import ServerMetrics
from modelserve.model import Adapter, LoadedModel
from modelserve.rest.app import RestApp
from modelserve.settings import Settings

if TYPE_CHECKING:
    from modelserve.grpc.server import GrpcServer
    from modelserve.tracing.otel import Tracing

# The protocols a user's class is served with, in the order their routes are looked up
# (the first one's error format answers unknown paths).
logger = logging.getLogger("modelserve.workers")

PROTOCOLS: tuple[type[ProtocolHandler], ...] = (
    SeldonHandler,
    V2Handler,
    KServeV1Handler,
)

# An MLflow pyfunc model (--model-dir) speaks Merlin's protocol of CARAML_PROTOCOL.
PYFUNC_PROTOCOLS: dict[str, tuple[type[ProtocolHandler], ...]] = {
    "HTTP_JSON": (MerlinHandler,),
    "UPI_V1": (UpiHandler,),
}


def protocols(settings: Settings) -> tuple[type[ProtocolHandler], ...]:
    return PYFUNC_PROTOCOLS[settings.protocol] if settings.merlin else PROTOCOLS


@dataclass
class Assembly:
    plane: DataPlane
    handlers: list[ProtocolHandler]
    metrics: ServerMetrics | None
    tracer: Tracing | None
    threaded_grpc: bool = False  # gRPC on grpcio's synchronous server (grpc/threaded.py)

    def close(self) -> None:
        self.plane.close()
        if self.tracer is not None:
            self.tracer.shutdown()  # export the spans still queued


def assemble(
    model: LoadedModel,
    settings: Settings,
    metrics_dir: str,
    user_threads: int,
    peers_ready: Callable[[], bool] | None = None,
    grpc: bool = False,
) -> Assembly:
    """Everything a serving process needs, after the fork: ``user_threads`` user calls at once;
    ``grpc``: for a gRPC worker (which may run on the threaded server)."""
    model.load()
    threaded = False
    if grpc and settings.grpc_server == "threads":
        blocker = threaded_grpc_blocker(settings, model.component)
        if blocker:  # said louder when the user asked for threads
            chosen = logging.WARNING if "grpc_server" in settings.sources else logging.INFO
            logger.log(chosen, "gRPC served with grpc.aio, not the threaded server: %s", blocker)
        threaded = not blocker
    on_loop = settings.user_calls_on_loop or threaded  # threaded: on the server's pool thread
    model.component.set_threads(user_threads, serial=settings.single_threaded, on_loop=on_loop)
    tracer = tracing.start(settings)
    metrics = open_metrics(metrics_dir, settings)
    plane = DataPlane(model, settings, metrics, tracer, peers_ready, threaded=threaded)
    handlers = [protocol(plane, settings) for protocol in protocols(settings)]
    if not settings.merlin:  # (Merlin's server has no such document: its routes stay its own)
        handlers.append(OpenApiHandler(handlers))  # /openapi.json and /docs of every route above
    return Assembly(plane, handlers, metrics, tracer, threaded)


def threaded_grpc_blocker(settings: Settings, component: Adapter) -> str:
    """Why the threaded gRPC server cannot serve this model ("" when it can): its calls must
    run to their end on a pool thread, which a coroutine awaiting a loop cannot."""
    if component.has_async_methods():
        return "the model has async methods"
    if settings.batching:
        return "batching merges requests on an event loop"
    return ""


def rest_app(assembly: Assembly, settings: Settings) -> Any:
    """The REST app as the HTTP server serves it: inside the tracing and access-log wrappers when on."""
    served: Any = RestApp(assembly.handlers, settings.max_body_size, assembly.metrics, settings.request_timeout)
    if assembly.tracer is not None:
        served = assembly.tracer.asgi(served)
    return AccessLogApp(served) if settings.access_log else served


def http_error(assembly: Assembly) -> Callable[[ServingError], tuple[int, bytes, bytes]]:
    """How the HTTP layer answers a request it refuses itself: in the first protocol's error format."""
    render = assembly.handlers[0].http_error

    def render_error(error: ServingError) -> tuple[int, bytes, bytes]:
        status, content_type, body = render(error)[:3]
        return status, content_type, body

    return render_error


def grpc_server(
    assembly: Assembly,
    settings: Settings,
    max_calls: int | None = None,
    on_max_calls: Callable[[], None] | None = None,
) -> GrpcServer:
    """The gRPC server of the handlers' methods (grpcio is imported here: after the fork);
    ``on_max_calls`` is called once it has answered ``max_calls`` calls."""
    from modelserve.grpc.server import Gate, GrpcServer

    ready = lambda: assembly.plane.ready  # noqa: E731
    if assembly.threaded_grpc:
        import asyncio

        from modelserve.grpc.threaded import ThreadedGrpcServer, ThreadGate

        gate = ThreadGate(asyncio.get_running_loop(), max_calls, on_max_calls)
        return ThreadedGrpcServer(assembly.handlers, settings, ready, assembly.metrics, assembly.tracer, gate)
    return GrpcServer(
        assembly.handlers, settings, ready, assembly.metrics, assembly.tracer, Gate(max_calls, on_max_calls)
    )
