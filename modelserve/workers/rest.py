"""A REST worker: the HTTP server (rest/server.py) serving the REST app on the listening
socket it inherited from the supervisor, until SIGTERM or its --max-requests, then a drain."""

from __future__ import annotations

import asyncio
import signal
import socket
from typing import TYPE_CHECKING

from modelserve.rest.server import HttpServer, connection_limit, limits
from modelserve.workers.assembly import Assembly, assemble, http_error, rest_app

if TYPE_CHECKING:
    from modelserve.workers.supervisor import Slot, Supervisor


def run_rest_worker(supervisor: Supervisor, slot: Slot) -> int:
    import uvloop

    model, settings = supervisor.model, supervisor.settings
    assert model is not None and isinstance(supervisor.rest_socket, socket.socket)
    assembly = assemble(model, settings, supervisor.metrics_dir, settings.user_threads, supervisor.peers_ready)
    try:
        uvloop.run(serve(assembly, supervisor))
        # Drained: a second SIGTERM (the supervisor's, after a signal sent to the whole
        # process group) must not turn this clean exit into a death by signal.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    finally:
        assembly.close()
    return 0


async def serve(assembly: Assembly, supervisor: Supervisor) -> None:
    settings = assembly.plane.settings
    stop = asyncio.Event()
    recycling = False

    def recycle() -> None:
        nonlocal recycling
        recycling = True
        supervisor.leave()  # the supervisor starts the replacement now, not after the drain
        stop.set()

    server = HttpServer(limits(settings), connection_limit(settings), supervisor.max_requests_for_worker(), recycle)
    assert supervisor.rest_socket is not None
    await server.listen(supervisor.rest_socket, rest_app(assembly, settings), http_error(assembly))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    supervisor.mark_serving()
    await stop.wait()
    assembly.plane.drain()
    await server.drain(settings.graceful_timeout, accept_queued=not recycling)
