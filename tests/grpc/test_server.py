"""The gRPC transport against real serving processes (grpc.aio on uvloop)."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from collections.abc import Iterator

import grpc
import httpx
import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from modelserve.codecs import messages
from tests.grpc.conftest import GrpcProcess

NDARRAY_2D = {"data": {"ndarray": [[1, 2], [3, 4], [5, 6]]}}
ECHO_2D = {"data": {"names": ["t:0", "t:1"], "ndarray": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]}, "meta": {}}
TENSOR = {"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}}
ECHO_TENSOR = {
    "data": {"names": ["t:0", "t:1"], "tensor": {"shape": [2, 2], "values": [1.0, 2.0, 3.0, 4.0]}},
    "meta": {},
}


@pytest.fixture(scope="module")
def identity() -> Iterator[GrpcProcess]:
    server = GrpcProcess("IdentityModel").wait_ready()
    yield server
    server.stop()


# -- payloads on every service of the model


@pytest.mark.parametrize(
    "service, method",
    [
        ("Model", "Predict"),
        ("Seldon", "Predict"),
        ("Generic", "TransformInput"),
        ("Generic", "TransformOutput"),
        ("Transformer", "TransformInput"),
        ("OutputTransformer", "TransformOutput"),
    ],
)
def test_identity_on_every_service(identity: GrpcProcess, service: str, method: str) -> None:
    assert identity.call_dict(service, method, NDARRAY_2D) == ECHO_2D
    assert identity.call_dict(service, method, TENSOR) == ECHO_TENSOR


@pytest.mark.parametrize(
    "request_body, expected",
    [
        ({"data": {"ndarray": [1, 2.5, 3]}}, {"data": {"ndarray": [1.0, 2.5, 3.0]}, "meta": {}}),
        ({"binData": "YmluYXJ5AAH/cGF5bG9hZA=="}, {"binData": "YmluYXJ5AAH/cGF5bG9hZA==", "meta": {}}),
        ({"strData": "hello"}, {"strData": "hello", "meta": {}}),
        ({"jsonData": {"a": [1, None]}}, {"jsonData": {"a": [1.0, None]}, "meta": {}}),
        (
            {"data": {"ndarray": [["a", "b"], ["c", "d"]]}},
            {"data": {"names": ["t:0", "t:1"], "ndarray": [["a", "b"], ["c", "d"]]}, "meta": {}},
        ),
        (
            {
                "meta": {"puid": "p-1", "tags": {"t": "x"}, "routing": {"r": 1}, "requestPath": {"m": "i:1"}},
                "strData": "s",
            },
            {"strData": "s", "meta": {"puid": "p-1", "tags": {"t": "x"}, "requestPath": {"m": "i:1"}}},
        ),
    ],
)
def test_payload_kinds(identity: GrpcProcess, request_body: dict, expected: dict) -> None:
    assert identity.call_dict("Model", "Predict", request_body) == expected


def test_tftensor_without_tensorflow(identity: GrpcProcess) -> None:
    tensor = {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}]}, "floatVal": [1.0, 2.0]}
    answer = identity.call("Model", "Predict", {"data": {"tftensor": tensor}})
    assert answer.data.tftensor.dtype == 1  # DT_FLOAT
    assert np.frombuffer(answer.data.tftensor.tensor_content, "<f4").tolist() == [1.0, 2.0]


def test_big_arrays(identity: GrpcProcess) -> None:
    values = np.arange(200_000.0) % 10
    request = messages.SeldonMessage()
    request.data.tensor.shape.extend([400, 500])
    request.data.tensor.values.extend(values.tolist())
    answer = identity.call("Model", "Predict", request)
    assert list(answer.data.tensor.shape) == [400, 500]
    assert np.array_equal(np.array(answer.data.tensor.values), values)
    row = messages.SeldonMessage()
    row.data.ndarray.extend([values[:100_000].tolist()])
    answer = identity.call("Model", "Predict", row)
    assert len(answer.data.names) == 100_000
    assert answer.data.ndarray == row.data.ndarray


def test_concurrent_calls(identity: GrpcProcess) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: identity.call_dict("Model", "Predict", {"strData": str(i)}), range(64)))
    assert [a["strData"] for a in answers] == [str(i) for i in range(64)]


# -- errors: a gRPC code that says what happened, details that say why


def test_request_without_payload_is_invalid(identity: GrpcProcess) -> None:
    error = identity.error("Model", "Predict", {"status": {"code": 3, "info": "x"}})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no payload" in error.details()
    assert ("seldon-reason", "MICROSERVICE_BAD_DATA") in tuple(error.trailing_metadata())


@pytest.mark.parametrize(
    "service, method, request_body, details",
    [
        ("Router", "Route", NDARRAY_2D, "Route not defined"),
        ("Generic", "Route", NDARRAY_2D, "Route not defined"),
        ("Generic", "Aggregate", {"seldonMessages": [NDARRAY_2D, NDARRAY_2D]}, "Aggregate not defined"),
        ("Combiner", "Aggregate", {"seldonMessages": []}, "at least one message"),
        ("Model", "Predict", {"data": {"ndarray": [[1, 2], [3]]}}, "Invalid ndarray"),
        ("Model", "Predict", {"data": {"tensor": {"shape": [3], "values": [1, 2]}}}, "Invalid tensor"),
    ],
)
def test_client_errors(identity: GrpcProcess, service: str, method: str, request_body: dict, details: str) -> None:
    error = identity.error(service, method, request_body)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details in error.details()


def test_graph_metadata_is_unimplemented(identity: GrpcProcess) -> None:
    error = identity.error("Seldon", "GraphMetadata")
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error.details()


def test_undecodable_bytes_and_unknown_methods(identity: GrpcProcess) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        identity.channel.unary_unary("/seldon.protos.Model/Predict")(b"\xff\xff\xff", timeout=5)
    assert (caught.value.code(), caught.value.details()) == (
        grpc.StatusCode.INTERNAL,
        "Exception deserializing request!",
    )
    for path in ("/seldon.protos.Model/NoSuchMethod", "/no.such.Service/Predict"):
        with pytest.raises(grpc.RpcError) as caught:
            identity.channel.unary_unary(path)(b"", timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert identity.call_dict("Model", "Predict", {"strData": "still serving"})["strData"] == "still serving"


def test_user_exceptions(start_grpc) -> None:  # type: ignore[no-untyped-def]
    seldon_error = start_grpc("SeldonErrorModel").error("Seldon", "Predict", NDARRAY_2D)
    assert seldon_error.code() == grpc.StatusCode.INVALID_ARGUMENT  # its status_code 422
    assert "input rejected by model" in seldon_error.details()
    assert ("seldon-reason", "MY_MODEL_REJECTED") in tuple(seldon_error.trailing_metadata())
    value_error = start_grpc("ValueErrorModel").error("Model", "Predict", NDARRAY_2D)
    assert value_error.code() == grpc.StatusCode.INTERNAL
    assert "bad value from model" in value_error.details()


def test_message_size_limit(start_grpc) -> None:  # type: ignore[no-untyped-def]
    server = start_grpc("IdentityModel", grpc_max_message_size=4096)
    assert server.call_dict("Model", "Predict", {"strData": "small"})["strData"] == "small"
    error = server.error("Model", "Predict", {"strData": "x" * 10_000})
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


# -- the other kinds of models


def test_router_combiner_transformer_feedback(start_grpc) -> None:  # type: ignore[no-untyped-def]
    router = start_grpc("RouterModel", service_type="ROUTER")
    assert router.call_dict("Router", "Route", {"data": {"ndarray": [[5, 1]]}}) == {
        "data": {"names": ["t:0"], "ndarray": [[1.0]]},
        "meta": {},
    }
    assert router.call_dict("Generic", "Route", TENSOR)["data"]["tensor"] == {"shape": [1, 1], "values": [1.0]}
    combiner = start_grpc("CombinerModel", service_type="COMBINER")
    two = {"seldonMessages": [{"data": {"ndarray": [[1, 2]]}}, {"data": {"ndarray": [[3, 4]]}}]}
    assert combiner.call_dict("Combiner", "Aggregate", two)["data"]["ndarray"] == [[2.0, 3.0]]
    transformer = start_grpc("TransformerModel", service_type="TRANSFORMER")
    assert transformer.call_dict("Transformer", "TransformInput", {"data": {"ndarray": [[1, 2]]}})["data"][
        "ndarray"
    ] == [[2.0, 3.0]]
    feedback = start_grpc("FeedbackModel", env={"PREDICTIVE_UNIT_ID": "unit"})
    body = {
        "request": {"data": {"names": ["a", "b"], "ndarray": [[1, 2]]}},
        "response": {"meta": {"routing": {"unit": 1}}, "data": {"ndarray": [[0.2, 0.8]]}},
        "reward": 0.5,
        "truth": {"data": {"ndarray": [[0, 1]]}},
    }
    for service in ("Model", "Seldon", "Generic", "Router"):
        answer = feedback.call_dict(service, "SendFeedback", body)
        assert answer["data"]["ndarray"] == [[0.5, 1.0, 2.0, 2.0]]
        assert answer["meta"] == {"requestPath": {"unit": ""}}


def test_feedback_without_request_data_answers_a_tensor(start_grpc) -> None:  # type: ignore[no-untyped-def]
    """The original's rule: a numeric answer to a Feedback whose request has no ``data`` is a
    tensor; with data, of the data's kind. The REST answer is the same message as JSON."""
    server = start_grpc("NoDataModel")
    tensor = {"names": ["t:0", "t:1"], "tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}
    for body in ({}, {"reward": 1}, {"request": {"meta": {"puid": "p"}}}, {"request": {"strData": "x"}}):
        answer = server.call_dict("Model", "SendFeedback", body)
        assert answer["data"] == tensor
        assert answer == httpx.post(server.url + "/send-feedback", json=body).json()
    with_data = server.call_dict("Seldon", "SendFeedback", {"request": {"data": {"ndarray": [[5]]}}})
    assert with_data["data"] == {"names": ["t:0", "t:1"], "ndarray": [[1.0, 2.0]]}
    raw = start_grpc("FeedbackRawModel")
    assert raw.call_dict("Model", "SendFeedback", {"reward": 0.5}) == {
        "strData": "seldon.protos.Feedback reward=0.5",
        "meta": {},
    }


def test_raw_methods_and_metrics(start_grpc) -> None:  # type: ignore[no-untyped-def]
    raw = start_grpc("EchoRawModel")
    assert raw.call_dict("Model", "Predict", {}) == {"meta": {"tags": {"raw": "yes"}}}
    assert raw.call_dict("Model", "Predict", NDARRAY_2D)["data"] == {"ndarray": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]}
    metrics = start_grpc("MetricsModel")
    meta = metrics.call_dict("Model", "Predict", {"meta": {"puid": "p"}, "data": {"ndarray": [[1, 2]]}})["meta"]
    assert meta["puid"] == "p"
    assert meta["tags"] == {"model_tag": "metrics-model", "version": "1"}
    assert [m["key"] for m in meta["metrics"]] == ["acc_counter_total", "acc_gauge", "acc_timer", "acc_tagged_counter"]
    assert meta["metrics"][3]["tags"] == {"colour": "blue", "method": "predict"}


def test_meta_reaches_the_model(start_grpc) -> None:  # type: ignore[no-untyped-def]
    echo = start_grpc("MetaEchoModel")
    answer = echo.call_dict("Model", "Predict", {"meta": {"puid": "p", "tags": {"n": 1}}, "data": {"ndarray": [[1]]}})
    assert answer["jsonData"] == {"meta": {"puid": "p", "tags": {"n": 1.0}}, "names": []}
    assert echo.call_dict("Model", "Predict", {"strData": "x"})["jsonData"] == {"meta": {}, "names": []}


def test_custom_data(start_grpc) -> None:  # type: ignore[no-untyped-def]
    server = start_grpc("AnyModel")
    request = messages.SeldonMessage()
    request.customData.type_url = "type.googleapis.com/my.Thing"
    request.customData.value = b"\x01\x02"
    assert server.call("Model", "Predict", request).customData == request.customData
    answer = server.call("Model", "Predict", {"strData": "any"})
    assert answer.customData.type_url == "type.googleapis.com/example.Thing"


# -- metadata


def test_metadata(identity: GrpcProcess, start_grpc) -> None:  # type: ignore[no-untyped-def]
    assert identity.call_dict("Model", "Metadata") == {"versions": [""]}
    assert identity.call_dict("Seldon", "ModelMetadata", {"name": "any"}) == {"versions": [""]}
    meta = start_grpc("HealthMetaModel", env={"MODEL_METADATA": '{"name": "from-env"}'})
    answer = meta.call_dict("Model", "Metadata")
    assert answer["name"] == "from-env"
    assert answer["inputs"][1] == {"name": "input-1", "datatype": "FP32", "shape": ["1", "2"]}
    assert start_grpc("BadMetadataModel").call_dict("Model", "Metadata") == {}


# -- health, reflection, shutdown


def test_health(identity: GrpcProcess) -> None:
    for service in ("", "seldon.protos.Model", "seldon.protos.Seldon"):
        assert identity.health(service) == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as caught:
        identity.health("no.such.Service")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_reflection(identity: GrpcProcess) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(identity.channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="seldon.protos.Seldon"),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="grpc.health.v1.Health"),
    ]
    listed, seldon, health = list(stub.ServerReflectionInfo(iter(requests), timeout=5))
    assert sorted(s.name for s in listed.list_services_response.service) == sorted(
        [
            *messages.SERVICES,
            "inference.GRPCInferenceService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    )
    pool = descriptor_pool.DescriptorPool()
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(b) for b in seldon.file_descriptor_response.file_descriptor_proto
    ]
    for _ in files:  # dependencies first, whatever the order sent
        for file in files:
            try:
                pool.FindFileByName(file.name)
            except KeyError:
                try:
                    pool.Add(file)
                except TypeError:
                    pass
    methods = [m.name for m in pool.FindServiceByName("seldon.protos.Seldon").methods]
    assert methods == ["Predict", "SendFeedback", "ModelMetadata", "GraphMetadata"]
    assert health.file_descriptor_response.file_descriptor_proto


def test_drain_on_sigterm(start_grpc) -> None:  # type: ignore[no-untyped-def]
    server = start_grpc("SleepModel", graceful_timeout=10.0, grpc_threads=4)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(server.call_dict, "Model", "Predict", {"strData": "1.5"})
        time.sleep(0.5)
        os.kill(server.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        drained = False
        while time.monotonic() < deadline and not drained:
            try:
                drained = server.health() == health_pb2.HealthCheckResponse.NOT_SERVING
            except grpc.RpcError as error:
                drained = error.code() == grpc.StatusCode.UNAVAILABLE  # already refusing new calls
            time.sleep(0.02)
        assert drained
        assert slow.result(timeout=10)["strData"] == "1.5"  # the call in flight finishes
    assert server.proc.wait(10) == 0


def test_several_processes_share_the_port(start_grpc) -> None:  # type: ignore[no-untyped-def]
    first = start_grpc("IdentityModel")
    second = start_grpc("IdentityModel", grpc_port=first.port)  # grpc.so_reuseport
    assert second.call_dict("Model", "Predict", {"strData": "x"})["strData"] == "x"


def test_rest_and_grpc_in_one_process(start_grpc) -> None:  # type: ignore[no-untyped-def]
    server = start_grpc("IdentityModel", debug=True)
    rest = httpx.post(f"http://127.0.0.1:{server.http_port}/predict", json=NDARRAY_2D).json()
    assert rest == {"data": {"names": ["t:0", "t:1"], "ndarray": [[1, 2], [3, 4], [5, 6]]}, "meta": {}}
    assert server.call_dict("Model", "Predict", NDARRAY_2D) == ECHO_2D
    assert json_format.MessageToDict(server.call("Model", "Metadata", {})) == {"versions": [""]}
