"""Tracing through real serving processes, with the spans received by a real OTLP/HTTP endpoint."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format

from modelserve.codecs import messages
from tests.conftest import RunningServer, free_port
from tests.grpc.conftest import GrpcProcess
from tests.tracing.conftest import (
    INTERNAL_KIND,
    SERVER_KIND,
    STATUS_ERROR,
    STATUS_UNSET,
    OtlpReceiver,
    ReceivedSpan,
)

MODEL = "TracingProbeModel"
PREDICT_SPAN = f"predict {MODEL}"


def tracing_env(receiver: OtlpReceiver, delay_ms: int = 100, **extra: str) -> dict[str, str]:
    return {"TRACING": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": str(delay_ms),
            **extra}


def traceparent() -> tuple[str, str, str]:
    """A sampled W3C traceparent of a new trace: (header, trace id, caller's span id)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, [span.name for span in spans]
    return found[0]


def rest_predict(server: RunningServer, header: str, data: str = "hello") -> httpx.Response:
    return httpx.post(
        server.url + "/api/v1.0/predictions", json={"strData": data}, headers={"traceparent": header}, timeout=10
    )


def grpc_predict(server: GrpcProcess, header: str, data: str = "hello") -> Any:
    request_type, _ = messages.SERVICES["seldon.protos.Model"]["Predict"]
    request = json_format.ParseDict({"strData": data}, request_type())
    return server.stub("Model", "Predict")(request, metadata=(("traceparent", header),), timeout=10)


def check_user_call(spans: list[ReceivedSpan], request: ReceivedSpan) -> ReceivedSpan:
    call = one(spans, PREDICT_SPAN)
    assert call.parent_id == request.span_id
    assert call.kind == INTERNAL_KIND
    assert call.attributes["modelserve.model.name"] == MODEL
    assert call.attributes["modelserve.model.method"] == "predict"
    assert call.attributes["code.function.name"] == f"{MODEL}.predict"
    return call


def test_rest_request_continues_the_callers_trace(receiver: OtlpReceiver, start_server: Any) -> None:
    server = start_server(MODEL, env=tracing_env(receiver))
    header, trace_id, caller = traceparent()
    response = rest_predict(server, header)
    assert response.status_code == 200, response.text
    assert response.json()["jsonData"]["opentelemetry_loaded"] is True
    spans = receiver.trace(trace_id, 3)
    request = one(spans, "POST /api/v1.0/predictions")
    assert request.parent_id == caller
    assert request.kind == SERVER_KIND
    assert request.status == STATUS_UNSET
    assert request.service == MODEL
    attributes = request.attributes
    assert attributes["http.request.method"] == "POST"
    assert attributes["url.path"] == "/api/v1.0/predictions"
    assert attributes["http.route"] == "/api/v1.0/predictions"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.scheme"] == "http"
    assert attributes["server.port"] == server.http_port
    call = check_user_call(spans, request)
    assert call.status == STATUS_UNSET
    assert one(spans, "user-step").parent_id == call.span_id  # the user's own span joins the trace


def test_rest_errors_are_marked(receiver: OtlpReceiver, start_server: Any) -> None:
    server = start_server(MODEL, env=tracing_env(receiver))
    header, trace_id, _ = traceparent()
    assert rest_predict(server, header, "crash").status_code == 500
    spans = receiver.trace(trace_id, 2)
    request = one(spans, "POST /api/v1.0/predictions")
    assert request.status == STATUS_ERROR
    assert request.attributes["http.response.status_code"] == 500
    assert request.attributes["error.type"] == "500"
    call = check_user_call(spans, request)
    assert call.status == STATUS_ERROR
    assert "exception" in call.events

    # A client error is not the server's: answered 404, no route, status left unset.
    header, trace_id, _ = traceparent()
    assert httpx.get(server.url + "/no/such/path", headers={"traceparent": header}).status_code == 404
    (missing,) = receiver.trace(trace_id, 1)
    assert missing.name == "GET"
    assert "http.route" not in missing.attributes
    assert missing.attributes["http.response.status_code"] == 404
    assert missing.status == STATUS_UNSET


@pytest.fixture
def grpc_servers() -> Any:
    started: list[GrpcProcess] = []

    def start(env: dict[str, str], **settings: Any) -> GrpcProcess:
        server = GrpcProcess(MODEL, env, **settings)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        server.stop()


def test_grpc_call_continues_the_callers_trace(receiver: OtlpReceiver, grpc_servers: Any) -> None:
    server = grpc_servers(tracing_env(receiver))
    header, trace_id, caller = traceparent()
    answer = grpc_predict(server, header)
    assert answer.jsonData.struct_value["opentelemetry_loaded"] is True
    spans = receiver.trace(trace_id, 3)
    request = one(spans, "seldon.protos.Model/Predict")
    assert request.parent_id == caller
    assert request.kind == SERVER_KIND
    assert request.service == MODEL
    assert request.attributes == {
        "rpc.system": "grpc",
        "rpc.service": "seldon.protos.Model",
        "rpc.method": "Predict",
        "rpc.grpc.status_code": 0,
    }
    assert request.status == STATUS_UNSET
    check_user_call(spans, request)
    assert one(spans, "user-step").parent_id == one(spans, PREDICT_SPAN).span_id

    header, trace_id, _ = traceparent()
    with pytest.raises(grpc.RpcError) as caught:
        grpc_predict(server, header, "crash")
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    spans = receiver.trace(trace_id, 2)
    failed = one(spans, "seldon.protos.Model/Predict")
    assert failed.status == STATUS_ERROR
    assert failed.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert "probe crashed" in failed.status_message
    assert check_user_call(spans, failed).status == STATUS_ERROR


def test_spans_are_flushed_on_sigterm(receiver: OtlpReceiver, grpc_servers: Any) -> None:
    # An export every 60 s: the spans can only arrive through the shutdown's flush.
    server = grpc_servers(tracing_env(receiver, delay_ms=60_000))
    rest_header, rest_trace, _ = traceparent()
    grpc_header, grpc_trace, _ = traceparent()
    assert rest_predict(server, rest_header).status_code == 200
    grpc_predict(server, grpc_header)
    time.sleep(0.5)
    assert receiver.spans == []
    assert server.stop() == 0
    assert len(receiver.trace(rest_trace, 3, timeout=5)) == 3
    assert len(receiver.trace(grpc_trace, 3, timeout=5)) == 3


def test_otel_propagators_is_honoured(receiver: OtlpReceiver, start_server: Any) -> None:
    env = tracing_env(receiver, OTEL_PROPAGATORS="baggage")  # no tracecontext: traceparent is not read
    server = start_server(MODEL, "--grpc-workers", "0", env=env)
    header, trace_id, _ = traceparent()
    assert rest_predict(server, header).status_code == 200
    spans = receiver.wait_for(lambda spans: any(s.name == "POST /api/v1.0/predictions" for s in spans))
    request = one(spans, "POST /api/v1.0/predictions")
    assert request.trace_id != trace_id
    assert request.parent_id == ""


def test_an_unreachable_collector_holds_up_neither_requests_nor_shutdown(start_server: Any) -> None:
    env = {"TRACING": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    server = start_server(MODEL, "--grpc-workers", "0", env={**env, "OTEL_BSP_SCHEDULE_DELAY": "100"})
    header, _, _ = traceparent()
    for _ in range(3):
        assert rest_predict(server, header).status_code == 200
        time.sleep(0.2)
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 5 + 2
    assert "the last spans were not exported within 5s of stopping: dropped" in server.log_path.read_text()


def test_every_rest_worker_exports(receiver: OtlpReceiver, start_server: Any) -> None:
    server = start_server(MODEL, "--workers", "2", "--grpc-workers", "0", env=tracing_env(receiver, 60_000))
    traces: dict[str, int] = {}
    for _ in range(60):  # a new connection per request: the kernel spreads them over both workers
        header, trace_id, _ = traceparent()
        traces[trace_id] = rest_predict(server, header).json()["jsonData"]["pid"]
        if len(set(traces.values())) == 2:
            break
    assert len(set(traces.values())) == 2, "the requests all went to one worker"
    assert server.stop() == 0
    for trace_id in traces:
        assert len(receiver.trace(trace_id, 3, timeout=5)) == 3


def test_debug_mode_traces_rest_and_grpc(receiver: OtlpReceiver, grpc_servers: Any) -> None:
    server = grpc_servers(tracing_env(receiver), debug=True)
    rest_header, rest_trace, _ = traceparent()
    grpc_header, grpc_trace, _ = traceparent()
    assert rest_predict(server, rest_header).status_code == 200
    grpc_predict(server, grpc_header)
    check_user_call(receiver.trace(rest_trace, 3), one(receiver.trace(rest_trace, 3), "POST /api/v1.0/predictions"))
    grpc_spans = receiver.trace(grpc_trace, 3)
    check_user_call(grpc_spans, one(grpc_spans, "seldon.protos.Model/Predict"))


def test_jaeger_agent_host_becomes_an_otlp_endpoint(receiver: OtlpReceiver, start_server: Any) -> None:
    port = receiver.endpoint.rsplit(":", 1)[1]
    env = {"TRACING": "1", "JAEGER_AGENT_HOST": "127.0.0.1", "JAEGER_AGENT_PORT": port}
    env["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    server = start_server(MODEL, "--grpc-workers", "0", env=env)
    header, trace_id, _ = traceparent()
    assert rest_predict(server, header).status_code == 200
    assert len(receiver.trace(trace_id, 3)) == 3
    assert set(receiver.paths) == {"/v1/traces"}
    assert f"JAEGER_AGENT_HOST=127.0.0.1: exporting OTLP to http://127.0.0.1:{port}/v1/traces" in server.output()


def test_otlp_over_grpc(grpc_receiver: OtlpReceiver, grpc_servers: Any) -> None:
    server = grpc_servers(tracing_env(grpc_receiver, OTEL_EXPORTER_OTLP_PROTOCOL="grpc"))
    rest_header, rest_trace, _ = traceparent()
    grpc_header, grpc_trace, _ = traceparent()
    assert rest_predict(server, rest_header).status_code == 200
    grpc_predict(server, grpc_header)
    assert len(grpc_receiver.trace(rest_trace, 3)) == 3
    assert len(grpc_receiver.trace(grpc_trace, 3)) == 3


def test_tracing_off_sends_nothing_and_imports_nothing(receiver: OtlpReceiver, grpc_servers: Any) -> None:
    env = tracing_env(receiver)
    del env["TRACING"]
    server = grpc_servers(env)
    header, _, _ = traceparent()
    assert rest_predict(server, header).json()["jsonData"]["opentelemetry_loaded"] is False
    assert grpc_predict(server, header).jsonData.struct_value["opentelemetry_loaded"] is False
    assert server.stop() == 0
    time.sleep(0.3)
    assert receiver.paths == []


@pytest.fixture
def without_opentelemetry(tmp_path: Path) -> dict[str, str]:
    """PYTHONPATH for a server where ``import opentelemetry`` fails, as without the extra."""
    blocker = tmp_path / "opentelemetry"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'opentelemetry'\")\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}


def test_without_the_extra_tracing_off_serves(without_opentelemetry: dict[str, str], start_server: Any) -> None:
    server = start_server(MODEL, "--grpc-workers", "0", env=without_opentelemetry)
    header, _, _ = traceparent()
    assert rest_predict(server, header).json()["jsonData"]["opentelemetry_loaded"] is False


def test_without_the_extra_tracing_on_fails_clearly(without_opentelemetry: dict[str, str]) -> None:
    server = RunningServer(MODEL, "--grpc-workers", "0", "--tracing", env=without_opentelemetry)
    try:
        assert server.proc.wait(30) == 1
        output = server.output()
        assert "tracing is on (--tracing/TRACING) but No module named 'opentelemetry'" in output
        assert "pip install 'modelserve[tracing]'" in output
    finally:
        server.stop()
