"""The process model through real processes: workers, replacement, recycling, shutdown."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import signal
import socket
import time

import httpx
import pytest

from tests.conftest import RunningServer, wait_for


def predict(server: RunningServer, payload: str = "x", timeout: float = 10) -> dict:
    # A new connection per call, so that the kernel spreads them over the workers.
    with httpx.Client(timeout=timeout) as client:
        answer = client.post(server.url + "/predict", json={"strData": payload})
    answer.raise_for_status()
    return answer.json()["jsonData"]


def children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry))
    return found


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True



def test_several_workers_serve_a_model_loaded_before_fork(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("PidModel", "--workers", "3", "--grpc-workers", "0")
    answers = [predict(server) for _ in range(60)]
    pids = {a["pid"] for a in answers}
    assert len(pids) >= 2
    assert {a["loaded_in"] for a in answers} == {server.proc.pid}  # load() ran once, in the parent
    assert server.proc.pid not in pids


def test_load_in_worker(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("PidModel", "--workers", "2", "--grpc-workers", "0", "--load-in-worker")
    answers = [predict(server) for _ in range(30)]
    assert all(a["loaded_in"] == a["pid"] for a in answers)
    assert {a["constructed_in"] for a in answers} == {server.proc.pid}  # constructed once


def test_a_killed_worker_is_replaced(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("PidModel", "--workers", "2", "--grpc-workers", "0")
    before = children(server.proc.pid)
    assert len(before) == 2
    victim = next(iter(before))
    os.kill(victim, signal.SIGKILL)
    failures = 0
    for _ in range(100):
        try:
            predict(server)
        except httpx.HTTPError:
            failures += 1
    assert failures == 0  # nothing was in flight on the victim; the other worker took over
    assert wait_for(lambda: len(children(server.proc.pid)) == 2 and victim not in children(server.proc.pid))
    assert "restarting" in server.output()


def test_sigterm_under_load_finishes_accepted_requests(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("PidModel", "--workers", "2", "--grpc-workers", "0", "--threads", "4")
    workers = children(server.proc.pid)
    # Every request is sent before the signal (http.client: no per-client set-up to race with).
    connections = [http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10) for _ in range(8)]
    for connection in connections:
        connection.request("POST", "/predict", '{"strData": "sleep:0.5"}', {"Content-Type": "application/json"})
    time.sleep(0.25)  # every call is accepted and running
    os.kill(server.proc.pid, signal.SIGTERM)
    answers = [json.loads(connection.getresponse().read())["jsonData"] for connection in connections]
    assert len(answers) == 8
    assert server.proc.wait(15) == 0
    assert not any(os.path.exists(f"/proc/{pid}") and children(pid) is not None for pid in workers
                   if _alive(pid))
    assert port_is_free(server.http_port) and port_is_free(server.metrics_port)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_no_grpc_workers_means_no_grpc_port(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("IdentityModel", "--grpc-workers", "0")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.grpc_port)) != 0
    assert len(children(server.proc.pid)) == 1


def test_max_requests_recycles_without_errors(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("PidModel", "--workers", "1", "--grpc-workers", "0", "--max-requests", "10",
                          "--max-requests-jitter", "5")
    pids = set()
    for _ in range(80):
        pids.add(predict(server)["pid"])
    assert len(pids) >= 3
    assert "recycles: starting its replacement" in server.output()


def test_a_worker_that_cannot_load_stops_the_server() -> None:
    server = RunningServer("BrokenLoadModel", "--grpc-workers", "0", "--load-in-worker")
    try:
        assert server.proc.wait(20) == 1
        assert "weights file missing" in server.output()
    finally:
        server.stop()


def test_a_worker_kind_that_keeps_dying_before_serving_stops_the_server(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The gRPC workers cannot import their machinery (a broken grpc_health on the path): while
    they crash-loop, readiness says no on REST; after 5 deaths in a row the server exits 1."""
    broken = tmp_path / "grpc_health"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('grpc_health is broken on purpose')\n")
    server = RunningServer("IdentityModel", env={"PYTHONPATH": str(tmp_path)}).wait_ready()
    try:
        assert httpx.get(server.url + "/health/ping").status_code == 200  # alive
        status = httpx.get(server.url + "/health/status")
        assert status.status_code == 503 and status.json()["status"]["reason"] == "MICROSERVICE_NOT_READY"
        assert httpx.get(server.url + "/v2/health/ready").status_code == 503
        assert server.proc.wait(30) == 1
        output = server.output()
        assert "grpc workers cannot start" in output and "died 5 times in a row before serving" in output
    finally:
        server.stop()


def test_workers_die_with_the_supervisor(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("IdentityModel", "--workers", "2", "--grpc-workers", "0")
    workers = children(server.proc.pid)
    os.kill(server.proc.pid, signal.SIGKILL)
    assert wait_for(lambda: not any(_alive(pid) for pid in workers))


def test_pidfile(start_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pidfile = tmp_path / "server.pid"
    server = start_server("IdentityModel", "--grpc-workers", "0", "--pidfile", str(pidfile))
    assert int(pidfile.read_text()) == server.proc.pid
    server.stop()
    assert not pidfile.exists()


@pytest.mark.parametrize("flag", ["--debug", "--single-threaded"])
def test_one_process_modes_serve(start_server, flag: str) -> None:  # type: ignore[no-untyped-def]
    server = start_server("PidModel", flag, "--grpc-workers", "0")
    answer = predict(server)
    if flag == "--debug":
        assert answer["pid"] == server.proc.pid


def _concurrency(server: RunningServer, calls: int = 16) -> dict:
    with concurrent.futures.ThreadPoolExecutor(calls) as pool:
        answers = list(pool.map(lambda _: predict(server), range(calls)))
    return max(answers, key=lambda a: (a["most_at_once"], a["threads"]))


@pytest.mark.parametrize("model", ["ConcurrencyModel", "AsyncConcurrencyModel"])
def test_single_threaded_never_runs_two_user_calls_at_once(start_server, model: str) -> None:  # type: ignore[no-untyped-def]
    threaded = start_server(model, "--threads", "4", "--grpc-workers", "0")
    assert _concurrency(threaded)["most_at_once"] > 1  # without the flag calls do overlap
    single = start_server(model, "--threads", "4", "--grpc-workers", "0", "--single-threaded")
    assert _concurrency(single) == {"most_at_once": 1, "threads": 1}


@pytest.mark.parametrize("model", ["ConcurrencyModel", "AsyncConcurrencyModel"])
def test_grpc_threads_and_single_threaded(start_server, model: str) -> None:  # type: ignore[no-untyped-def]
    import grpc

    from modelserve.codecs import messages

    def most_at_once(server: RunningServer) -> int:
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=10)
            call = channel.unary_unary(
                "/seldon.protos.Model/Predict",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=messages.SeldonMessage.FromString,
            )
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: call(messages.SeldonMessage(strData="x"), timeout=10), range(8)))
        return max(int(a.jsonData.struct_value.fields["most_at_once"].number_value) for a in answers)

    assert most_at_once(start_server(model, "--grpc-threads", "4")) > 1
    assert most_at_once(start_server(model, "--grpc-threads", "4", "--single-threaded")) == 1


def test_a_killed_grpc_worker_is_replaced(start_server) -> None:  # type: ignore[no-untyped-def]
    import grpc

    from modelserve.codecs import messages

    def pid_over_grpc() -> int:
        # A new channel per call: a new connection, which the kernel gives to either worker.
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            call = channel.unary_unary(
                "/seldon.protos.Model/Predict",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=messages.SeldonMessage.FromString,
            )
            answer = call(messages.SeldonMessage(strData="x"), timeout=10, wait_for_ready=True)
        return int(answer.jsonData.struct_value.fields["pid"].number_value)

    server = start_server("PidModel", "--workers", "1", "--grpc-workers", "2")
    assert wait_for(lambda: len(children(server.proc.pid)) == 3)
    pids = {pid_over_grpc() for _ in range(30)}
    assert len(pids) == 2
    victim = pids.pop()
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: not _alive(victim))  # a connection queued on the victim dies with it
    assert all(pid_over_grpc() != victim for _ in range(30))  # nothing fails: the other worker answers
    assert wait_for(lambda: len(children(server.proc.pid)) == 3 and victim not in children(server.proc.pid))
