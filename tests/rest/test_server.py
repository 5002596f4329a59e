"""The HTTP server (rest/server.py, rest/protocol.py) seen on the wire: keep-alive."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import RunningServer

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
