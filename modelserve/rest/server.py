"""The HTTP server of a worker: listening sockets, their connections, and the drain.

The listening sockets are made by the supervisor (shared by every REST worker); this
server accepts from them on its event loop (uvloop) and runs one ``HttpConnection``
(``rest/protocol.py``) per connection.

The drain (SIGTERM, or a recycle after ``--max-requests``) loses nothing that reached
the server:
1. on SIGTERM the supervisor has already stopped new connections from entering the
   shared accept queue (``workers/sockets.py``): the server accepts what is still queued,
   then stops listening (on a recycle it stops at once: the other workers, or the
   replacement, take what is queued);
2. every answer from now on says ``Connection: close``, and requests already read or
   arriving on open connections are answered;
3. an idle connection is closed once its keep-alive time ends (a request sent on it
   before is answered);
4. when no connection is left, or ``--graceful-timeout`` has passed, the drain ends.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import select
import socket
import time
from collections.abc import Callable
from typing import Any

from modelserve.errors import ServingError
from modelserve.rest.protocol import ErrorRenderer, HttpConnection, HttpLimits
from modelserve.settings import Settings

logger = logging.getLogger("modelserve.http")

QUEUE_DRAIN_LIMIT = 1.0  # seconds spent accepting what is left in the accept queue
_RESERVED_DESCRIPTORS = 64  # kept for the model, log files, the metrics file...


def limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        max_url=settings.max_url_size,
        max_header_bytes=settings.max_header_size,
        max_headers=settings.max_header_count,
        max_body=settings.max_body_size,
        read_timeout=settings.read_timeout,
        keepalive=float(settings.keepalive),
    )


def connection_limit(settings: Settings) -> int:
    """``--max-connections``, or what the process's descriptor limit allows."""
    if settings.max_connections > 0:
        return settings.max_connections
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(16, soft - _RESERVED_DESCRIPTORS)


class HttpServer:
    def __init__(
        self,
        limits: HttpLimits,
        max_connections: int,
        max_requests: int | None = None,
        on_max_requests: Callable[[], None] | None = None,
    ):
        self.limits = limits
        self.max_connections = max_connections
        self.loop = asyncio.get_running_loop()
        self.connections: set[HttpConnection] = set()
        self.draining = False
        self.requests = 0
        self._max_requests = max_requests
        self._on_max_requests = on_max_requests
        self._listeners: list[tuple[asyncio.AbstractServer, socket.socket]] = []
        self._all_closed = asyncio.Event()
        self._refusals = 0
        self._refusals_logged_at = 0.0

    async def listen(self, sock: socket.socket, app: Any, render_error: ErrorRenderer) -> None:
        """Serve ``app`` on ``sock`` (already bound and listening)."""
        server = await self.loop.create_server(lambda: HttpConnection(self, app, render_error), sock=sock)
        self._listeners.append((server, sock))

    # -- what the connections report

    def request_done(self) -> None:
        self.requests += 1
        if self._max_requests is not None and self.requests >= self._max_requests and not self.draining:
            self._max_requests = None
            if self._on_max_requests is not None:
                self._on_max_requests()

    def connection_closed(self) -> None:
        if self.draining and not self.connections:
            self._all_closed.set()

    def refused(self, client: Any, error: ServingError) -> None:
        """A request answered by the HTTP layer itself (bound broken, unparsable): logged, at most once a second."""
        self._refusals += 1
        now = time.monotonic()
        if now - self._refusals_logged_at >= 1.0:
            more = f" ({self._refusals - 1} more since the last one logged)" if self._refusals > 1 else ""
            logger.info("refused a request from %s: %d %s%s", _peer(client), error.status_code, error.message, more)
            self._refusals_logged_at, self._refusals = now, 0

    # -- the drain

    async def drain(self, timeout: float, accept_queued: bool) -> None:
        """Stop listening and answer what reached the server; ``accept_queued``: first take what
        is left in the accept queue (the supervisor closed it to new connections)."""
        self.draining = True
        if accept_queued:
            await self._accept_what_is_queued()
        for server, _ in self._listeners:
            server.close()
        deadline = self.loop.time() + timeout
        for connection in list(self.connections):
            if not connection.reading and not connection.pending:
                connection.idle()  # closes at the end of its keep-alive time
        if self.connections:
            try:
                await asyncio.wait_for(self._all_closed.wait(), max(0.0, deadline - self.loop.time()))
            except TimeoutError:
                logger.warning("%d connections still open after %.0fs: closing them", len(self.connections), timeout)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()

    async def _accept_what_is_queued(self) -> None:
        give_up = self.loop.time() + QUEUE_DRAIN_LIMIT
        while self.loop.time() < give_up:
            pending = [sock for _, sock in self._listeners if sock.fileno() >= 0 and _readable(sock)]
            if not pending:
                return
            await asyncio.sleep(0.005)  # the loop accepts them meanwhile


def _readable(sock: socket.socket) -> bool:
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return False


def _peer(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if isinstance(client, tuple) else "?"
