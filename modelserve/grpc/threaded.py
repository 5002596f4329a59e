"""The threaded gRPC transport (``--grpc-server threads``): grpcio's synchronous server.

grpc.aio hands every call from its completion queue to the event loop, and that hand-over
costs more than a small call's own work: on one core a bare grpc.aio server answering
fixed bytes makes about 3,400 calls/s (4,000 on uvloop), grpcio's synchronous server with a
pool of four threads about 6,000 (docs/performance.md).  Here each call runs on a pool
thread from request bytes to answer bytes, the user's method included: the same
protocol handlers and data plane as on grpc.aio, whose coroutines complete without ever
waiting on a loop, so they are driven to their end on the calling thread
(``dataplane.bounds.run_to_end``).

What the data plane's coroutines must not do here (awaiting a loop's future) decides
where this server may be used (``workers.assembly.threaded_grpc_blocker``): plain user
methods only, and no batching.  Otherwise grpc.aio serves.

The guarantees of grpc.aio's transport hold (docs/reliability.md): at most ``--grpc-threads``
user calls at once and ``--max-queue`` waiting (``dataplane.bounds.ThreadBounds``), a few
pool threads beyond those for health checks, UNAVAILABLE while draining, deadlines.  A call
with a deadline (the client's, or ``--request-timeout``) has its user method run on a user
thread, so that its request is answered DEADLINE_EXCEEDED on time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import reflection

from modelserve.dataplane.bounds import DEADLINE, run_to_end
from modelserve.errors import ServingError
from modelserve.grpc.server import (
    Gate,
    GrpcServer,
    abort_details,
    answering,
    server_options,
    status_of,
)
from modelserve.handlers.contract import ProtocolHandler, RpcMethod
from modelserve.metrics.recorder import Route

PROBE_THREADS = 4  # pool threads beyond the user calls' own: health checks never wait for a thread
NO_DEADLINE = 1e8  # seconds: grpcio's synchronous context reports "infinite" as a huge number


class ThreadGate(Gate):
    """The Gate of a server whose calls run on many threads; its events fire on ``loop``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        max_calls: int | None = None,
        on_max_calls: Callable[[], None] | None = None,
    ):
        def on_loop() -> None:  # (a pool thread reaches max_calls; the worker stops on its loop)
            if on_max_calls is not None:
                loop.call_soon_threadsafe(on_max_calls)

        super().__init__(max_calls, on_loop)
        self._loop = loop
        self._lock = threading.Lock()

    def entered(self) -> None:
        with self._lock:
            self.running += 1

    def left(self) -> None:
        with self._lock:
            self.running -= 1
            self.calls += 1
            idle = self.draining and not self.running
            recycle = not self.draining and self._max_calls is not None and self.calls >= self._max_calls
            if recycle:
                self._max_calls = None
        if idle:
            self._loop.call_soon_threadsafe(self.idle.set)
        if recycle and self._on_max_calls is not None:
            self._on_max_calls()

    def close(self) -> None:  # on the loop's thread
        with self._lock:
            self.draining = True
            idle = not self.running
        if idle:
            self.idle.set()


def threaded_handler(
    method: RpcMethod, handler: ProtocolHandler, recorder: Route | None, gate: Gate, request_timeout: float
) -> grpc.RpcMethodHandler:
    """A unary-unary method on a pool thread: parse, call, serialize; or abort with the error's code."""
    # A call counts in the gate until grpcio has sent its answer (the RPC's termination),
    # not only until it returns it: a drain cuts the connections once the gate is idle.
    answer = answering(method, handler, gate, count=False)
    set_deadline, reset_deadline = DEADLINE.set, DEADLINE.reset

    def respond(data: bytes, context: grpc.ServicerContext) -> bytes | ServingError:
        remaining: float | None = context.time_remaining()
        if remaining is not None and remaining > NO_DEADLINE:
            remaining = None
        if remaining is None and not request_timeout:
            return run_to_end(answer(data, context))
        if remaining is None or (request_timeout and request_timeout < remaining):
            remaining = request_timeout
        token = set_deadline(time.monotonic() + remaining)  # (ThreadBounds' clock)
        try:
            return run_to_end(answer(data, context))
        finally:
            reset_deadline(token)  # the pool thread's context outlives the call

    def call(data: bytes, context: grpc.ServicerContext) -> bytes:
        gate.entered()
        if not context.add_callback(gate.left):  # already over (the client went away)
            gate.left()
        if recorder is None:
            result = respond(data, context)
        else:
            started = time.perf_counter()
            recorder.start()
            status, size = "CANCELLED", 0
            try:
                result = respond(data, context)
                status, size = status_of(result)
            finally:
                recorder.finish(status, time.perf_counter() - started, len(data), size)
        if isinstance(result, ServingError):
            code, details, metadata = abort_details(result, handler)
            if metadata:
                context.set_trailing_metadata(metadata)
            context.abort(code, details)
        return result  # type: ignore[return-value]  # abort() raises

    return grpc.unary_unary_rpc_method_handler(call)


class _ThreadHealth(health.HealthServicer):
    """grpc.health.v1 on the threaded server: as ``server._Health``."""

    def __init__(self, services: Any, ready: Callable[[], bool]):
        super().__init__(experimental_non_blocking=True, experimental_thread_pool=None)
        self.services = frozenset(("", *services))
        self.ready = ready

    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.service not in self.services:
            return super().Check(request, context)  # NOT_FOUND
        serving = self.ready() and not self._gracefully_shutting_down
        return health_pb2.HealthCheckResponse(
            status=health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )

    async def set(self, service: str, status: Any) -> None:  # as grpc.aio's (awaited by the worker)
        super().set(service, status)

    async def enter_graceful_shutdown(self) -> None:
        super().enter_graceful_shutdown()


class ThreadedGrpcServer(GrpcServer):
    """The protocols' methods, health and reflection on grpcio's synchronous server; started
    and stopped from the worker's event loop, like ``GrpcServer``."""

    _health = _ThreadHealth
    _reflection = reflection.ReflectionServicer

    def _make_server(self) -> Any:
        threads = self.settings.grpc_user_threads + self.settings.max_queue + PROBE_THREADS
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc-call")
        return grpc.server(self._pool, options=server_options(self.settings))

    def _method_handler(self, method: RpcMethod, handler: ProtocolHandler, recorder: Route | None) -> Any:
        return threaded_handler(method, handler, recorder, self.gate, self.settings.request_timeout)

    async def start(self) -> None:
        self.server.start()
        for service in ("", *self.services):
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    async def _close(self, grace: float) -> None:
        """grpcio's synchronous stop (its event set once stopped), then the pool."""
        stopped = self.server.stop(grace)
        await asyncio.get_running_loop().run_in_executor(None, stopped.wait)
        self._pool.shutdown(wait=False)
