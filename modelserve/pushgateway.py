"""Pushing the metrics to a Prometheus push gateway (``PUSHGATEWAY_ENABLED``).

Every ``PUSHGATEWAY_PUSH_INTERVAL_SEC`` seconds, and once more when the server stops
(after the workers drained, so the final counts are in), the exposition the metrics
port serves is PUT to ``<PUSHGATEWAY_URL>/metrics/job/<job>/instance/<instance>``:

- job: the interface name (the user's class, e.g. ``MyModel`` or ``pkg.module.Class``);
- instance: ``<host name>:<HTTP port>``, which tells apart the servers of a deployment
  (a pod's host name is its own) and stays the same across restarts, so a restarted
  server replaces its group rather than leaving a stale one behind.

PUT replaces the whole group each time, so the gateway holds exactly what the last push
carried.  A push that fails is logged once per run of failures (and once when pushing
works again); it never stops the server.

Two drivers share the request and answer handling: ``SelectorPusher`` for the
supervisor, which runs no threads and no event loop (a non-blocking socket on its
selector), and ``AsyncPusher`` for the one-process mode's asyncio loop.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import logging
import os
import selectors
import socket
import time
from collections.abc import Callable
from urllib.parse import quote

from modelserve.settings import Gateway, Settings, parse_url

logger = logging.getLogger("modelserve.pushgateway")

Render = Callable[[str], tuple[bytes, str]]

TIMEOUT = 5.0  # seconds one push may take, at most (and at most the interval)
FINAL_TIMEOUT = 5.0
ACCEPT = "text/plain"  # the text exposition format, which every push gateway reads
MAX_ANSWER = 64 * 1024


class PushError(Exception):
    pass


def grouping_path(job: str, labels: dict[str, str]) -> str:
    """``/metrics/job/<job>/<label>/<value>...``; a value with a "/" (or empty) in base64."""
    path = "/metrics"
    for name, value in {"job": job, **labels}.items():
        if "/" in value or not value:
            encoded = base64.urlsafe_b64encode(value.encode()).decode() or "="
            path += f"/{name}@base64/{encoded}"
        else:
            path += f"/{name}/{quote(value, safe='')}"
    return path


def grouping(settings: Settings) -> tuple[str, dict[str, str]]:
    """The job and the grouping labels of this server's pushes."""
    return settings.interface_name, {"instance": f"{socket.gethostname()}:{settings.http_port}"}


def request_bytes(gateway: Gateway, path: str, body: bytes, content_type: str) -> bytes:
    host = f"[{gateway.host}]" if ":" in gateway.host else gateway.host
    head = (
        f"PUT {gateway.prefix}{path} HTTP/1.1\r\nHost: {host}:{gateway.port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "User-Agent: modelserve\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def answer_complete(answer: bytes) -> bool:
    """Whether an HTTP answer is all there (its head and Content-Length bytes of body)."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return len(body) >= int(value)
            except ValueError:
                return False
    return False  # no length: the gateway closes the connection when done


def check_answer(answer: bytes) -> None:
    """Raise PushError unless the gateway accepted the push (2xx)."""
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise PushError(f"not an HTTP answer: {status_line[:100]!r}" if answer else "connection closed, no answer")
    if not 200 <= int(parts[1]) < 300:
        body = answer.partition(b"\r\n\r\n")[2].decode("utf-8", "replace").strip()
        raise PushError(f"the gateway answered {' '.join(parts[1:])}: {body[:300]}")


class Streak:
    """Logs a failure once per run of failures, and once when pushing works again."""

    def __init__(self, url: str, interval: float):
        self.url = url
        self.interval = interval
        self.failing = False
        self.pushes = 0

    def succeeded(self) -> None:
        self.pushes += 1
        if self.failing:
            logger.info("pushing metrics to %s works again", self.url)
        elif self.pushes == 1:
            logger.info("pushed metrics to %s (every %gs)", self.url, self.interval)
        self.failing = False

    def failed(self, reason: str) -> None:
        if self.failing:
            logger.debug("pushing metrics to %s failed again: %s", self.url, reason)
            return
        self.failing = True
        logger.warning(
            "pushing metrics to %s failed: %s (retrying every %gs; logged again when it works)",
            self.url, reason, self.interval,
        )


class _Pusher:
    def __init__(self, settings: Settings, render: Render):
        self.gateway = parse_url(settings.pushgateway_url)
        job, labels = grouping(settings)
        self.path = grouping_path(job, labels)
        self.render = render
        self.interval = settings.pushgateway_push_interval
        self.timeout = min(TIMEOUT, self.interval)
        self.streak = Streak(self.gateway.url + self.path, self.interval)

    def request(self) -> bytes:
        body, content_type = self.render(ACCEPT)
        return request_bytes(self.gateway, self.path, body, content_type)


class _Exchange:
    """One push on a non-blocking socket: connect, send, read the answer until it is complete."""

    def __init__(self, address: tuple[int, tuple[object, ...]], request: bytes, deadline: float):
        family, sockaddr = address
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.pending = memoryview(request)
        self.answer = b""
        self.deadline = deadline
        self.connected = False
        code = self.sock.connect_ex(sockaddr)
        if code not in (0, errno.EINPROGRESS):
            self.sock.close()
            raise PushError(f"cannot connect: {_describe_errno(code)}")

    @property
    def events(self) -> int:
        return selectors.EVENT_WRITE if self.pending else selectors.EVENT_READ

    def step(self) -> bool:
        """Advance once the socket is ready; True when the answer is complete (or the gateway closed)."""
        if not self.connected:
            code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise PushError(f"cannot connect: {_describe_errno(code)}")
            self.connected = True
        if self.pending:
            try:
                sent = self.sock.send(self.pending)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError as error:
                raise PushError(f"sending failed: {error}") from None
            self.pending = self.pending[sent:]
            return False
        try:
            chunk = self.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as error:
            raise PushError(f"reading the answer failed: {error}") from None
        self.answer += chunk
        if len(self.answer) > MAX_ANSWER:
            return True
        return not chunk or answer_complete(self.answer)

    def close(self) -> None:
        self.sock.close()


def _describe_errno(code: int) -> str:
    return f"{errno.errorcode.get(code, str(code))} ({os.strerror(code)})"


class SelectorPusher(_Pusher):
    """The supervisor's pusher: driven by its selector loop, never blocking it for long.

    The gateway's address is resolved at the first push and again after a failure
    (``getaddrinfo`` is the one blocking call: instant for an address or a name in
    /etc/hosts, one DNS query otherwise); connect, send and receive never block.
    """

    def __init__(self, settings: Settings, render: Render):
        super().__init__(settings, render)
        self.next_push = time.monotonic()  # the first push as soon as the workers are started
        self.exchange: _Exchange | None = None
        self.address: tuple[int, tuple[object, ...]] | None = None
        self.selector: selectors.BaseSelector | None = None

    def wait(self, now: float) -> float:
        """Seconds until this pusher needs the loop again."""
        if self.exchange is not None:
            return max(0.0, self.exchange.deadline - now)
        return max(0.0, self.next_push - now)

    def tick(self, selector: selectors.BaseSelector, now: float) -> None:
        """Start a push when one is due; give up on one that took too long."""
        if self.exchange is not None:
            if now >= self.exchange.deadline:
                self._finish(f"no answer within {self.timeout:g}s")
            return
        if now >= self.next_push:
            self.next_push = now + self.interval
            self._start(selector, now + self.timeout)

    def push_final(self) -> bool:
        """The last push, on shutdown: wait for it (up to FINAL_TIMEOUT); True when accepted."""
        self.cancel()
        with selectors.DefaultSelector() as selector:
            self._start(selector, time.monotonic() + FINAL_TIMEOUT)
            while self.exchange is not None:
                left = self.exchange.deadline - time.monotonic()
                if left <= 0:
                    self._finish(f"no answer within {FINAL_TIMEOUT:g}s")
                    break
                for key, _ in selector.select(left):
                    key.data(selector)
            self.selector = None
        if self.streak.failing:
            return False
        logger.info("pushed the final metrics to %s", self.streak.url)
        return True

    def cancel(self) -> None:
        if self.exchange is not None:
            self._close_exchange()

    def close_after_fork(self) -> None:
        """In a forked worker: drop the parent's socket without touching its selector."""
        if self.exchange is not None:
            self.exchange.close()
            self.exchange = None

    def _start(self, selector: selectors.BaseSelector, deadline: float) -> None:
        try:
            request = self.request()
            if self.address is None:
                self.address = _resolve(self.gateway)
            self.exchange = _Exchange(self.address, request, deadline)
        except PushError as error:
            self.address = None
            self.streak.failed(str(error))
            return
        except Exception as error:  # a broken collector must not stop the supervisor
            self.streak.failed(f"rendering the metrics failed: {type(error).__name__}: {error}")
            return
        self.selector = selector
        selector.register(self.exchange.sock, self.exchange.events, self._ready)

    def _ready(self, selector: selectors.BaseSelector) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        try:
            done = exchange.step()
        except PushError as error:
            self.address = None
            self._finish(str(error))
            return
        if done:
            try:
                check_answer(exchange.answer)
            except PushError as error:
                self._finish(str(error))
                return
            self._finish(None)
        else:
            selector.modify(exchange.sock, exchange.events, self._ready)

    def _finish(self, failure: str | None) -> None:
        self._close_exchange()
        if failure is None:
            self.streak.succeeded()
        else:
            self.streak.failed(failure)

    def _close_exchange(self) -> None:
        assert self.exchange is not None
        if self.selector is not None:
            try:
                self.selector.unregister(self.exchange.sock)
            except (KeyError, ValueError):
                pass
        self.exchange.close()
        self.exchange = None


def _resolve(gateway: Gateway) -> tuple[int, tuple[object, ...]]:
    try:
        infos = socket.getaddrinfo(gateway.host, gateway.port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise PushError(f"cannot resolve {gateway.host}: {error}") from None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


class AsyncPusher(_Pusher):
    """The one-process mode's pusher: a task on its event loop."""

    def __init__(self, settings: Settings, render: Render):
        super().__init__(settings, render)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._every_interval())

    async def stop(self) -> bool:
        """Stop pushing periodically, then push the final metrics; True when accepted."""
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        accepted = await self.push(FINAL_TIMEOUT)
        if accepted:
            logger.info("pushed the final metrics to %s", self.streak.url)
        return accepted

    async def _every_interval(self) -> None:
        while True:
            await self.push(self.timeout)
            await asyncio.sleep(self.interval)

    async def push(self, timeout: float) -> bool:
        try:
            request = self.request()
        except Exception as error:
            self.streak.failed(f"rendering the metrics failed: {type(error).__name__}: {error}")
            return False
        try:
            await asyncio.wait_for(self._exchange(request), timeout)
        except (PushError, OSError) as error:
            self.streak.failed(str(error) or type(error).__name__)
            return False
        except TimeoutError:
            self.streak.failed(f"no answer within {timeout:g}s")
            return False
        self.streak.succeeded()
        return True

    async def _exchange(self, request: bytes) -> None:
        reader, writer = await asyncio.open_connection(self.gateway.host, self.gateway.port)
        try:
            writer.write(request)
            await writer.drain()
            answer = b""
            while not answer_complete(answer) and len(answer) <= MAX_ANSWER:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                answer += chunk
            check_answer(answer)
        finally:
            writer.close()
