"""Nothing is lost on drain or recycling: 32 clients count every request they send, across a
SIGTERM of the server and across 100 recyclings of its workers (--max-requests)."""

from __future__ import annotations

import os
import signal
import time

from tests.conftest import RunningServer, wait_for
from tests.workers.counting_clients import GrpcClients, RestClients


def recycles(server: RunningServer) -> int:
    return server.output().count("recycles: starting its replacement")


def test_rest_sigterm_under_load_loses_no_request() -> None:
    server = RunningServer("IdentityModel", "--workers", "2", "--grpc-workers", "0").wait_ready()
    try:
        with RestClients(server.http_port, 32) as clients:
            assert wait_for(lambda: clients.tally.answered > 500, timeout=20)
            os.kill(server.proc.pid, signal.SIGTERM)
            assert server.proc.wait(30) == 0
            time.sleep(0.5)  # clients keep trying: refused, nothing sent
        tally = clients.tally
    finally:
        server.stop()
    assert tally.lost == 0, (tally, server.log_path.read_text()[-3000:])
    assert tally.sent == tally.answered and set(tally.statuses) == {200}


def test_rest_100_recyclings_lose_no_request() -> None:
    server = RunningServer(
        "IdentityModel", "--workers", "2", "--grpc-workers", "0", "--max-requests", "40", "--max-requests-jitter", "10"
    ).wait_ready()
    try:
        with RestClients(server.http_port, 32) as clients:
            assert wait_for(lambda: recycles(server) >= 100, timeout=120, interval=0.2), recycles(server)
        tally = clients.tally
    finally:
        server.stop()
    assert tally.lost == 0, (tally, server.log_path.read_text()[-3000:])
    assert tally.sent == tally.answered and set(tally.statuses) == {200}


def test_grpc_sigterm_under_load_answers_every_call_and_cancels_none() -> None:
    server = RunningServer("IdentityModel", "--workers", "1", "--grpc-workers", "2").wait_ready()
    try:
        with GrpcClients(server.grpc_port, 32) as clients:
            assert wait_for(lambda: clients.codes["OK"] > 300, timeout=20)
            os.kill(server.proc.pid, signal.SIGTERM)
            assert server.proc.wait(30) == 0
        tally, codes = clients.tally, clients.codes
    finally:
        server.stop()
    assert tally.lost == 0, (codes, server.log_path.read_text()[-3000:])
    assert set(codes) <= {"OK", "UNAVAILABLE"}


def test_grpc_100_recyclings_lose_no_call() -> None:
    server = RunningServer(
        "IdentityModel", "--grpc-workers", "2", "--max-requests", "40", "--max-requests-jitter", "10"
    ).wait_ready()
    try:
        with GrpcClients(server.grpc_port, 32) as clients:
            assert wait_for(lambda: recycles(server) >= 100, timeout=180, interval=0.2), recycles(server)
        tally, codes = clients.tally, clients.codes
    finally:
        server.stop()
    assert tally.lost == 0, (codes, server.log_path.read_text()[-3000:])
    assert set(codes) <= {"OK", "UNAVAILABLE"}
