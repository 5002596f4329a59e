"""--access-log, the log format and the log level through real servers and clients."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import grpc
import httpx

from tests.conftest import RunningServer, wait_for
from tests.grpc.conftest import GrpcProcess

ACCESS = re.compile(
    r"INFO \[(?P<pid>\d+)\] modelserve\.access: (?P<method>\S+) (?:(?P<path>/\S*) )?(?P<status>\S+) "
    r"(?P<ms>\d+\.\d{3})ms (?P<worker>\S+)$"
)


def access_lines(server: RunningServer, pings: bool = False) -> list[dict[str, str]]:
    """The access lines, without those of wait_ready's pings unless asked."""
    found = []
    for line in server.output().splitlines():
        match = ACCESS.search(line)
        if match and (pings or match["path"] != "/health/ping"):
            found.append(match.groupdict())
    return found


def json_records(server: RunningServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]



def start_both(*flags: str, env: dict[str, str] | None = None) -> GrpcProcess:
    """A supervisor with one REST and one gRPC worker, both ready."""
    settings = {flag.removeprefix("--").replace("-", "_"): True for flag in flags}
    server = GrpcProcess("FailingModel", env=env, **settings)
    server.wait_ready()
    RunningServer.wait_ready(server)
    return server


def rest_calls(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post("/predict", json={"strData": "ok"}).status_code == 200
        assert client.post("/api/v1.0/predictions", json={"strData": "reject"}).status_code == 422
        assert client.get("/nowhere").status_code == 404
    metrics = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10)
    assert metrics.status_code == 200


def grpc_calls(server: GrpcProcess) -> None:
    assert server.call_dict("Model", "Predict", {"strData": "ok"})["strData"] == "ok"
    assert server.error("Model", "Predict", {"strData": "reject"}).code() == grpc.StatusCode.INVALID_ARGUMENT


def test_one_line_per_rest_and_grpc_request() -> None:
    server = start_both("--access-log")
    try:
        rest_calls(server)
        grpc_calls(server)
        assert wait_for(lambda: len(access_lines(server)) >= 5), server.output()
        lines = access_lines(server)
        got = [(line["method"], line["path"], line["status"], line["worker"]) for line in lines]
        assert got == [
            ("POST", "/predict", "200", "rest-0"),
            ("POST", "/api/v1.0/predictions", "422", "rest-0"),
            ("GET", "/nowhere", "404", "rest-0"),
            ("/seldon.protos.Model/Predict", None, "OK", "grpc-0"),
            ("/seldon.protos.Model/Predict", None, "INVALID_ARGUMENT", "grpc-0"),
        ], server.output()  # and no line for the metrics scrape: filtered by default
        assert all(float(line["ms"]) > 0 for line in lines)
        assert lines[0]["pid"] != lines[3]["pid"]  # two worker processes
        assert "uvicorn.access" not in server.output()  # uvicorn's own line (no duration) is off
    finally:
        server.stop()


def test_json_format_has_the_access_fields_as_keys() -> None:
    server = start_both("--access-log", env={"MODELSERVE_LOG_FORMAT": "json"})
    try:
        rest_calls(server)
        grpc_calls(server)

        def access() -> list[dict[str, Any]]:
            return [
                r for r in json_records(server) if r["logger"] == "modelserve.access" and r["path"] != "/health/ping"
            ]

        assert wait_for(lambda: len(access()) >= 5), server.output()
        records = access()
        first, grpc_ok = records[0], records[3]
        assert {key: first[key] for key in ("method", "path", "status", "worker", "level")} == {
            "method": "POST", "path": "/predict", "status": 200, "worker": "rest-0", "level": "INFO"
        }
        assert isinstance(first["duration_ms"], float) and first["duration_ms"] > 0
        assert isinstance(first["pid"], int) and first["time"].endswith("Z")
        assert (grpc_ok["method"], grpc_ok["path"], grpc_ok["status"]) == ("/seldon.protos.Model/Predict", None, "OK")
        # Every line of every process is one JSON object.
        for line in server.output().splitlines():
            json.loads(line)
        workers = {r["worker"] for r in json_records(server)}
        assert {"supervisor", "rest-0", "grpc-0"} <= workers
    finally:
        server.stop()


def test_metrics_scrapes_are_logged_when_not_filtered(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("IdentityModel", "--access-log", env={"FILTER_METRICS_ACCESS_LOGS": "0"})
    for _ in range(2):
        assert httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10).status_code == 200
    assert httpx.get(f"http://127.0.0.1:{server.metrics_port}/other", timeout=10).status_code == 404
    assert wait_for(lambda: len(access_lines(server)) >= 3), server.output()
    got = [(line["method"], line["path"], line["status"], line["worker"]) for line in access_lines(server)]
    assert got == [("GET", "/metrics", "200", "supervisor")] * 2 + [("GET", "/other", "404", "supervisor")]


def test_no_access_lines_without_access_log(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("IdentityModel", env={"FILTER_METRICS_ACCESS_LOGS": "0"})
    assert httpx.post(server.url + "/predict", json={"strData": "x"}, timeout=10).status_code == 200
    assert httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10).status_code == 200
    time.sleep(0.3)
    assert access_lines(server) == []
    assert "modelserve.access" not in server.output()


def test_debug_mode_logs_rest_and_metrics_requests(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("IdentityModel", "--debug", "--access-log")  # --debug: scrapes not filtered
    assert httpx.post(server.url + "/predict", json={"strData": "x"}, timeout=10).status_code == 200
    assert httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10).status_code == 200
    assert wait_for(lambda: len(access_lines(server, pings=True)) >= 3), server.output()
    got = [(line["method"], line["path"], line["status"], line["worker"]) for line in access_lines(server, True)]
    # wait_ready's ping, the prediction, the scrape: all in the one process.
    assert got == [
        ("GET", "/health/ping", "200", "single"),
        ("POST", "/predict", "200", "single"),
        ("GET", "/metrics", "200", "single"),
    ]


def test_the_log_level_applies_to_the_users_logging_in_workers(start_server) -> None:  # type: ignore[no-untyped-def]
    quiet = start_server("LoggingModel")
    loud = start_server("LoggingModel", "--log-level", "DEBUG")
    warning = start_server("LoggingModel", env={"LOG_LEVEL_ENV": "WARNING"})
    for server in (quiet, loud, warning):
        assert httpx.post(server.url + "/predict", json={"strData": "hi"}, timeout=10).status_code == 200
    assert wait_for(lambda: "model info message hi" in quiet.output() and "model debug message hi" in loud.output())
    time.sleep(0.2)
    assert "model debug message" not in quiet.output()
    assert "DEBUG [" in loud.output() and "LoggingModel: model debug message hi" in loud.output()
    assert "model info message" not in warning.output()
    assert "serving LoggingModel" not in warning.output()  # the server's own INFO lines too
