"""Clients that count every request they send, for the zero-loss tests of the drain.

A request is *sent* once its last byte is written (REST) or the call started (gRPC);
it is *lost* when the server took it and never answered it: the connection closed or
reset under it (REST), or the call ended with any code but OK and UNAVAILABLE (gRPC:
UNAVAILABLE is the answer to a call the server turned away, and clients retry it).
A connection the server refuses carries no request: nothing is lost there.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

REQUEST = (
    b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
    b'{"strData":"x"}'
)


@dataclass
class Tally:
    sent: int = 0
    answered: int = 0
    lost: int = 0
    statuses: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class ClientThreads:
    """Threads that send until stopped, counting into one Tally; ``with`` starts and stops them."""

    threads: list[threading.Thread]

    def __init__(self, port: int):
        self.port = port
        self.tally = Tally()
        self.stopping = threading.Event()

    def __enter__(self) -> ClientThreads:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Tally:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)
        self.close()
        return self.tally

    def close(self) -> None:
        """What to release once every thread has stopped."""


class RestClients(ClientThreads):
    """``connections`` threads, each sending requests back to back on a keep-alive connection
    (a new one after an answer saying ``Connection: close``), until stopped."""

    def __init__(self, port: int, connections: int = 32):
        super().__init__(port)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(connections)]

    def _run(self) -> None:
        sock: socket.socket | None = None
        while not self.stopping.is_set():
            if sock is None:
                try:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                except OSError:
                    time.sleep(0.01)  # refused, or the SYN dropped while draining: nothing was sent
                    continue
            try:
                sock.sendall(REQUEST)
            except OSError:
                sock.close()  # closed before the request went out: not sent
                sock = None
                continue
            self.tally.add(sent=1)
            try:
                status, close = _read_answer(sock)
            except OSError:
                self.tally.add(lost=1)
                sock.close()
                sock = None
                continue
            self.tally.add(answered=1)
            with self.tally.lock:
                self.tally.statuses[status] += 1
            if close:
                sock.close()
                sock = None
        if sock is not None:
            sock.close()


def _read_answer(sock: socket.socket) -> tuple[int, bool]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed before the answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in lines if line.startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed in the middle of the answer")
        body += chunk
    return int(lines[0].split()[1]), b"connection: close" in lines


class GrpcClients(ClientThreads):
    """``calls`` concurrent callers of Model/Predict over a few channels, each retrying a call
    answered UNAVAILABLE (as gRPC clients do), until stopped."""

    def __init__(self, port: int, calls: int = 32, channels: int = 4):
        import grpc

        from modelserve.codecs import messages

        super().__init__(port)
        self.channels = [grpc.insecure_channel(f"127.0.0.1:{port}") for _ in range(channels)]
        self.request = messages.SeldonMessage(strData="x").SerializeToString()
        self.predicts = [
            channel.unary_unary("/seldon.protos.Model/Predict", request_serializer=None, response_deserializer=None)
            for channel in self.channels
        ]
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(calls)]
        self.codes: Counter = Counter()

    def close(self) -> None:
        for channel in self.channels:
            channel.close()

    def _run(self, index: int) -> None:
        import grpc

        predict = self.predicts[index % len(self.predicts)]
        while not self.stopping.is_set():
            self.tally.add(sent=1)
            try:
                predict(self.request, timeout=10)
            except grpc.RpcError as error:
                code = error.code()  # type: ignore[attr-defined]
                with self.tally.lock:
                    self.codes[code.name] += 1
                if code is grpc.StatusCode.UNAVAILABLE:
                    self.tally.add(answered=1)  # turned away, never run: retried
                    time.sleep(0.005)
                else:
                    self.tally.add(lost=1)
                continue
            self.tally.add(answered=1)
            with self.tally.lock:
                self.codes["OK"] += 1
