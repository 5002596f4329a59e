"""merlin-pyfunc-server in UPI_V1 mode: real processes, real MLflow models, and the client a
Merlin user has (caraml-upi-protos' stubs, in .venvs/upi: ``MerlinServer.upi``)."""

from __future__ import annotations

import json
import re

import grpc
import httpx
import pytest

from modelserve.codecs import upi


def test_artifact_model_over_upi(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("iris", "UPI_V1")
    assert json.loads(server.upi("iris")) == {"rows": [["setosa", 0], ["virginica", 2]], "target_name": "class"}


def test_echo_keeps_rows_context_and_prediction_id(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("echo", "UPI_V1")
    answer = json.loads(server.upi("echo"))
    assert answer["rows"] == [["setosa", 5.1, 3.5, 1.4, 0.2], ["virginica", 6.7, 3.0, 5.2, 2.3]]
    assert (answer["context"], answer["prediction_id"], answer["target_name"]) == (["v"], "p-1", "class")


def test_model_errors_keep_merlins_codes(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("error", "UPI_V1")
    answer = json.loads(server.upi("errors"))
    assert answer["value_error"] == ["UNKNOWN", "Unexpected <class 'ValueError'>: boom"]
    assert answer["abort_invalid"] == ["INVALID_ARGUMENT", "bad input"]
    assert answer["set_code"] == ["NOT_FOUND", "not here"]
    assert answer["return_none"][0] == "UNKNOWN" and "NoneType" in answer["return_none"][1]
    assert answer["ok"] == ["OK", "ok"]


def test_health_and_reflection(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("echo", "UPI_V1")
    assert json.loads(server.upi("health")) == {
        "": "SERVING",
        "caraml.upi.v1.UniversalPredictionService": "SERVING",
        "nope": "NOT_FOUND",
    }
    reflected = json.loads(server.upi("reflection"))
    assert reflected["services"] == [
        "caraml.upi.v1.UniversalPredictionService",
        "grpc.reflection.v1alpha.ServerReflection",
    ]
    assert "caraml/upi/v1/upi.proto" in reflected["files"]


def test_workers_are_distinct_processes(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("plain", "UPI_V1", env={"WORKERS": "2"})
    assert len(json.loads(server.upi("pids", env={"CALLS": "30"}))["pids"]) == 2


def test_metrics_on_the_http_port(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("metrics", "UPI_V1", env={"WORKERS": "2"})
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        call = channel.unary_unary(f"/{upi.SERVICE}/{upi.METHOD}")
        for _ in range(5):
            assert upi.PredictValuesResponse.FromString(call(b"", timeout=10)).target_name == "counted"
    for path in ("/metrics", "/anything"):  # prometheus_client's server answered every path
        text = httpx.get(f"{server.url}{path}").text
        assert re.search(r'^pyfunc_test_predictions_total\{protocol="upi"\} 5\.0$', text, re.M), text
        assert re.search(r'^modelserve_requests_total\{.*protocol="upi-v1".*\} 5\.0$', text, re.M), text
    posted = httpx.post(f"{server.url}/v1/models/metrics-1:predict", json={})
    assert posted.status_code == 405 and posted.text == "# HTTP 405 Method Not Allowed: POST; use OPTIONS or GET\n"


def test_grpc_options_are_applied(merlin_server) -> None:  # type: ignore[no-untyped-def]
    server = merlin_server("echo", "UPI_V1", env={"GRPC_OPTIONS": '{"grpc.max_receive_message_length": 1000}'})
    request = upi.PredictValuesRequest(target_name="x" * 2000).SerializeToString()
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        call = channel.unary_unary(f"/{upi.SERVICE}/{upi.METHOD}")
        assert upi.PredictValuesResponse.FromString(call(b"", timeout=10)).target_name == ""  # small: served
        with pytest.raises(grpc.RpcError) as refused:
            call(request, timeout=10)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
