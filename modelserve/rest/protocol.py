"""HTTP/1.1 on a connection: bytes parsed by httptools, each request handed to an ASGI app.

One ``HttpConnection`` per TCP connection; the ``HttpServer`` (``rest/server.py``) owns
them.  What a request may be is bounded before anything is allocated for it: the
request line (URL) and the headers by size and count, the body by ``--max-body-size``
(refused from its Content-Length when it says so), and the time a request may take to
arrive (``--read-timeout``: headers within it, then no pause of the body longer than it).
A request that breaks a bound, or that does not parse, is answered in the protocol's
own error format (``render_error``: a JSON body, never text or HTML) and the connection
is closed without a reset (a lingering close: unread bytes are drained first).

A request is read whole before the app runs (every endpoint needs its whole body), so
the app gets one ``http.request`` message.  Requests pipelined on a connection are
answered in order.  A keep-alive connection is closed only between requests: when the
server drains (or ``--keepalive 0``), the answer of the request under way says
``Connection: close``, and an idle connection stays open until its keep-alive time
ends, so that a request sent on it meanwhile is still answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httptools

from modelserve.errors import (
    BAD_DATA,
    HEADERS_TOO_LARGE,
    NOT_IMPLEMENTED,
    OVERLOADED,
    PAYLOAD_TOO_LARGE,
    REQUEST_TIMEOUT,
    URI_TOO_LONG,
    ServingError,
)

if TYPE_CHECKING:
    from modelserve.rest.server import HttpServer

logger = logging.getLogger("modelserve.http")

Scope = dict[str, Any]
Message = dict[str, Any]
ErrorRenderer = Callable[[ServingError], tuple[int, bytes, bytes]]

LINGER_SECONDS = 2.0  # how long unread bytes are drained before a connection closes
LINGER_BYTES = 64 * 1024
MAX_PIPELINED = 16  # requests read ahead of the one being answered; then reading pauses

_REASONS = {
    100: b"Continue",
    200: b"OK",
    201: b"Created",
    202: b"Accepted",
    204: b"No Content",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    409: b"Conflict",
    413: b"Content Too Large",
    414: b"URI Too Long",
    415: b"Unsupported Media Type",
    422: b"Unprocessable Content",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}
_STATUS_LINES: dict[int, bytes] = {}


def status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        reason = _REASONS.get(status, b"Unknown")
        line = _STATUS_LINES[status] = b"HTTP/1.1 %d %s\r\n" % (status, reason)
    return line


@dataclass(frozen=True)
class HttpLimits:
    max_url: int = 64 * 1024
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    max_body: int = 100 << 20
    read_timeout: float = 30.0
    keepalive: float = 2.0  # seconds an idle connection stays open between requests; 0: none


class _Refused(Exception):
    """A bound was broken while parsing: answered with ``error``, then the connection closes."""

    def __init__(self, error: ServingError):
        self.error = error


class _Date:
    """The Date header, formatted once a second."""

    def __init__(self) -> None:
        self.second = 0
        self.header = b""

    def get(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second = now
            self.header = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self.header


DATE = _Date()


class Exchange:
    """One request and its answer: the ASGI receive/send pair of the app's call."""

    __slots__ = ("_body_read", "_head", "body", "close_after", "connection", "finished", "head_sent", "scope", "status")

    def __init__(self, connection: HttpConnection, scope: Scope, body: bytes, close_after: bool):
        self.connection = connection
        self.scope = scope
        self.body = body
        self.close_after = close_after  # this answer is the connection's last
        self.head_sent = False
        self.finished = False
        self.status = 0
        self._body_read = False
        self._head: Any = ()

    async def receive(self) -> Message:
        if not self._body_read:
            self._body_read = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.connection.closed.wait()  # nothing more comes: only the client going away
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        connection = self.connection
        kind = message["type"]
        if kind == "http.response.start":
            if self.head_sent:
                raise RuntimeError("http.response.start sent twice")
            self.head_sent = True
            self.status = message["status"]
            self._head = message.get("headers", ())
            return
        if kind != "http.response.body" or self.finished:
            return
        body = message.get("body", b"")
        if message.get("more_body"):
            raise RuntimeError("streamed answers are not supported: send the whole body at once")
        self.finished = True
        if connection.transport is None or connection.transport.is_closing():
            return
        if connection.server.draining or not connection.server.limits.keepalive:
            self.close_after = True
        connection.write_response(self.status, self._head, body, self.close_after, self.scope["method"] == "HEAD")


class HttpConnection(asyncio.Protocol):
    def __init__(self, server: HttpServer, app: Any, render_error: ErrorRenderer):
        self.server = server
        self.app = app
        self.render_error = render_error
        self.limits = server.limits
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.closed = asyncio.Event()
        self.scope_base: Scope = {}
        self.pending: deque[Exchange] = deque()  # requests read, not answered yet (the first one is running)
        self.running: asyncio.Task[None] | None = None
        self.reading = False  # a request's first bytes came and it is not complete
        self.timer: asyncio.TimerHandle | None = None
        self.lingering = -1  # bytes discarded while lingering (-1: not lingering)
        self.paused = False
        self.deferred: ServingError | None = None  # a refusal waiting for the answers before it
        # the request being parsed
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._expect_continue = False

    # -- connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's, not asyncio's class
        server, client = transport.get_extra_info("sockname"), transport.get_extra_info("peername")
        self.scope_base = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "scheme": "http",
            "root_path": "",
            "server": tuple(server[:2]) if isinstance(server, tuple) else None,
            "client": tuple(client[:2]) if isinstance(client, tuple) else None,
        }
        self.server.connections.add(self)
        if len(self.server.connections) > self.server.max_connections:
            self.refuse(ServingError("Too many connections to this worker: try again", 503, OVERLOADED))
            return
        self._wait(self.limits.read_timeout)  # a new connection has as long as a request to send one

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self._cancel_timer()
        self.closed.set()
        self.transport = None
        if self.running is not None and not self.running.done():
            self.running.cancel()  # the client went away: nobody reads the answer
        self.server.connection_closed()

    def data_received(self, data: bytes) -> None:
        if self.lingering >= 0:
            self.lingering += len(data)
            if self.lingering > LINGER_BYTES:
                self._close()
            return
        if not self.reading:
            self.reading = True
            self._wait(self.limits.read_timeout)  # the headers must arrive within the read timeout
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            cause = error.__context__
            if isinstance(cause, _Refused):
                self.refuse(cause.error)
            else:
                logger.exception("internal error while reading a request")
                self.refuse(ServingError("Internal server error"))
        except httptools.HttpParserUpgrade:
            self.refuse(ServingError("Protocol upgrades are not supported", 501, NOT_IMPLEMENTED))
        except httptools.HttpParserError as error:
            self.refuse(ServingError(f"Invalid HTTP request: {error}", 400, BAD_DATA))

    # -- parser callbacks

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._body = []
        self._body_size = 0
        self._expect_continue = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.limits.max_url:
            raise _Refused(ServingError(f"The URL is longer than {self.limits.max_url} bytes", 414, URI_TOO_LONG))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > self.limits.max_header_bytes or len(self._headers) >= self.limits.max_headers:
            raise _Refused(
                ServingError(
                    f"Request headers exceed {self.limits.max_headers} fields or {self.limits.max_header_bytes} bytes",
                    431,
                    HEADERS_TOO_LARGE,
                )
            )
        name = name.lower()
        self._headers.append((name, value))
        if name == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True

    def on_headers_complete(self) -> None:
        declared = self._declared_length()
        if declared is not None and declared > self.limits.max_body:
            raise _Refused(_too_large(declared, self.limits.max_body))
        if self._expect_continue and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._wait(self.limits.read_timeout)  # then the body may not pause longer than that

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self.limits.max_body:
            raise _Refused(_too_large(self._body_size, self.limits.max_body))
        self._body.append(body)
        self._wait(self.limits.read_timeout)

    def on_message_complete(self) -> None:
        self.reading = False
        self._cancel_timer()
        parsed = httptools.parse_url(self._url)
        raw_path = parsed.path
        path = raw_path.decode("latin-1") if b"%" not in raw_path else unquote(raw_path.decode("latin-1"))
        parser = self.parser
        scope = {
            **self.scope_base,
            "http_version": parser.get_http_version(),
            "method": parser.get_method().decode("ascii"),
            "path": path,
            "raw_path": raw_path,
            "query_string": parsed.query or b"",
            "headers": self._headers,
        }
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        close_after = not parser.should_keep_alive()
        self.pending.append(Exchange(self, scope, body, close_after))
        if len(self.pending) == 1:
            self._start(self.pending[0])
        elif len(self.pending) > MAX_PIPELINED and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def _declared_length(self) -> int | None:
        for name, value in self._headers:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    raise _Refused(ServingError("Invalid Content-Length header", 400, BAD_DATA)) from None
        return None

    # -- running the app

    def _start(self, exchange: Exchange) -> None:
        self.running = self.loop.create_task(self._run(exchange))

    async def _run(self, exchange: Exchange) -> None:
        try:
            await self.app(exchange.scope, exchange.receive, exchange.send)
        except asyncio.CancelledError:
            return
        except Exception:
            scope = exchange.scope
            logger.exception("internal error in the application on %s %s", scope["method"], scope["path"])
        if not exchange.finished and self.transport is not None:
            exchange.finished = True  # the app failed before answering: we answer for it
            status, content_type, body = self.render_error(ServingError("Internal server error"))
            self.write_response(status, [(b"content-type", content_type)], body, True, False)
        self.server.request_done()
        self.pending.popleft()
        if exchange.close_after or self.transport is None:
            return
        if self.deferred is not None and not self.pending:
            self.refuse(self.deferred)
        elif self.pending:
            self._start(self.pending[0])
            if self.paused and len(self.pending) <= MAX_PIPELINED and self.transport is not None:
                self.paused = False
                self.transport.resume_reading()
        elif not self.reading:
            self.idle()

    def write_response(
        self, status: int, headers: Any, body: bytes, close: bool, head_only: bool
    ) -> None:
        transport = self.transport
        if transport is None:
            return
        parts = [status_line(status), DATE.get()]
        has_length = False
        for name, value in headers:
            if name == b"content-length":
                has_length = True
            elif name == b"connection":
                if value.lower() == b"close":
                    close = True
                continue
            parts.append(b"%s: %s\r\n" % (name, value))
        if not has_length:
            parts.append(b"content-length: %d\r\n" % len(body))
        if close:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        if not head_only:
            parts.append(body)
        transport.write(b"".join(parts))
        if close:
            self.linger()

    # -- states

    def idle(self) -> None:
        """Between requests: closed after the keep-alive time (the drain changes nothing here)."""
        keepalive = self.limits.keepalive
        if keepalive <= 0:
            self.linger()
        else:
            self._wait(keepalive)

    def refuse(self, error: ServingError) -> None:
        """Answer a request that broke a bound or did not parse, then close the connection."""
        self.reading = False
        if self.transport is None or self.transport.is_closing():
            return
        if self.pending:  # answers are sent in order: this one after those under way
            self.deferred = error
            self.paused = True
            self.transport.pause_reading()
            return
        self.deferred = None
        self.server.refused(self.scope_base.get("client"), error)
        status, content_type, body = self.render_error(error)
        self.write_response(status, [(b"content-type", content_type)], body, True, False)

    def linger(self) -> None:
        """Close after the answer is flushed; unread bytes are drained so that they cause no reset."""
        transport = self.transport
        if transport is None or self.lingering >= 0:
            return
        self.lingering = 0
        self._cancel_timer()
        if transport.can_write_eof():
            transport.write_eof()
            if self.paused:
                transport.resume_reading()
            self.timer = self.loop.call_later(LINGER_SECONDS, self._close)
        else:
            transport.close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _wait(self, seconds: float) -> None:
        self._cancel_timer()
        self.timer = self.loop.call_later(seconds, self._timed_out)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _timed_out(self) -> None:
        self.timer = None
        if self.reading:
            self.refuse(ServingError("The request did not arrive in time", 408, REQUEST_TIMEOUT))
        elif not self.pending:
            self.linger()  # idle for its keep-alive time (or never sent anything)


def _too_large(size: int, limit: int) -> ServingError:
    return ServingError(f"Request body of {size} bytes exceeds the limit of {limit}", 413, PAYLOAD_TOO_LARGE)
