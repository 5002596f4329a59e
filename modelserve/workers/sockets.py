"""The listening sockets, made by the process that owns them (the supervisor, or the one
process of ``--debug``) so that several workers can share them."""

from __future__ import annotations

import ctypes
import socket
import struct

from modelserve.errors import StartupError


def bind(host: str, port: int, listen: bool = True) -> socket.socket:
    """A TCP socket bound to host:port, listening unless told not to; a clear StartupError
    when the port is taken.

    ``listen=False`` holds a port that other processes will bind with SO_REUSEPORT (the
    gRPC workers): a busy port fails the start at once, and nobody is accepted here.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR if listen else socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    if listen:
        sock.listen(2048)
        sock.set_inheritable(True)
    return sock


# A classic BPF program of one instruction, "return 0": every packet is dropped.
_DROP_EVERYTHING = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0))
_SO_ATTACH_FILTER = 26


def close_to_new_connections(sock: socket.socket) -> bool:
    """Stop new connections from entering a listening socket's accept queue, keeping the
    queue: its connections can still be accepted (and answered) before the socket closes,
    while a new client's SYN is dropped (it retries, then is refused once the socket is
    closed, having sent nothing).  False where the system does not allow it."""
    program = struct.pack("HP", 1, ctypes.addressof(_DROP_EVERYTHING))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, program)
    except OSError:
        return False
    return True
