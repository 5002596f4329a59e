"""Pushing to a real Prometheus push gateway (the Debian package prometheus-pushgateway),
started by the tests on a free port; what was pushed is read back from its API."""

from __future__ import annotations

import json
import selectors
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelserve.pushgateway import SelectorPusher
from modelserve.settings import Settings
from tests.conftest import RunningServer, free_port
from tests.conftest import wait_for as _wait_for


def wait_for(condition, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    return _wait_for(condition, timeout, 0.1)

GATEWAY = shutil.which("prometheus-pushgateway")

# Families the server exposes once it has served a prediction.
EXPECTED_METRICS = ("modelserve_requests_total", "modelserve_request_duration_seconds", "modelserve_model_ready")


def predictions_pushed(group: dict[str, Any] | None) -> float:
    """What the pushed request counter says of /predict."""
    if group is None or "modelserve_requests_total" not in group:
        return 0.0
    return sum(
        float(metric["value"])
        for metric in group["modelserve_requests_total"]["metrics"]
        if metric["labels"].get("endpoint") == "/predict"
    )



class PushGateway:
    def __init__(self, port: int = 0):
        self.port = port or free_port()
        assert GATEWAY is not None, "prometheus-pushgateway is not installed (make unit installs it)"
        self.proc = subprocess.Popen(
            [GATEWAY, f"--web.listen-address=127.0.0.1:{self.port}", "--persistence.file=", "--log.level=warn"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the push gateway did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def groups(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v1/metrics", timeout=5) as answer:
            return json.load(answer)["data"]

    def group(self, job: str) -> dict[str, Any] | None:
        for group in self.groups():
            if group["labels"].get("job") == job:
                return group
        return None

    def push_time(self, job: str) -> float:
        group = self.group(job)
        return float(group["push_time_seconds"]["metrics"][0]["value"]) if group else 0.0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def gateway() -> Iterator[PushGateway]:
    started = PushGateway()
    yield started
    started.stop()



def push_env(url: str, interval: float) -> dict[str, str]:
    return {"PUSHGATEWAY_ENABLED": "1", "PUSHGATEWAY_URL": url, "PUSHGATEWAY_PUSH_INTERVAL_SEC": str(interval)}


def predict(server: RunningServer) -> None:
    answer = httpx.post(server.url + "/predict", json={"data": {"ndarray": [1, 2]}}, timeout=10)
    assert answer.status_code == 200


def assert_pushed(
    group: dict[str, Any] | None, server: RunningServer, names: tuple[str, ...] = EXPECTED_METRICS
) -> None:
    assert group is not None
    assert group["labels"] == {"job": "IdentityModel", "instance": f"{socket.gethostname()}:{server.http_port}"}
    for name in names:
        assert name in group, f"{name} was not pushed: {sorted(group)}"
        assert group[name]["metrics"][0]["labels"]["job"] == "IdentityModel"
    assert group["last_push_successful"] is True


def test_pushes_periodically_with_the_grouping_labels(start_server, gateway: PushGateway) -> None:  # type: ignore[no-untyped-def]
    server = start_server("IdentityModel", "--workers", "2", env=push_env(f"127.0.0.1:{gateway.port}", 1))
    predict(server)
    assert wait_for(lambda: predictions_pushed(gateway.group("IdentityModel")) == 1), server.output()
    assert_pushed(gateway.group("IdentityModel"), server)
    first = gateway.push_time("IdentityModel")
    assert wait_for(lambda: gateway.push_time("IdentityModel") > first, 5), "no second push after 1s"
    # What is pushed is what the metrics port serves.
    scraped = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5).text
    for name in EXPECTED_METRICS:
        assert name in scraped
    assert "failed" not in server.output()


def test_pushes_once_more_on_shutdown(start_server, gateway: PushGateway) -> None:  # type: ignore[no-untyped-def]
    server = start_server("IdentityModel", env=push_env(f"http://127.0.0.1:{gateway.port}/", 3600))
    assert wait_for(lambda: gateway.group("IdentityModel") is not None), server.output()
    first = gateway.push_time("IdentityModel")
    assert predictions_pushed(gateway.group("IdentityModel")) == 0
    for _ in range(3):
        predict(server)
    time.sleep(0.05)
    stopped_at = time.time()
    assert server.stop() == 0
    # The final push arrived before the server exited: no waiting here.
    last = gateway.push_time("IdentityModel")
    assert last > first and last >= stopped_at - 0.5
    # The workers have stopped: their counts are pushed, their gauges (model_ready) are gone.
    assert_pushed(gateway.group("IdentityModel"), server, EXPECTED_METRICS[:2])
    assert "modelserve_model_ready" not in gateway.group("IdentityModel")  # type: ignore[operator]
    assert predictions_pushed(gateway.group("IdentityModel")) == 3  # counted by the workers that stopped
    assert "pushed the final metrics" in server.log_path.read_text()


def test_a_gateway_that_is_down_does_not_stop_the_server(start_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()  # nothing listens there yet
    server = start_server("IdentityModel", env=push_env(f"127.0.0.1:{port}", 0.2))
    for _ in range(3):
        predict(server)
        time.sleep(0.4)
    assert server.proc.poll() is None
    assert server.output().count("pushing metrics to") == 1, server.output()  # one warning per streak
    assert "ECONNREFUSED" in server.output()
    late = PushGateway(port)
    try:
        assert wait_for(lambda: late.group("IdentityModel") is not None, 5), server.output()
        assert_pushed(late.group("IdentityModel"), server)
        assert wait_for(lambda: "works again" in server.output(), 5)
        predict(server)
    finally:
        late.stop()
    assert server.stop() == 0  # the final push fails (the gateway is gone): still a clean exit


def test_a_gateway_that_never_answers_does_not_block_the_server(start_server) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        server = start_server("IdentityModel", env=push_env(f"127.0.0.1:{silent.getsockname()[1]}", 0.5))
        started = time.monotonic()
        while time.monotonic() - started < 1.5:
            predict(server)
            metrics = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=2)  # the supervisor
            assert metrics.status_code == 200
            time.sleep(0.1)
        assert wait_for(lambda: "no answer within 0.5s" in server.output(), 5), server.output()
        assert server.stop() == 0


def test_debug_mode_pushes_and_pushes_on_shutdown(start_server, gateway: PushGateway) -> None:  # type: ignore[no-untyped-def]
    server = start_server("IdentityModel", "--debug", env=push_env(f"127.0.0.1:{gateway.port}", 1))
    predict(server)
    assert wait_for(lambda: predictions_pushed(gateway.group("IdentityModel")) == 1), server.output()
    assert_pushed(gateway.group("IdentityModel"), server)
    first = gateway.push_time("IdentityModel")
    assert wait_for(lambda: gateway.push_time("IdentityModel") > first, 5)
    before = gateway.push_time("IdentityModel")
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(10) == 0
    assert gateway.push_time("IdentityModel") > before
    assert "pushed the final metrics" in server.output()


def test_a_bad_gateway_url_fails_the_start() -> None:
    server = RunningServer("IdentityModel", env=push_env("https://gw:9091", 1))
    try:
        assert server.proc.wait(20) == 2
        assert "PUSHGATEWAY_URL" in server.output() and "only http://" in server.output()
    finally:
        server.stop()


def test_a_large_exposition_is_sent_in_full(gateway: PushGateway) -> None:
    """The supervisor's non-blocking client with a body far larger than a socket buffer."""
    series = 30000
    body = "# TYPE big_gauge gauge\n" + "".join(f'big_gauge{{n="{i}"}} {i}\n' for i in range(series))

    def render(accept: str) -> tuple[bytes, str]:
        return body.encode(), "text/plain; version=0.0.4; charset=utf-8"

    settings = Settings.load("BigModel", {"pushgateway_url": f"127.0.0.1:{gateway.port}"}, {})
    pusher = SelectorPusher(settings, render)
    with selectors.DefaultSelector() as selector:
        pusher.tick(selector, time.monotonic())
        assert pusher.exchange is not None
        deadline = time.monotonic() + 20
        while pusher.exchange is not None and time.monotonic() < deadline:
            for key, _ in selector.select(pusher.wait(time.monotonic())):
                key.data(selector)
            pusher.tick(selector, time.monotonic())
    assert len(body) > 500_000
    assert pusher.streak.pushes == 1 and not pusher.streak.failing
    group = gateway.group("BigModel")
    assert group is not None and len(group["big_gauge"]["metrics"]) == series
