"""The supervisor's metrics endpoint: a small HTTP/1.0-style server on a selector.

The supervisor forks workers whenever one has to be replaced, so it runs no threads
and no event loop (a thread holding a lock at fork time would deadlock the child).
This server is driven by the supervisor's own selector: one request per connection,
answered in full, then closed.
"""

from __future__ import annotations

import logging
import selectors
import socket
import time
from collections.abc import Callable

from modelserve import access_log

logger = logging.getLogger(__name__)

MAX_REQUEST_HEAD = 16 * 1024
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
MAX_CONNECTIONS = 256  # scrapers are few: more open connections are closed at once
ACCEPT_BACKOFF = 0.5  # seconds without accepting after accept() failed (e.g. no descriptor left)

# Renders the metrics for an Accept header: (body, content type).
Render = Callable[[str], tuple[bytes, str]]


class _Connection:
    __slots__ = ("buffer", "opened", "sock")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.opened = time.monotonic()


class MetricsServer:
    def __init__(
        self, sock: socket.socket, endpoint: str, render: Render, log_scrapes: bool = False, any_path: bool = False
    ):
        self.listener = sock
        self.endpoint = endpoint
        # Answer every path, and other methods as prometheus_client's start_http_server did
        # (Merlin's UPI_V1 serves its metrics so on the HTTP port).
        self.any_path = any_path
        self.render = render
        self.log_scrapes = log_scrapes
        self.connections: dict[int, _Connection] = {}
        self.paused_until: float | None = None  # accepting again after a failed accept()
        self._failures_logged_at = 0.0
        sock.setblocking(False)

    def register(self, selector: selectors.BaseSelector) -> None:
        selector.register(self.listener, selectors.EVENT_READ, self._accept)

    def _accept(self, selector: selectors.BaseSelector) -> None:
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            # Out of descriptors (EMFILE, ENFILE), or the like: a client cannot stop the
            # supervisor.  Stop watching the listener for a moment (the pending connection
            # stays queued), then go on.
            now = time.monotonic()
            if now - self._failures_logged_at > 10.0:
                logger.warning("metrics port: accept failed (%s): pausing %.1fs", error.strerror, ACCEPT_BACKOFF)
                self._failures_logged_at = now
            selector.unregister(self.listener)
            self.paused_until = now + ACCEPT_BACKOFF
            self._shed(selector)
            return
        if len(self.connections) >= MAX_CONNECTIONS:
            conn.close()
            return
        conn.setblocking(False)
        connection = _Connection(conn)
        self.connections[conn.fileno()] = connection
        selector.register(conn, selectors.EVENT_READ, lambda sel: self._read(sel, connection))

    def _read(self, selector: selectors.BaseSelector, connection: _Connection) -> None:
        try:
            chunk = connection.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close(selector, connection)
            return
        connection.buffer += chunk
        if b"\r\n\r\n" in connection.buffer or b"\n\n" in connection.buffer:
            self._answer(connection)
            self._close(selector, connection)
        elif len(connection.buffer) > MAX_REQUEST_HEAD:
            self._close(selector, connection)

    def _answer(self, connection: _Connection) -> None:
        start = time.perf_counter()
        head = connection.buffer.split(b"\n", 1)
        parts = head[0].decode("latin-1").split()
        method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD") and self.any_path:
            self._send(
                connection,
                "405 Method Not Allowed",
                f"# HTTP 405 Method Not Allowed: {method}; use OPTIONS or GET\n".encode(),
                None,
                method,
            )
            return
        if method not in ("GET", "HEAD"):
            status, body, content_type = "405 Method Not Allowed", b"Method Not Allowed\n", "text/plain; charset=utf-8"
        elif path != self.endpoint and not self.any_path:
            status, body, content_type = "404 Not Found", b"Not Found\n", "text/plain; charset=utf-8"
        else:
            try:
                body, content_type = self.render(_accept_header(connection.buffer))
                status = "200 OK"
            except Exception:  # a broken collector must not stop the supervisor
                logger.exception("rendering metrics failed")
                status, body, content_type = "500 Internal Server Error", b"error\n", "text/plain; charset=utf-8"
        self._send(connection, status, body, content_type, method)
        if self.log_scrapes:
            access_log.record(method, path, int(status[:3]), time.perf_counter() - start)

    def _send(self, connection: _Connection, status: str, body: bytes, content_type: str | None, method: str) -> None:
        typed = f"Content-Type: {content_type}\r\n" if content_type else ""
        response = (
            f"HTTP/1.1 {status}\r\n{typed}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + (body if method != "HEAD" else b"")
        try:
            connection.sock.setblocking(True)
            connection.sock.settimeout(WRITE_TIMEOUT)
            connection.sock.sendall(response)
        except OSError:
            pass

    def _close(self, selector: selectors.BaseSelector, connection: _Connection) -> None:
        self.connections.pop(connection.sock.fileno(), None)
        try:
            selector.unregister(connection.sock)
        except (KeyError, ValueError):
            pass
        connection.sock.close()

    def expire(self, selector: selectors.BaseSelector) -> None:
        """Close connections that sent no complete request in time; accept again after a pause."""
        now = time.monotonic()
        for connection in list(self.connections.values()):
            if now - connection.opened > READ_TIMEOUT:
                self._close(selector, connection)
        if self.paused_until is not None and now >= self.paused_until:
            self.paused_until = None
            selector.register(self.listener, selectors.EVENT_READ, self._accept)

    def _shed(self, selector: selectors.BaseSelector) -> None:
        """Descriptors ran out: drop the oldest half of the connections that sent nothing yet."""
        idle = sorted((c for c in self.connections.values() if not c.buffer), key=lambda c: c.opened)
        for connection in idle[: max(1, len(idle) // 2)]:
            self._close(selector, connection)

    def close(self, selector: selectors.BaseSelector | None = None) -> None:
        for connection in list(self.connections.values()):
            if selector is not None:
                self._close(selector, connection)
            else:
                connection.sock.close()
        self.connections.clear()
        self.listener.close()


def _accept_header(head: bytes) -> str:
    for line in head.split(b"\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"accept":
            return value.strip().decode("latin-1")
    return ""
