"""Metrics through real processes: built-in and custom series summed over every worker."""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import signal
import time

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelserve.codecs import messages
from tests.conftest import RunningServer, wait_for
from tests.workers.test_processes import children

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: RunningServer, path: str = "/metrics") -> Samples:
    conn = http.client.HTTPConnection("127.0.0.1", server.metrics_port, timeout=10)
    conn.request("GET", path)
    answer = conn.getresponse()
    body = answer.read().decode()
    assert answer.status == 200, body
    found: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def labels_of(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(ls) for (n, ls) in samples if n == name]


def post(server: RunningServer, payload: str = "x", path: str = "/api/v1.0/predictions") -> httpx.Response:
    with httpx.Client(timeout=10) as client:  # a connection per call: the kernel spreads them
        return client.post(server.url + path, json={"strData": payload})


def grpc_predict(server: RunningServer, payload: str = "x") -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        call = channel.unary_unary(
            "/seldon.protos.Model/Predict",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=messages.SeldonMessage.FromString,
        )
        call(messages.SeldonMessage(strData=payload), timeout=10)


def start(model: str, *args: str, env: dict[str, str] | None = None) -> RunningServer:
    """A ready server: REST answers, and so does gRPC unless it is off."""
    server = RunningServer(model, *args, env=env).wait_ready()
    if "--grpc-workers" not in args or args[args.index("--grpc-workers") + 1] != "0":
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
    return server


def test_one_scrape_counts_every_request_of_every_worker_once() -> None:
    server = start("CountedModel", "--workers", "2", "--grpc-workers", "1")
    try:
        rest_calls, grpc_calls = 40, 15
        pids = {post(server).json()["jsonData"]["pid"] for _ in range(rest_calls)}
        for _ in range(grpc_calls):
            grpc_predict(server)
        for _ in range(5):  # probes are not user traffic
            httpx.get(server.url + "/health/ping")
            httpx.get(server.url + "/health/status")
        samples = scrape(server)
        workers = children(server.proc.pid)
    finally:
        server.stop()
    assert len(pids) == 2  # both REST workers served
    rest = {"transport": "rest", "endpoint": "/api/v1.0/predictions", "status": "200", "protocol": "seldon"}
    assert value(samples, "modelserve_requests_total", **rest) == rest_calls
    assert value(samples, "modelserve_request_duration_seconds_count", **rest) == rest_calls
    grpc_labels = {"transport": "grpc", "endpoint": "/seldon.protos.Model/Predict", "status": "OK"}
    assert value(samples, "modelserve_requests_total", **grpc_labels) == grpc_calls
    assert value(samples, "modelserve_requests_total") == rest_calls + grpc_calls  # no health probe counted
    assert value(samples, "modelserve_user_code_seconds_count", method="predict") == rest_calls + grpc_calls
    assert value(samples, "modelserve_request_size_bytes_count", transport="rest") == rest_calls
    assert value(samples, "modelserve_request_size_bytes_sum", transport="rest") == rest_calls * len(b'{"strData":"x"}')
    assert value(samples, "modelserve_response_size_bytes_count", transport="grpc") == grpc_calls
    assert value(samples, "modelserve_requests_in_flight") == 0
    assert value(samples, "modelserve_model_ready") == 1
    assert value(samples, "modelserve_model_load_seconds") > 0
    # Custom metrics: one series each, summed over the three workers.
    total = rest_calls + grpc_calls
    # (/health/status calls metrics() too, as the original does: those are method="health")
    assert [ls["method"] for ls in labels_of(samples, "served_total")] == ["health", "predict"]
    assert value(samples, "served_total", method="predict", worker_id="all") == total
    assert value(samples, "weighted_total", colour="blue", method="predict") == 2.5 * total
    assert value(samples, "work_time_count", method="predict") == total
    assert value(samples, "work_time_sum", method="predict") == pytest.approx(total * 0.015)
    assert int(value(samples, "last_pid", method="predict")) in workers  # set last, by whichever worker


def test_a_killed_and_replaced_worker_leaves_the_totals_right() -> None:
    server = start("CountedModel", "--workers", "2", "--grpc-workers", "0")
    try:
        for _ in range(20):
            post(server)
        before = scrape(server)
        assert value(before, "served_total") == 20
        victim = next(iter(children(server.proc.pid)))
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda: len(children(server.proc.pid) - {victim}) == 2)
        for _ in range(10):
            assert post(server).status_code == 200
        after = scrape(server)
    finally:
        server.stop()
    assert value(after, "served_total") == 30
    assert value(after, "modelserve_requests_total", endpoint="/api/v1.0/predictions") == 30
    assert value(after, "modelserve_requests_in_flight") == 0
    assert len(labels_of(after, "served_total")) == 1


def test_recycled_workers_keep_their_counts() -> None:
    server = start("CountedModel", "--workers", "1", "--grpc-workers", "0", "--max-requests", "4")
    try:
        served = {post(server).json()["jsonData"]["pid"] for _ in range(14)}
        samples = scrape(server)
    finally:
        server.stop()
    assert len(served) >= 3  # the worker was replaced at least twice
    assert value(samples, "served_total") == 14
    assert value(samples, "modelserve_requests_total", status="200") == 14


def test_in_flight_requests_are_seen_while_they_run() -> None:
    server = start("CountedModel", "--workers", "2", "--grpc-workers", "0", "--threads", "2")
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            slow = [pool.submit(post, server, "sleep:1.5") for _ in range(3)]
            assert wait_for(lambda: value(scrape(server), "modelserve_requests_in_flight", transport="rest") == 3)
            assert all(f.result().status_code == 200 for f in slow)
        assert value(scrape(server), "modelserve_requests_in_flight") == 0
    finally:
        server.stop()


def test_errors_are_counted_by_status() -> None:
    server = start("CountedModel", "--workers", "1", "--grpc-workers", "1")
    try:
        with httpx.Client(timeout=10) as client:
            assert client.post(server.url + "/predict", content=b"{not json").status_code == 400
            assert client.get(server.url + "/no/such/route").status_code == 404
        try:
            grpc_predict(server, "bad-name")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INTERNAL
        else:
            raise AssertionError("a bad metric name must fail the call")
        answer = post(server, "bad-name")
        samples = scrape(server)
    finally:
        server.stop()
    assert answer.status_code == 500
    assert answer.json()["status"]["reason"] == "MICROSERVICE_BAD_METRIC"
    assert value(samples, "modelserve_requests_total", endpoint="/predict", status="400") == 1
    assert value(samples, "modelserve_requests_total", endpoint="unmatched", status="404") == 1
    assert value(samples, "modelserve_requests_total", endpoint="/api/v1.0/predictions", status="500") == 1
    assert value(samples, "modelserve_requests_total", transport="grpc", status="INTERNAL") == 1


def test_deployment_labels_come_from_the_seldon_variables() -> None:
    env = {
        "PREDICTIVE_UNIT_ID": "classifier",
        "PREDICTIVE_UNIT_IMAGE": "registry:5000/team/iris:1.2",
        "SELDON_DEPLOYMENT_ID": "iris-deployment",
        "PREDICTOR_ID": "default",
        "PREDICTOR_LABELS": '{"version": "v3"}',
        "PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus",
    }
    server = start("CountedModel", "--workers", "1", "--grpc-workers", "0", env=env)
    try:
        post(server)
        samples = scrape(server, "/prometheus")
        conn = http.client.HTTPConnection("127.0.0.1", server.metrics_port, timeout=10)
        conn.request("GET", "/metrics")
        other_path = conn.getresponse().status
    finally:
        server.stop()
    assert other_path == 404
    [labels] = labels_of(samples, "served_total")
    assert labels == {
        "method": "predict",
        "worker_id": "all",
        "model_name": "classifier",
        "model_image": "registry:5000/team/iris",
        "image_name": "registry:5000/team/iris",
        "model_version": "1.2",
        "image_version": "1.2",
        "deployment_name": "iris-deployment",
        "seldon_deployment_name": "iris-deployment",
        "predictor_name": "default",
        "predictor_version": "v3",
    }


def test_feedback_is_counted_with_its_reward() -> None:
    server = start("FeedbackModel", "--workers", "1", "--grpc-workers", "0")
    try:
        with httpx.Client(timeout=10) as client:
            for reward in (1.0, 0.5, 0.0):
                feedback = {"request": {"data": {"ndarray": [[1]]}}, "reward": reward}
                assert client.post(server.url + "/api/v1.0/feedback", json=feedback).status_code == 200
        samples = scrape(server)
    finally:
        server.stop()
    assert value(samples, "seldon_api_model_feedback_total", method="feedback") == 3
    assert value(samples, "seldon_api_model_feedback_reward_total", method="feedback") == 1.5
    assert value(samples, "modelserve_user_code_seconds_count", method="send_feedback") == 3


def test_built_in_metrics_can_be_turned_off() -> None:
    server = start("CountedModel", "--workers", "1", "--grpc-workers", "0", "--builtin-metrics", "0")
    try:
        post(server)
        samples = scrape(server)
    finally:
        server.stop()
    assert {name.split("_")[0] for name, _ in samples} == {"served", "weighted", "last", "work"}


def test_debug_mode_serves_the_same_metrics(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("CountedModel", "--debug")
    for _ in range(3):
        post(server)
    grpc_predict(server)
    samples = scrape(server)
    assert value(samples, "modelserve_requests_total", transport="rest") == 3
    assert value(samples, "modelserve_requests_total", transport="grpc") == 1
    assert value(samples, "served_total") == 4


def test_the_metrics_directory_is_removed_on_shutdown() -> None:
    server = start("CountedModel", "--workers", "1", "--grpc-workers", "0")
    post(server)
    # Its own folders only (named by the supervisor's PID): other servers may run on this machine.
    created = {name for name in os.listdir("/dev/shm") if name.startswith(f"modelserve-metrics-{server.proc.pid}-")}
    assert len(created) >= 1
    assert server.stop() == 0
    time.sleep(0.1)
    assert not created & set(os.listdir("/dev/shm"))


def test_batches_show_their_sizes_and_user_calls_are_counted_per_batch() -> None:
    server = start("BatchSizeModel", "--workers", "1", "--grpc-workers", "0", "--max-batch-size", "8",
                   "--max-batch-time-ms", "20", "--parameters", '[{"name": "delay", "value": "0.1", "type": "FLOAT"}]')
    try:
        def one(i: int) -> int:
            with httpx.Client(timeout=10) as client:
                return client.post(server.url + "/predict", json={"data": {"ndarray": [[i, 0]]}}).status_code

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            assert list(pool.map(one, range(16))) == [200] * 16
        samples = scrape(server)
    finally:
        server.stop()
    calls = value(samples, "modelserve_batch_size_count")
    assert value(samples, "modelserve_batch_size_sum") == 16  # every request in exactly one call
    assert calls < 16  # some were merged
    assert value(samples, "modelserve_user_code_seconds_count", method="predict") == calls
    assert value(samples, "modelserve_batch_queue_seconds_count") == calls
    assert value(samples, "modelserve_requests_total", endpoint="/predict") == 16


def test_v2_and_v1_requests_are_counted_by_protocol() -> None:
    server = start("IdentityModel", "--workers", "1", "--grpc-workers", "1", "--model-name", "identity")
    infer = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]}]}
    try:
        with httpx.Client(timeout=10) as client:
            for _ in range(3):
                assert client.post(server.url + "/v2/models/identity/infer", json=infer).status_code == 200
            assert client.get(server.url + "/v2/health/ready").status_code == 200  # a probe
            assert client.post(server.url + "/v2/models/nope/infer", json=infer).status_code == 404
            answer = client.post(server.url + "/v1/models/identity:predict", json={"instances": [[1, 2]]})
            assert answer.status_code == 200
        samples = scrape(server)
    finally:
        server.stop()
    v2 = {"transport": "rest", "protocol": "v2", "endpoint": "/v2/models/identity/infer", "status": "200"}
    assert value(samples, "modelserve_requests_total", **v2) == 3
    assert value(samples, "modelserve_requests_total", endpoint="unmatched", status="404") == 1
    assert value(samples, "modelserve_requests_total", protocol="kserve-v1", status="200") == 1
    assert value(samples, "modelserve_requests_total", endpoint="/v2/health/ready") == 0
