"""The protocol handlers over a real data plane and real user classes, called as the transports call them."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import orjson
import pytest
from google.protobuf import json_format

from modelserve.codecs import messages, v2_proto
from modelserve.codecs.http import HttpRequest
from modelserve.dataplane import DataPlane
from modelserve.errors import BadRequest, ServingError
from modelserve.handlers.contract import ProtocolHandler
from modelserve.handlers.kserve_v1 import KServeV1Handler
from modelserve.handlers.naming import ModelNotFound
from modelserve.handlers.seldon import SeldonHandler
from modelserve.handlers.v2 import V2Handler
from modelserve.model import LoadedModel, build_model
from modelserve.settings import Settings
from modelserve.workers.assembly import PROTOCOLS


def plane_of(interface: str, **settings: Any) -> DataPlane:
    chosen = Settings(f"tests.models.{interface}.{interface}", **settings)
    model: LoadedModel = build_model(chosen)
    model.load()
    return DataPlane(model, chosen)


def run(awaitable: Any) -> Any:
    return asyncio.run(awaitable)


def request(path: str, body: object = b"", method: str = "POST") -> HttpRequest:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return HttpRequest(method, path, b"", [(b"content-type", b"application/json")], data)


def test_the_registered_protocols_share_no_route_or_method() -> None:
    plane = plane_of("ExplainModel")
    handlers: list[ProtocolHandler] = [protocol(plane, plane.settings) for protocol in PROTOCOLS]
    paths = [route.path for handler in handlers for route in handler.http_routes()]
    assert len(paths) == len(set(paths))
    methods = [(m.service, m.name) for handler in handlers for m in handler.rpc_methods()]
    assert len(methods) == len(set(methods))
    assert {handler.protocol for handler in handlers} == {"seldon", "v2", "kserve-v1"}


def test_seldon_operations_decode_once_per_transport_form() -> None:
    handler = SeldonHandler(plane_of("IdentityModel"), Settings("IdentityModel"))
    as_json = run(handler.json.predict({"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}))
    assert as_json["data"]["tensor"]["shape"] == [1, 2]
    message = messages.SeldonMessage()
    message.data.tensor.shape.extend([1, 2])
    message.data.tensor.values.extend([1.0, 2.0])
    as_proto = run(handler.proto.predict(message))
    assert list(as_proto.data.tensor.values) == [1.0, 2.0] and list(as_proto.data.names) == ["t:0", "t:1"]


def test_seldon_raw_method_answers_first_and_its_status_is_kept() -> None:
    handler = SeldonHandler(plane_of("RawModel"), Settings("RawModel"))
    routes = {route.path: route for route in handler.http_routes()}
    status, _, body = run(routes["/predict"].endpoint(request("/predict", {"jsonData": {"code": 201}})))[:3]
    assert status == 201 and orjson.loads(body)["jsonData"] == {"echo": {"code": 201}}


def test_seldon_route_must_be_an_int_and_errors_are_seldon_bodies() -> None:
    handler = SeldonHandler(plane_of("RouterModel"), Settings("RouterModel"))
    assert run(handler.json.route({"data": {"ndarray": [[1]]}}))["data"]["ndarray"] == [[1]]
    with pytest.raises(BadRequest):
        run(handler.json.aggregate({"seldonMessages": []}))
    status, content_type, body = handler.http_error(BadRequest("nope"))
    assert (status, content_type) == (400, b"application/json")
    assert orjson.loads(body)["status"] == {"code": -1, "info": "nope", "reason": "MICROSERVICE_BAD_DATA", "status": 1}
    assert handler.rpc_trailers(BadRequest("nope")) == (("seldon-reason", "MICROSERVICE_BAD_DATA"),)


def test_seldon_feedback_is_protobuf_on_both_transports() -> None:
    """REST feedback is parsed into a Feedback and answered as on gRPC, then sent as protobuf JSON;
    without request data to mirror the numeric answer is a tensor."""
    handler = SeldonHandler(plane_of("NoDataModel"), Settings("NoDataModel"))
    routes = {route.path: route for route in handler.http_routes()}
    status, _, body = run(routes["/send-feedback"].endpoint(request("/send-feedback", {"reward": 1})))[:3]
    on_grpc = json_format.MessageToDict(run(handler.proto.send_feedback(messages.Feedback(reward=1))))
    assert status == 200 and orjson.loads(body) == on_grpc
    assert on_grpc["data"] == {"names": ["t:0", "t:1"], "tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}
    with_data = messages.Feedback(reward=1)
    with_data.request.data.ndarray.values.add().number_value = 1
    assert "ndarray" in json_format.MessageToDict(run(handler.proto.send_feedback(with_data)))["data"]
    with pytest.raises(BadRequest, match='no field named "bogus"'):
        run(routes["/send-feedback"].endpoint(request("/send-feedback", {"reward": 1, "bogus": 2})))
    health = orjson.loads(run(routes["/health/status"].endpoint(request("/health/status", method="GET")))[2])
    assert health["data"] == {"names": [], "tensor": {"shape": [3], "values": [1, 2, 3]}}


def test_seldon_health_status_is_503_while_draining() -> None:
    plane = plane_of("IdentityModel")
    handler = SeldonHandler(plane, Settings("IdentityModel"))
    routes = {route.path: route for route in handler.http_routes()}
    ok = run(routes["/health/status"].endpoint(request("/health/status", method="GET")))
    assert ok[0] == 200
    plane.drain()
    with pytest.raises(ServingError) as raised:
        run(routes["/health/status"].endpoint(request("/health/status", method="GET")))
    assert raised.value.status_code == 503


def test_v2_infer_over_both_forms_and_unknown_models() -> None:
    plane = plane_of("IdentityModel")
    handler = V2Handler(plane, Settings("IdentityModel", model_name="m", model_version="2"))
    body = {"id": "1", "inputs": [{"name": "x", "datatype": "INT64", "shape": [2], "data": [3, 4]}]}
    routes = {route.path: route for route in handler.http_routes()}
    status, _, answer = run(routes["/v2/models/m/infer"].endpoint(request("/v2/models/m/infer", body)))[:3]
    assert status == 200 and orjson.loads(answer)["outputs"][0]["data"] == [3, 4]
    message = v2_proto.ModelInferRequest(model_name="m", model_version="2")
    tensor = message.inputs.add(name="x", datatype="INT64", shape=[2])
    tensor.contents.int64_contents.extend([3, 4])
    methods = {method.name: method for method in handler.rpc_methods()}
    reply = v2_proto.ModelInferResponse.FromString(run(methods["ModelInfer"].behaviour(message, None)))
    assert list(reply.outputs[0].contents.int64_contents) == [3, 4]
    assert run(methods["ModelInfer"].from_bytes(message.SerializeToString(), None)) is None  # no raw contents
    message.inputs[0].ClearField("contents")
    message.raw_input_contents.append(np.array([3, 4], np.int64).tobytes())
    assert run(methods["ModelInfer"].from_bytes(message.SerializeToString(), None)) is None  # small: parsed whole
    reply = v2_proto.ModelInferResponse.FromString(run(methods["ModelInfer"].behaviour(message, None)))
    assert np.frombuffer(reply.raw_output_contents[0], np.int64).tolist() == [3, 4]
    del message.inputs[0].shape[:]
    message.inputs[0].shape.append(1000)
    message.raw_input_contents[0] = np.arange(1000).tobytes()
    answer = run(methods["ModelInfer"].from_bytes(message.SerializeToString(), None))
    reply = v2_proto.ModelInferResponse.FromString(answer)
    assert np.frombuffer(reply.raw_output_contents[0], np.int64).tolist() == list(range(1000))
    for unknown in (v2_proto.ModelInferRequest(model_name="other"), message):
        unknown.model_name = "other"
        with pytest.raises(ModelNotFound):
            run(methods["ModelInfer"].behaviour(unknown, None))
    with pytest.raises(ModelNotFound):
        run(methods["ModelInfer"].from_bytes(message.SerializeToString(), None))
    assert handler.http_prefixes()[0].not_found("/v2/models/m/versions/9").message == (
        "Model m with version 9 not found"
    )


def test_kserve_v1_serves_explain_only_when_the_class_has_it() -> None:
    explaining = KServeV1Handler(plane_of("ExplainModel"), Settings("ExplainModel", model_name="ex"))
    plain = KServeV1Handler(plane_of("IdentityModel"), Settings("IdentityModel", model_name="id"))
    assert "/v1/models/ex:explain" in {route.path for route in explaining.http_routes()}
    assert "/v1/models/id:explain" not in {route.path for route in plain.http_routes()}
    routes = {route.path: route for route in plain.http_routes()}
    status, _, body = run(routes["/v1/models/id:predict"].endpoint(request("/", {"instances": [[1, 2]]})))[:3]
    assert (status, orjson.loads(body)) == (200, {"predictions": [[1, 2]]})
    status, _, body = plain.http_error(BadRequest("bad"))
    assert (status, orjson.loads(body)) == (400, {"error": "bad"})
    assert np.array_equal(run(plain.plane.call("predict", np.ones(2), [], None)).data, np.ones(2))
