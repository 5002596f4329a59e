"""The HTTP server (rest/server.py, rest/protocol.py) seen on the wire: keep-alive, and the bounds
of what a request may be, refused in the Seldon error format."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.conftest import RunningServer, wait_for

REQUEST = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
BODY = b'{"strData":"x"}'


def _exchange(sock: socket.socket) -> bytes:
    """Send one keep-alive request; the head and body of its answer."""
    sock.sendall(REQUEST + BODY)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head.lower()


@pytest.mark.parametrize("mode", [[], ["--debug"]], ids=["workers", "debug"])
def test_keepalive_0_closes_the_connection_after_each_answer(start_server, mode: list[str]) -> None:  # type: ignore[no-untyped-def]
    server: RunningServer = start_server("IdentityModel", "--keepalive", "0", *mode)
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=5) as sock:
        head = _exchange(sock)
        assert head.startswith(b"http/1.1 200") and b"\r\nconnection: close" in head
        assert sock.recv(65536) == b""  # closed by the server, without waiting for an idle timeout


def test_keepalive_keeps_the_connection(start_server) -> None:  # type: ignore[no-untyped-def]
    server: RunningServer = start_server("IdentityModel", "--keepalive", "2")
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=5) as sock:
        for _ in range(3):
            head = _exchange(sock)
            assert head.startswith(b"http/1.1 200") and b"connection: close" not in head


# -- what a request may be, refused on the wire in the Seldon error format


def answer(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, dict[bytes, bytes], bytes]:
    """(status, headers, body) of the first answer to ``data`` sent on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"closed without an answer: {received!r}")
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
        length = int(headers[b"content-length"])
        while len(body) < length:
            body += sock.recv(65536)
        return int(lines[0].split()[1]), headers, body[:length]


def assert_seldon_error(response: tuple[int, dict[bytes, bytes], bytes], status: int, reason: str) -> None:
    got, headers, body = response
    assert got == status, body
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"connection"] == b"close"
    assert json.loads(body)["status"]["reason"] == reason


@pytest.fixture(scope="module")
def bounded() -> Iterator[RunningServer]:
    server = RunningServer(
        "IdentityModel", "--grpc-workers", "0", "--read-timeout", "1", "--max-body-size", "1K",
        "--max-connections", "20",
    ).wait_ready()
    yield server
    server.stop()


def test_urls_up_to_64_kib_are_served_and_longer_ones_are_414(bounded: RunningServer) -> None:
    message = json.dumps({"data": {"ndarray": list(range(8000))}})
    query = urllib.parse.urlencode({"json": message}).encode()
    assert 50_000 < len(query) < 64 * 1024 - 100
    status, _, body = answer(bounded.http_port, b"GET /predict?" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and json.loads(body)["data"]["ndarray"][-1] == 7999
    too_long = b"GET /predict?json=" + b"x" * (64 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert_seldon_error(answer(bounded.http_port, too_long), 414, "MICROSERVICE_URI_TOO_LONG")


def test_header_size_and_count_are_bounded(bounded: RunningServer) -> None:
    many = b"".join(b"X-%d: a\r\n" % i for i in range(101))
    request = b"GET /health/ping HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"
    assert_seldon_error(answer(bounded.http_port, request), 431, "MICROSERVICE_HEADERS_TOO_LARGE")
    big = b"GET /health/ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (65 * 1024) + b"\r\n\r\n"
    assert_seldon_error(answer(bounded.http_port, big), 431, "MICROSERVICE_HEADERS_TOO_LARGE")


def test_a_body_over_the_limit_is_refused_before_it_is_sent(bounded: RunningServer) -> None:
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n"
    started = time.monotonic()
    assert_seldon_error(answer(bounded.http_port, head + b"\r\n"), 413, "MICROSERVICE_PAYLOAD_TOO_LARGE")
    expect = head + b"Expect: 100-continue\r\n\r\n"
    assert_seldon_error(answer(bounded.http_port, expect), 413, "MICROSERVICE_PAYLOAD_TOO_LARGE")
    assert time.monotonic() - started < 2


def test_a_request_that_does_not_parse_is_400_in_the_seldon_shape(bounded: RunningServer) -> None:
    assert_seldon_error(answer(bounded.http_port, b"BLAH\r\n\r\n"), 400, "MICROSERVICE_BAD_DATA")


def test_half_sent_requests_time_out_and_stalled_connections_close(bounded: RunningServer) -> None:
    started = time.monotonic()
    half = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"strData\""
    assert_seldon_error(answer(bounded.http_port, half), 408, "MICROSERVICE_REQUEST_TIMEOUT")
    headers_cut = b"GET /health/ping HTTP/1.1\r\nHo"
    assert_seldon_error(answer(bounded.http_port, headers_cut), 408, "MICROSERVICE_REQUEST_TIMEOUT")
    with socket.create_connection(("127.0.0.1", bounded.http_port), timeout=5) as silent:
        assert silent.recv(100) == b""  # a connection that sends nothing is closed after the read timeout
    assert time.monotonic() - started < 6


def test_connections_beyond_the_cap_are_refused_and_the_worker_serves_on(bounded: RunningServer) -> None:
    held = [socket.create_connection(("127.0.0.1", bounded.http_port)) for _ in range(20)]
    try:
        time.sleep(0.2)
        assert_seldon_error(answer(bounded.http_port, REQUEST + BODY), 503, "MICROSERVICE_OVERLOADED")
    finally:
        for sock in held:
            sock.close()
    assert wait_for(lambda: answer(bounded.http_port, REQUEST + BODY)[0] == 200, timeout=5)


def test_pipelined_requests_are_answered_in_order(bounded: RunningServer) -> None:
    bodies = [json.dumps({"strData": str(i)}).encode() for i in range(5)]
    data = b"".join(
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body)
        for body in bodies
    )
    with socket.create_connection(("127.0.0.1", bounded.http_port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while received.count(b"strData") < 5:
            received += sock.recv(65536)
    assert [int(x) for x in re.findall(rb'"strData":"(\d)"', received)] == [0, 1, 2, 3, 4]
