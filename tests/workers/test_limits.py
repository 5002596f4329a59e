"""Time and queue bounds on real servers: request timeouts and client deadlines, probes that
never wait behind user code, backpressure, and a stuck worker replaced."""

from __future__ import annotations

import concurrent.futures
import socket
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelserve.codecs import messages
from tests.conftest import RunningServer, wait_for


def predict(server: RunningServer, seconds: float, timeout: float = 30) -> httpx.Response:
    return httpx.post(server.url + "/predict", json={"strData": str(seconds)}, timeout=timeout)


def scrape(server: RunningServer) -> str:
    return httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics").text


def grpc_predict(server: RunningServer, seconds: float, timeout: float | None = None) -> object:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=10)  # the gRPC worker may start after REST
        call = channel.unary_unary(
            "/seldon.protos.Model/Predict",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=messages.SeldonMessage.FromString,
        )
        return call(messages.SeldonMessage(strData=str(seconds)), timeout=timeout)


def test_request_timeout_answers_504_and_deadline_exceeded(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("BusyModel", "--request-timeout", "0.5")
    started = time.monotonic()
    answer = predict(server, 3)
    assert answer.status_code == 504 and answer.json()["status"]["reason"] == "MICROSERVICE_DEADLINE_EXCEEDED"
    assert time.monotonic() - started < 2
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        grpc_predict(server, 3)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    assert time.monotonic() - started < 2  # the server's answer at the deadline, not the call's end
    # The given-up call keeps its user thread until it returns; then the worker serves on.
    assert wait_for(lambda: predict(server, 0).status_code == 200, timeout=10)


def test_the_grpc_clients_deadline_is_honoured(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("BusyModel")
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        grpc_predict(server, 3, timeout=0.5)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    assert time.monotonic() - started < 2


def test_probes_and_metrics_never_wait_behind_user_code(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("BusyModel")  # --threads 1, the default
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        busy = [pool.submit(predict, server, 3), pool.submit(grpc_predict, server, 3)]
        time.sleep(0.3)  # both calls are running (or waiting for the one user thread)
        started = time.monotonic()
        assert httpx.get(server.url + "/health/ping", timeout=1).text == "pong"
        assert httpx.get(server.url + "/health/status", timeout=1).json()["jsonData"] == {"healthy": True}
        assert httpx.get(server.url + "/v2/health/ready", timeout=1).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=1).status_code == 200
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            assert check.status == health_pb2.HealthCheckResponse.SERVING
        assert time.monotonic() - started < 1.5
        assert busy[0].result().status_code == 200


def test_a_full_queue_answers_503_with_retry_after_at_once(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("BusyModel", "--max-queue", "2", "--grpc-workers", "0")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        first = pool.submit(predict, server, 2)
        assert wait_for(lambda: 'modelserve_requests_in_flight{transport="rest"} 1.0' in scrape(server), timeout=5)
        waiting = [pool.submit(predict, server, 0.1) for _ in range(2)]
        assert wait_for(lambda: "modelserve_queued_requests 2.0" in scrape(server), timeout=5)
        started = time.monotonic()
        refused = predict(server, 0.1)
        assert time.monotonic() - started < 1  # at once, not after the queue
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["status"]["reason"] == "MICROSERVICE_OVERLOADED"
        assert first.result().status_code == 200 and all(w.result().status_code == 200 for w in waiting)


def test_a_full_queue_is_resource_exhausted_on_grpc(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("BusyModel", "--max-queue", "1")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        first = pool.submit(grpc_predict, server, 3)
        assert wait_for(lambda: 'modelserve_requests_in_flight{transport="grpc"} 1.0' in scrape(server), timeout=5)
        second = pool.submit(grpc_predict, server, 0.1)  # waits for the one user thread
        assert wait_for(lambda: "modelserve_queued_requests 1.0" in scrape(server), timeout=5)
        with pytest.raises(grpc.RpcError) as raised:
            grpc_predict(server, 0.1)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        metadata = dict(raised.value.trailing_metadata() or ())  # type: ignore[attr-defined]
        assert metadata.get("grpc-retry-pushback-ms") == "1000"
        first.result()
        second.result()


def test_a_worker_stuck_in_user_code_is_replaced(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("BusyModel", "--worker-timeout", "1", "--graceful-timeout", "1", "--grpc-workers", "0")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(predict, server, 30)
        assert wait_for(lambda: "is stuck" in server.output(), timeout=10)
        assert wait_for(lambda: predict(server, 0, timeout=2).status_code == 200, timeout=10)  # the replacement
        with pytest.raises(httpx.HTTPError):
            stuck.result()  # its worker was killed under it


def test_running_out_of_descriptors_stops_nothing() -> None:
    server = RunningServer("IdentityModel", "--grpc-workers", "0", max_files=256).wait_ready()
    held: list[socket.socket] = []
    try:
        for _ in range(400):  # more than the supervisor has descriptors: its accept() fails
            try:
                held.append(socket.create_connection(("127.0.0.1", server.metrics_port), timeout=2))
            except OSError:
                break
        time.sleep(1.0)
        assert server.proc.poll() is None
        for sock in held:
            sock.close()
        held.clear()
        assert wait_for(lambda: _scrapes(server), timeout=10)
        assert httpx.post(server.url + "/predict", json={"strData": "x"}).status_code == 200
        assert "accept failed" in server.output()
    finally:
        for sock in held:
            sock.close()
        server.stop()


def _scrapes(server: RunningServer) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
