"""inference.GRPCInferenceService (V2 over gRPC) against real serving processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from modelserve.codecs import messages
from tests.grpc.conftest import GrpcProcess

SERVICE = "inference.GRPCInferenceService"
_methods = messages.POOL.FindServiceByName(SERVICE).methods_by_name


def cls(name: str) -> Any:
    return messages.message_class(f"inference.{name}")


@pytest.fixture(scope="module")
def identity() -> Iterator[GrpcProcess]:
    server = GrpcProcess("IdentityModel", model_name="identity", model_version="3").wait_ready()
    yield server
    server.stop()


def call(server: GrpcProcess, method: str, request: Any) -> Any:
    response_class = messages.message_class(_methods[method].output_type.full_name)
    stub = server.channel.unary_unary(
        f"/{SERVICE}/{method}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    return stub(request, timeout=10)


def error(server: GrpcProcess, method: str, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(server, method, request)
    return caught.value


def fp32_request(values: list[float], shape: list[int] | None = None, **fields: Any) -> Any:
    request = cls("ModelInferRequest")(model_name=fields.pop("model_name", "identity"), **fields)
    tensor = request.inputs.add(name="x", datatype="FP32", shape=shape or [len(values)])
    tensor.contents.fp32_contents.extend(values)
    return request


def test_health_and_metadata(identity: GrpcProcess) -> None:
    assert call(identity, "ServerLive", cls("ServerLiveRequest")()).live
    assert call(identity, "ServerReady", cls("ServerReadyRequest")()).ready
    assert call(identity, "ModelReady", cls("ModelReadyRequest")(name="identity")).ready
    assert call(identity, "ModelReady", cls("ModelReadyRequest")(name="identity", version="3")).ready
    server = call(identity, "ServerMetadata", cls("ServerMetadataRequest")())
    assert server.name == "modelserve" and server.version
    model = call(identity, "ModelMetadata", cls("ModelMetadataRequest")(name="identity"))
    assert (model.name, list(model.versions), model.platform) == ("identity", ["3"], "")


def test_model_metadata_tensors(start_grpc) -> None:  # type: ignore[no-untyped-def]
    server = start_grpc("MetadataV2Model")
    model = call(server, "ModelMetadata", cls("ModelMetadataRequest")(name="MetadataV2Model"))
    assert [(t.name, t.datatype, list(t.shape)) for t in model.inputs] == [("x", "FP32", [-1, 4])]
    assert [(t.name, t.datatype, list(t.shape)) for t in model.outputs] == [("y", "FP64", [-1, 3])]
    assert model.parameters["author"].string_param == "me"


def test_infer_typed(identity: GrpcProcess) -> None:
    request = fp32_request([1.5, 2, 3, 4], [2, 2], id="g-1")
    request.parameters["tag"].string_param = "t"
    response = call(identity, "ModelInfer", request)
    assert (response.model_name, response.model_version, response.id) == ("identity", "3", "g-1")
    assert response.parameters["tag"].string_param == "t"
    (output,) = response.outputs
    assert (output.name, output.datatype, list(output.shape)) == ("output-0", "FP32", [2, 2])
    assert list(output.contents.fp32_contents) == [1.5, 2, 3, 4]
    assert not response.raw_output_contents


@pytest.mark.parametrize("columns", [3, 3000])  # 3000: the contents are viewed in the request's bytes
def test_infer_raw_in_raw_out(identity: GrpcProcess, columns: int) -> None:
    x = np.arange(2 * columns, dtype=np.float16).reshape(2, columns)
    words = b"\x01\x00\x00\x00a\x02\x00\x00\x00bc"
    request = cls("ModelInferRequest")(model_name="identity", raw_input_contents=[x.tobytes(), words])
    request.inputs.add(name="x", datatype="FP16", shape=[2, columns])
    request.inputs.add(name="w", datatype="BYTES", shape=[2])
    response = call(identity, "ModelInfer", request)
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [
        ("x", "FP16", [2, columns]),
        ("w", "BYTES", [2]),
    ]
    assert list(response.raw_output_contents) == [x.tobytes(), words]


@pytest.mark.parametrize("size", [8, 8000])
def test_raw_contents_of_the_wrong_size_are_refused(identity: GrpcProcess, size: int) -> None:
    request = cls("ModelInferRequest")(model_name="identity", raw_input_contents=[b"\x00" * (size + 1)])
    request.inputs.add(name="x", datatype="FP64", shape=[size // 8])
    with pytest.raises(grpc.RpcError) as raised:
        call(identity, "ModelInfer", request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == f"input 'x': shape [{size // 8}] of FP64 needs {size} bytes, got {size + 1}"
    request.model_name = "nope"
    with pytest.raises(grpc.RpcError) as raised:
        call(identity, "ModelInfer", request)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_requested_outputs(identity: GrpcProcess) -> None:
    request = fp32_request([1])
    extra = request.inputs.add(name="b", datatype="INT64", shape=[1])
    extra.contents.int64_contents.append(9007199254740993)
    request.outputs.add(name="b")
    (output,) = call(identity, "ModelInfer", request).outputs
    assert output.name == "b" and list(output.contents.int64_contents) == [9007199254740993]


@pytest.mark.parametrize(
    ("request_", "code", "words"),
    [
        (fp32_request([1, 2], [3]), grpc.StatusCode.INVALID_ARGUMENT, "needs 3 values"),
        (fp32_request([1], model_name="nope"), grpc.StatusCode.NOT_FOUND, "Model nope with version  not found"),
        (fp32_request([1], model_version="7"), grpc.StatusCode.NOT_FOUND, "Model identity with version 7 not found"),
        (cls("ModelInferRequest")(model_name="identity"), grpc.StatusCode.INVALID_ARGUMENT, "at least one input"),
    ],
)
def test_infer_errors(identity: GrpcProcess, request_: Any, code: grpc.StatusCode, words: str) -> None:
    failure = error(identity, "ModelInfer", request_)
    assert failure.code() == code and words in failure.details()
    assert call(identity, "ServerReady", cls("ServerReadyRequest")()).ready  # the worker is still there


def test_unknown_datatype_and_metadata_errors(identity: GrpcProcess) -> None:
    request = fp32_request([1])
    request.inputs[0].datatype = "FP128"
    assert error(identity, "ModelInfer", request).code() == grpc.StatusCode.INVALID_ARGUMENT
    failure = error(identity, "ModelMetadata", cls("ModelMetadataRequest")(name="nope"))
    assert failure.code() == grpc.StatusCode.NOT_FOUND and failure.details() == "Model nope with version  not found"
    assert error(identity, "ModelReady", cls("ModelReadyRequest")(name="nope")).code() == grpc.StatusCode.NOT_FOUND


def test_user_exception_is_internal(start_grpc) -> None:  # type: ignore[no-untyped-def]
    server = start_grpc("ValueErrorModel", model_name="f")
    failure = error(server, "ModelInfer", fp32_request([1], model_name="f"))
    assert failure.code() == grpc.StatusCode.INTERNAL
    assert failure.details() == "bad value from model"


def test_health_and_reflection_list_the_service(identity: GrpcProcess) -> None:
    assert identity.health(SERVICE) == 1  # SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(identity.channel)
    answers = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = [s.name for s in next(answers).list_services_response.service]
    assert SERVICE in names


def test_debug_mode_serves_v2_on_both(start_grpc) -> None:  # type: ignore[no-untyped-def]
    import httpx

    server = start_grpc("IdentityModel", model_name="identity", debug=True)
    assert call(server, "ModelInfer", fp32_request([2])).outputs[0].contents.fp32_contents[0] == 2
    assert httpx.get(server.url + "/v2/models/identity/ready").status_code == 200
