#!/usr/bin/env python3
"""Requests/s of modelserve's process model: 1 and 2 REST workers, 1 and 2 gRPC workers.

    python bench/workers.py [--duration 10] [--reps 3] [--connections 16]

Serves ``IdentityModel`` (tests/models) on free ports of 127.0.0.1 and loads it with
wrk (REST, ``POST /api/v1.0/predictions``) or h2load (gRPC, ``seldon.protos.Model/Predict``
with gRPC framing), after checking one answer with a real client.  With one worker the
server is pinned to core 0 and the load generator to core 1; with two workers both
share both cores (the load generator's cost included).  Each row: the median of
``--reps`` runs after a warm-up.  A run with errors is reported as such, never as a figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "tests" / "models"
HOST = "127.0.0.1"
REST_BODY = '{"data":{"ndarray":[[1.0,2.0,3.0,4.0]]}}'
REST_ANSWER = {"data": {"names": ["t:0", "t:1", "t:2", "t:3"], "ndarray": [[1.0, 2.0, 3.0, 4.0]]}, "meta": {}}
GRPC_METHOD = "/seldon.protos.Model/Predict"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """``modelserve serve IdentityModel`` in its own process group."""

    def __init__(self, rest_workers: int, grpc_workers: int, pinned: bool):
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        command = [sys.executable, "-m", "modelserve", "serve", "IdentityModel", "--host", HOST,
                   "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
                   "--metrics-port", str(self.metrics_port), "--workers", str(rest_workers),
                   "--grpc-workers", str(grpc_workers), "--log-level", "WARNING"]
        if pinned:
            command = ["taskset", "-c", "0", *command]
        self.proc = subprocess.Popen(command, cwd=MODELS, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection(HOST, self.http_port, timeout=1)
                conn.request("GET", "/health/ping")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("modelserve did not become ready")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        except ProcessLookupError:
            pass


def check_rest(port: int) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    conn.request("POST", "/api/v1.0/predictions", REST_BODY, {"Content-Type": "application/json"})
    answer = conn.getresponse()
    body = json.loads(answer.read())
    if answer.status != 200 or body != REST_ANSWER:
        raise RuntimeError(f"wrong REST answer: {answer.status} {body}")


def grpc_request() -> bytes:
    from modelserve.grpc import messages

    request = messages.SeldonMessage()
    request.data.ndarray.values.add().list_value.values.extend(messages.Value(number_value=v) for v in (1, 2, 3, 4))
    return request.SerializeToString()


def check_grpc(port: int) -> None:
    import grpc

    from modelserve.grpc import messages

    with grpc.insecure_channel(f"{HOST}:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        call = channel.unary_unary(GRPC_METHOD, response_deserializer=messages.SeldonMessage.FromString)
        answer = call(grpc_request(), timeout=5)
    values = [v.number_value for v in answer.data.ndarray.values[0].list_value.values]
    if values != [1, 2, 3, 4]:
        raise RuntimeError(f"wrong gRPC answer: {answer}")


def load_command(kind: str, port: int, seconds: float, connections: int, pinned: bool, scratch: Path) -> list[str]:
    if kind == "rest":
        script = scratch / "post.lua"
        script.write_text(f'wrk.method = "POST"\nwrk.body = \'{REST_BODY}\'\n'
                          'wrk.headers["Content-Type"] = "application/json"\n')
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
                   f"http://{HOST}:{port}/api/v1.0/predictions"]
    else:
        body = grpc_request()
        framed = scratch / "request.bin"
        framed.write_bytes(b"\x00" + len(body).to_bytes(4, "big") + body)
        command = ["h2load", "-t1", f"-c{connections}", "-m1", f"-D{seconds:g}", "-d", str(framed),
                   "-H", "content-type: application/grpc", "-H", "te: trailers",
                   f"http://{HOST}:{port}{GRPC_METHOD}"]
    return ["taskset", "-c", "1", *command] if pinned else command


def parse(kind: str, output: str) -> float:
    """Requests/s of one run; RuntimeError when the tool saw errors."""
    if kind == "rest":
        if re.search(r"Non-2xx or 3xx responses|Socket errors", output):
            raise RuntimeError(f"wrk saw errors:\n{output}")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored",
                     output)
    if done is None or done.group(3) != "0" or done.group(4) != "0" or done.group(1) != done.group(2):
        raise RuntimeError(f"h2load saw errors:\n{output}")
    return float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", output).group(1))  # type: ignore[union-attr]


def measure(kind: str, workers: int, args: argparse.Namespace) -> float:
    pinned = workers == 1
    server = Server(workers if kind == "rest" else 1, workers if kind == "grpc" else 0, pinned)
    try:
        port = server.http_port if kind == "rest" else server.grpc_port
        (check_rest if kind == "rest" else check_grpc)(port)
        with tempfile.TemporaryDirectory() as scratch:
            runs = []
            for rep in range(args.reps + 1):  # the first run warms up and is not counted
                seconds = args.warmup if rep == 0 else args.duration
                command = load_command(kind, port, seconds, args.connections, pinned, Path(scratch))
                output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                if rep:
                    runs.append(parse(kind, output))
        return statistics.median(runs)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    print(f"| protocol | workers | requests/s (median of {args.reps} x {args.duration:g}s, {args.connections} conns) |")
    print("|---|---:|---:|")
    for kind in ("rest", "grpc"):
        for workers in (1, 2):
            rate = measure(kind, workers, args)
            print(f"| {'REST' if kind == 'rest' else 'gRPC'} | {workers} | {rate:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
