"""A REST worker: uvicorn serving the REST app on the listening socket it inherited."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from modelserve.dataplane import DataPlane
from modelserve.rest.server import uvicorn_config
from modelserve.workers.assembly import assemble, rest_app

if TYPE_CHECKING:
    from modelserve.workers.supervisor import Slot, Supervisor


ACCEPTED_GRACE = 0.05  # seconds


class DrainingServer(uvicorn.Server):
    """uvicorn's server, telling the data plane it drains as soon as the stop signal comes."""

    def __init__(self, config: uvicorn.Config, plane: DataPlane, on_serving: Callable[[], None]):
        super().__init__(config)
        self.plane = plane
        self.on_serving = on_serving

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_serving()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.plane.drain()
        super().handle_exit(sig, frame)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn raises the stop signal again once it has shut down, which would kill the
        # worker before its own clean-up (the spans still to export): the drain is the
        # answer to the signal, so the worker then exits normally.
        with super().capture_signals():
            yield
            self._captured_signals.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn closes every connection that has no request under way.  One accepted a
        # moment ago usually has its request on the wire already: stop accepting, give
        # such requests a moment to arrive (and be answered), then shut down.
        for server in self.servers:
            server.close()
        await asyncio.sleep(ACCEPTED_GRACE)
        await super().shutdown(sockets)


def run_rest_worker(supervisor: Supervisor, slot: Slot) -> int:
    model, settings = supervisor.model, supervisor.settings
    assert model is not None and isinstance(supervisor.rest_socket, socket.socket)
    assembly = assemble(model, settings, supervisor.metrics_dir, settings.user_threads, supervisor.peers_ready)
    config = uvicorn_config(rest_app(assembly, settings), settings)
    config.limit_max_requests = supervisor.max_requests_for_worker()
    try:
        DrainingServer(config, assembly.plane, supervisor.mark_serving).run(sockets=[supervisor.rest_socket])
        # Drained: a second SIGTERM (the supervisor's, after a signal sent to the whole
        # process group) must not turn this clean exit into a death by signal.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    finally:
        assembly.close()
    return 0
