"""A gRPC worker: the protocols' gRPC services on the gRPC port, which every gRPC worker
binds with SO_REUSEPORT so that the kernel spreads connections over them."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

from modelserve.workers.assembly import Assembly, assemble, grpc_server

if TYPE_CHECKING:
    from modelserve.workers.supervisor import Slot, Supervisor

logger = logging.getLogger("modelserve.grpc")


def run_grpc_worker(supervisor: Supervisor, slot: Slot) -> int:
    # grpcio is imported in the worker, after the fork: its threads must not exist in the supervisor.
    import uvloop

    model, settings = supervisor.model, supervisor.settings
    assert model is not None
    assembly = assemble(
        model, settings, supervisor.metrics_dir, settings.grpc_user_threads, supervisor.peers_ready, grpc=True
    )
    try:
        uvloop.run(serve(assembly, supervisor))
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # drained: a second SIGTERM must not cut the export
    finally:
        assembly.close()
    return 0


async def serve(assembly: Assembly, supervisor: Supervisor) -> None:
    """Serve gRPC until SIGTERM, SIGINT or --max-requests, then drain for ``graceful_timeout``."""
    settings = assembly.plane.settings
    stop = asyncio.Event()

    def recycle() -> None:
        supervisor.leave()  # the supervisor starts the replacement now, not after the drain
        stop.set()

    server = grpc_server(assembly, settings, supervisor.max_requests_for_worker(), recycle)
    server.bind(settings.host, settings.grpc_port)
    await server.start()
    supervisor.mark_serving()
    heartbeat = asyncio.ensure_future(supervisor.keep_beating(assembly.plane.calls_on_time))
    kind = "threads" if assembly.threaded_grpc else "aio"
    logger.info("serving %s: gRPC (%s) on %s:%d", settings.interface_name, kind, settings.host, server.port or 0)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    heartbeat.cancel()
    assembly.plane.drain()
    await server.stop(settings.graceful_timeout)
