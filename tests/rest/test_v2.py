"""V2 (Open Inference Protocol) and KServe V1 over REST: the REST app in process (tests/rest/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.rest.conftest import AppClient

HEADER = "Inference-Header-Content-Length"


@pytest.fixture(scope="module")
def identity() -> Iterator[AppClient]:
    client = AppClient("IdentityModel", "--model-name", "identity", "--model-version", "3")
    yield client
    client.close()


def infer(server: AppClient, body: object, path: str = "/v2/models/identity/infer") -> httpx.Response:
    return server.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def fp32(name: str = "x", data: list | None = None, shape: list | None = None) -> dict:
    data = [1.5, 2.0, 3.0, 4.0] if data is None else data
    return {"name": name, "datatype": "FP32", "shape": shape or [len(data)], "data": data}


# -- health and metadata


def test_health_and_server_metadata(identity: AppClient) -> None:
    assert identity.get("/v2/health/live").json() == {"live": True}
    assert identity.get("/v2/health/ready").json() == {"ready": True}
    metadata = identity.get("/v2").json()
    assert metadata["name"] == "modelserve" and metadata["version"] and "binary_tensor_data" in metadata["extensions"]
    for path in ("/v2/models/identity/ready", "/v2/models/identity/versions/3/ready"):
        assert identity.get(path).json() == {"name": "identity", "ready": True}


def test_model_metadata(identity: AppClient, app) -> None:  # type: ignore[no-untyped-def]
    expected = {"name": "identity", "versions": ["3"], "platform": "", "inputs": [], "outputs": [], "parameters": {}}
    assert identity.get("/v2/models/identity").json() == expected
    assert identity.get("/v2/models/identity/versions/3").json() == expected
    server = app("MetadataV2Model")  # named after its class
    assert server.get("/v2/models/MetadataV2Model").json() == {
        "name": "MetadataV2Model",
        "versions": [],
        "platform": "custom",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "y", "datatype": "FP64", "shape": [-1, 3]}],
        "parameters": {"author": "me"},
    }
    assert server.get("/v1/models").json() == {"models": ["MetadataV2Model"]}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v2/models/nope", "Model nope not found"),
        ("/v2/models/nope/ready", "Model nope not found"),
        ("/v2/models/identity/versions/9", "Model identity with version 9 not found"),
        ("/v2/models/identity/versions/9/ready", "Model identity with version 9 not found"),
        ("/v2/nope", "No route /v2/nope"),
        ("/v1/models/nope", "Model nope not found"),
    ],
)
def test_unknown_models_and_paths(identity: AppClient, path: str, message: str) -> None:
    answer = identity.get(path)
    assert answer.status_code == 404
    assert answer.json() == {"error": message}


def test_unknown_model_infer_is_404(identity: AppClient) -> None:
    answer = infer(identity, {"inputs": [fp32()]}, "/v2/models/nope/infer")
    assert answer.status_code == 404 and answer.json() == {"error": "Model nope not found"}
    answer = infer(identity, {"inputs": [fp32()]}, "/v2/models/identity/versions/1/infer")
    assert answer.json() == {"error": "Model identity with version 1 not found"}


def test_wrong_method_is_405_in_v2_form(identity: AppClient) -> None:
    answer = identity.get("/v2/models/identity/infer")
    assert answer.status_code == 405 and "POST" in answer.json()["error"]


# -- inference


def test_infer_json(identity: AppClient) -> None:
    answer = infer(identity, {"id": "r-1", "inputs": [fp32(shape=[2, 2])], "parameters": {"tag": "t"}})
    assert answer.status_code == 200
    assert answer.json() == {
        "model_name": "identity",
        "model_version": "3",
        "id": "r-1",
        "parameters": {"tag": "t"},
        "outputs": [{"name": "output-0", "datatype": "FP32", "shape": [2, 2], "data": [1.5, 2.0, 3.0, 4.0]}],
    }
    versioned = infer(identity, {"inputs": [fp32()]}, "/v2/models/identity/versions/3/infer").json()
    assert versioned["outputs"][0]["data"] == [1.5, 2.0, 3.0, 4.0]
    assert len(versioned["id"]) == 36  # a request without an id gets one


def test_content_type_parameter_is_kept(identity: AppClient) -> None:
    tensor = {
        "name": "s",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["a", "bc"],
        "parameters": {"content_type": "str"},
    }
    (output,) = infer(identity, {"inputs": [tensor]}).json()["outputs"]
    assert output == {
        "name": "output-0",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["a", "bc"],
        "parameters": {"content_type": "str"},
    }


def test_several_inputs_and_requested_outputs(identity: AppClient) -> None:
    inputs = [fp32("a", [1.0]), {"name": "b", "datatype": "INT64", "shape": [1], "data": [2]}]
    outputs = infer(identity, {"inputs": inputs}).json()["outputs"]
    assert [(o["name"], o["datatype"], o["data"]) for o in outputs] == [("a", "FP32", [1.0]), ("b", "INT64", [2])]
    picked = infer(identity, {"inputs": inputs, "outputs": [{"name": "b"}, {"name": "zzz"}]}).json()["outputs"]
    assert [o["name"] for o in picked] == ["b"]


def test_binary_extension_both_ways(identity: AppClient) -> None:
    x = np.arange(6, dtype=np.float16).reshape(2, 3)
    words = b"\x02\x00\x00\x00hi\x00\x00\x00\x00"
    head = json.dumps(
        {
            "inputs": [
                {"name": "x", "datatype": "FP16", "shape": [2, 3], "parameters": {"binary_data_size": x.nbytes}},
                {"name": "w", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": len(words)}},
            ],
            "outputs": [
                {"name": "x", "parameters": {"binary_data": True}},
                {"name": "w", "parameters": {"binary_data": False}},
            ],
        }
    ).encode()
    answer = identity.post("/v2/models/identity/infer",
        content=head + x.tobytes() + words,
        headers={HEADER: str(len(head)), "content-type": "application/octet-stream"},
    )
    assert answer.status_code == 200, answer.text
    length = int(answer.headers[HEADER])
    message = json.loads(answer.content[:length])
    out_x, out_w = message["outputs"]
    assert out_x == {"name": "x", "datatype": "FP16", "shape": [2, 3], "parameters": {"binary_data_size": 12}}
    assert out_w["data"] == ["hi", ""]
    assert np.frombuffer(answer.content[length:], np.float16).tolist() == x.reshape(-1).tolist()


def test_binary_data_output_for_every_output(identity: AppClient) -> None:
    body = {"inputs": [fp32()], "parameters": {"binary_data_output": True}}
    answer = infer(identity, body)
    length = int(answer.headers[HEADER])
    message = json.loads(answer.content[:length])
    assert message["parameters"] == {}  # an instruction, not echoed
    assert message["outputs"][0]["parameters"] == {"binary_data_size": 16}
    assert np.frombuffer(answer.content[length:], np.float32).tolist() == [1.5, 2.0, 3.0, 4.0]


def test_what_the_model_gets(app) -> None:  # type: ignore[no-untyped-def]
    server = app("V2EchoModel", "--model-name", "echo")
    x = np.arange(2, dtype=np.float32)
    head = json.dumps(
        {
            "id": "q",
            "parameters": {"k": 1},
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}],
        }
    )
    answer = server.post("/v2/models/echo/infer", content=head.encode() + x.tobytes(), headers={HEADER: str(len(head))}
    )
    got = {o["name"]: o["data"] for o in answer.json()["outputs"]}
    assert got == {"kind": ["ndarray"], "names": ["x"], "id": ["q"], "parameters": ["[('k', 1)]"], "writeable": [False]}
    two = infer(server, {"inputs": [fp32("a"), fp32("b")]}, "/v2/models/echo/infer").json()
    got = {o["name"]: o["data"] for o in two["outputs"]}
    assert got["kind"] == ["dict"] and got["names"] == ["a", "b"] and got["writeable"] == [True]


def test_dict_answers_and_class_names(app) -> None:  # type: ignore[no-untyped-def]
    server = app("MultiOutputModel", "--model-name", "multi")
    outputs = infer(server, {"inputs": [fp32(data=[1, -2], shape=[1, 2])]}, "/v2/models/multi/infer").json()["outputs"]
    assert [(o["name"], o["datatype"], o["shape"], o["data"]) for o in outputs] == [
        ("sum", "FP64", [1], [-1.0]),
        ("positive", "BOOL", [1, 2], [True, False]),
        ("label", "BYTES", [2], ["pos", "neg"]),
    ]
    named = app("ClassNameModel")
    (output,) = infer(named, {"inputs": [fp32()]}, "/v2/models/ClassNameModel/infer").json()["outputs"]
    assert output["name"] == "proba"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"inputs": [', "invalid JSON"),
        ({"inputs": [fp32(shape=[3], data=[1, 2])]}, "needs 3 values"),
        ({"inputs": [{"name": "x", "datatype": "FP128", "shape": [1], "data": [1]}]}, "unknown datatype"),
        ({"inputs": [{"name": "x", "shape": [1], "data": [1]}]}, "datatype is missing"),
        ({"inputs": [fp32(data=["a"])]}, "must be numbers"),
        ({"inputs": [{"name": "x", "datatype": "FP16", "shape": [1], "data": [1]}]}, "binary form"),
        ({"inputs": [fp32("a"), fp32("a")]}, "unique"),
        ({"nothing": 1}, "inputs"),
    ],
)
def test_bad_requests_are_400(identity: AppClient, body: object, words: str) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = identity.post("/v2/models/identity/infer", content=content)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["error"]
    assert identity.get("/v2/health/ready").status_code == 200


def test_bad_binary_header_is_400(identity: AppClient) -> None:
    answer = identity.post("/v2/models/identity/infer", content=b"{}", headers={HEADER: "99"})
    assert answer.status_code == 400 and "outside the body" in answer.json()["error"]


def test_user_exceptions_are_500_in_v2_form(app) -> None:  # type: ignore[no-untyped-def]
    server = app("ValueErrorModel", "--model-name", "f")
    answer = infer(server, {"inputs": [fp32()]}, "/v2/models/f/infer")
    assert answer.status_code == 500 and answer.json() == {"error": "bad value from model"}


def test_seldon_routes_unchanged(identity: AppClient) -> None:
    answer = identity.post("/predict", json={"data": {"ndarray": [[1]]}})
    assert answer.json()["data"]["ndarray"] == [[1]]
    missing = identity.get("/nope")
    assert missing.status_code == 404 and missing.json()["status"]["code"] == -1


# -- KServe V1


def test_v1_routes(identity: AppClient) -> None:
    assert identity.get("/v1/models").json() == {"models": ["identity"]}
    assert identity.get("/v1/models/identity").json() == {"name": "identity", "ready": True}
    assert identity.get("/").json() == {"status": "alive"}
    answer = identity.post("/v1/models/identity:predict", json={"instances": [[1, 2], [3, 4]]})
    assert answer.json() == {"predictions": [[1, 2], [3, 4]]}
    answer = identity.post("/v1/models/identity:predict", json={"inputs": {"a": [1.5]}})
    assert answer.json() == {"predictions": {"a": [1.5]}}


def test_v1_errors(identity: AppClient) -> None:
    answer = identity.post("/v1/models/nope:predict", json={"instances": [1]})
    assert answer.status_code == 404 and answer.json() == {"error": "Model nope not found"}
    answer = identity.post("/v1/models/identity:predict", content=b"{")
    assert answer.status_code == 400 and "invalid JSON" in answer.json()["error"]
    answer = identity.post("/v1/models/identity:predict", json={"rows": []})
    assert answer.status_code == 400 and "instances" in answer.json()["error"]
    answer = identity.post("/v1/models/identity:explain", json={"instances": [1]})
    assert answer.status_code == 404 and "explain" in answer.json()["error"]


def test_v1_explain(app) -> None:  # type: ignore[no-untyped-def]
    server = app("ExplainModel", "--model-name", "ex")
    answer = server.post("/v1/models/ex:predict", json={"instances": [[1, 5, 2]]})
    assert answer.json() == {"predictions": [[2, 10, 4]]}
    answer = server.post("/v1/models/ex:explain", json={"instances": [[1, 5, 2]]})
    assert answer.json() == {"explanations": {"top_feature": 1}}


def test_model_name_from_the_environment(app) -> None:  # type: ignore[no-untyped-def]
    server = app("IdentityModel", env={"MODELSERVE_MODEL_NAME": "env-name", "MODELSERVE_MODEL_VERSION": "2"})
    assert server.get("/v2/models/env-name/versions/2/ready").status_code == 200
    assert server.get("/v2/models/IdentityModel").status_code == 404
