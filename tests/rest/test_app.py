"""The REST app: the Seldon protocol's routes, in process (tests/rest/conftest.py), and the
behaviours that need a real server process."""

from __future__ import annotations

import base64
import concurrent.futures
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningServer
from tests.rest.conftest import AppClient


@pytest.fixture(scope="module")
def identity() -> Iterator[AppClient]:
    client = AppClient("IdentityModel")
    yield client
    client.close()


@pytest.fixture(scope="module")
def scoring() -> Iterator[AppClient]:
    client = AppClient(
        "ScoringModel",
        "--parameters",
        '[{"name": "offset", "value": "0.5", "type": "FLOAT"}]',
        env={"PREDICTIVE_UNIT_ID": "scorer", "PREDICTIVE_UNIT_IMAGE": "repo/scorer:1.2"},
    )
    yield client
    client.close()


def post(server: AppClient | RunningServer, path: str, body: object, **kwargs: object) -> httpx.Response:
    if isinstance(server, RunningServer):
        return httpx.post(server.url + path, json=body, **kwargs)  # type: ignore[arg-type]
    return server.post(path, json=body, **kwargs)


# -- payload kinds and mirroring


@pytest.mark.parametrize("path", ["/predict", "/api/v1.0/predictions", "/api/v0.1/predictions"])
def test_ndarray_ints_stay_ints(identity: AppClient, path: str) -> None:
    answer = post(identity, path, {"data": {"ndarray": [[1, 2], [3, 4]]}})
    assert answer.status_code == 200
    assert answer.json() == {"data": {"names": ["t:0", "t:1"], "ndarray": [[1, 2], [3, 4]]}, "meta": {}}


def test_tensor_answers_tensor(identity: AppClient) -> None:
    body = {"data": {"names": ["a", "b", "c"], "tensor": {"shape": [2, 3], "values": [1.5, 2, 3, 4, 5, 6]}}}
    answer = post(identity, "/predict", body).json()
    assert answer["data"]["tensor"] == {"shape": [2, 3], "values": [1.5, 2.0, 3.0, 4.0, 5.0, 6.0]}
    assert answer["data"]["names"] == ["t:0", "t:1", "t:2"]


def test_tftensor_without_tensorflow(identity: AppClient) -> None:
    content = base64.b64encode(bytes([0, 0, 128, 63, 0, 0, 0, 64])).decode()  # float32 1.0, 2.0
    body = {
        "data": {"tftensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}]}, "tensorContent": content}}
    }
    answer = post(identity, "/predict", body).json()
    assert answer["data"]["tftensor"]["dtype"] == "DT_FLOAT"
    assert answer["data"]["tftensor"]["tensorContent"] == content


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"strData": "hello"}, {"strData": "hello", "meta": {}}),
        ({"jsonData": {"a": [1, 2.5], "b": None}}, {"jsonData": {"a": [1, 2.5], "b": None}, "meta": {}}),
        ({"binData": "AAH/"}, {"binData": "AAH/", "meta": {}}),
    ],
)
def test_opaque_payloads_round_trip(identity: AppClient, body: dict, expected: dict) -> None:
    assert post(identity, "/predict", body).json() == expected


def test_meta_puid_tags_and_request_path_come_back(identity: AppClient) -> None:
    body = {"meta": {"puid": "p-1", "tags": {"t": 1}, "requestPath": {"up": "img:1"}}, "data": {"ndarray": [1]}}
    assert post(identity, "/predict", body).json()["meta"] == {
        "puid": "p-1",
        "tags": {"t": 1},
        "requestPath": {"up": "img:1"},
    }


def test_form_query_and_multipart_forms(identity: AppClient) -> None:
    message = json.dumps({"data": {"ndarray": [[7, 8]]}})
    expected = {"data": {"names": ["t:0", "t:1"], "ndarray": [[7, 8]]}, "meta": {}}
    assert identity.post("/predict", data={"json": message}).json() == expected
    assert identity.get("/predict", params={"json": message}).json() == expected
    multipart = identity.post("/predict", files={"data": (None, '{"ndarray": [[7, 8]]}')})
    assert multipart.json() == expected
    binary = identity.post("/predict", files={"binData": ("x.bin", b"\x00\x01\xff")})
    assert binary.json()["binData"] == base64.b64encode(b"\x00\x01\xff").decode()


def test_large_tensor(identity: AppClient) -> None:
    values = [float(i % 10) for i in range(100_000)]
    answer = post(identity, "/predict", {"data": {"tensor": {"shape": [1, 100_000], "values": values}}})
    assert answer.json()["data"]["tensor"]["values"] == values


# -- every verb of the contract


def test_predict_with_parameters_class_names_and_tags(scoring: AppClient) -> None:
    answer = post(scoring, "/predict", {"data": {"ndarray": [[1, 2], [3, 4]]}, "meta": {"tags": {"in": "x"}}}).json()
    assert answer["data"] == {"names": ["low", "high"], "ndarray": [[3.5, 2.0], [7.5, 4.0]]}
    assert answer["meta"]["tags"] == {"in": "x", "model": "scoring"}
    assert answer["meta"]["metrics"] == [{"type": "COUNTER", "key": "calls", "value": 1}]
    assert answer["meta"]["requestPath"] == {"scorer": "repo/scorer:1.2"}


def test_transforms_and_runtime_response(scoring: AppClient) -> None:
    answer = post(scoring, "/transform-input", {"data": {"tensor": {"shape": [2], "values": [1, 2]}}}).json()
    assert answer["data"]["tensor"] == {"shape": [2], "values": [2, 3]}
    answer = post(scoring, "/transform-output", {"data": {"ndarray": [1, 2]}}).json()
    assert answer["data"]["ndarray"] == [10, 20]
    assert answer["meta"]["tags"] == {"model": "scoring", "runtime": "yes"}
    assert {"type": "GAUGE", "key": "scale", "value": 10} in answer["meta"]["metrics"]


def test_route_aggregate_feedback(scoring: AppClient) -> None:
    route = post(scoring, "/route", {"data": {"ndarray": [[5, 1]]}, "meta": {"tags": {"dropped": 1}}}).json()
    assert route["data"] == {"names": ["low", "high"], "ndarray": [[1]]}  # class_names, as the original
    assert route["meta"]["tags"] == {"model": "scoring"}
    combined = post(scoring, "/aggregate", [{"data": {"ndarray": [[1, 3]]}}, {"data": {"ndarray": [[3, 5]]}}]).json()
    assert combined["data"]["ndarray"] == [[2.0, 4.0]]
    feedback = {
        "request": {"data": {"ndarray": [[1, 2]]}},
        "response": {"meta": {"routing": {"scorer": 1}}},
        "reward": 0.5,
    }
    for path in ("/send-feedback", "/api/v1.0/feedback", "/api/v0.1/feedback"):
        assert post(scoring, path, feedback).json()["data"]["ndarray"] == [[0.5, 1]]


# -- feedback: protobuf on REST too, as in the original


def test_feedback_answers_are_protobuf_json(scoring: AppClient) -> None:
    """Numbers become doubles, a COUNTER's type is left out, the request's tags and
    requestPath are not carried over (its puid is)."""
    feedback = {"request": {"data": {"ndarray": [[1, 2]]}, "meta": {"puid": "p", "tags": {"a": 1}}}, "reward": 2}
    answer = json.loads(post(scoring, "/send-feedback", feedback).text)
    assert answer == {
        "data": {"names": ["low", "high"], "ndarray": [[2.0, -1.0]]},
        "meta": {
            "puid": "p",
            "tags": {"model": "scoring"},
            "metrics": [{"key": "calls", "value": 1.0}],
            "requestPath": {"scorer": "repo/scorer:1.2"},
        },
    }
    assert all(isinstance(value, float) for value in answer["data"]["ndarray"][0])


@pytest.mark.parametrize("feedback", [{}, {"reward": 1}, {"request": {}}, {"request": {"meta": {"puid": "p"}}}])
def test_a_feedback_without_request_data_answers_a_tensor(app, feedback: dict) -> None:  # type: ignore[no-untyped-def]
    """No data to mirror: a numeric answer is a tensor (the original's construct_response)."""
    answer = json.loads(post(app("NoDataModel"), "/send-feedback", feedback).text)
    assert answer["data"] == {"names": ["t:0", "t:1"], "tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}
    assert answer["meta"]["metrics"] == [
        {"key": "no_data_calls", "value": 1.0},
        {"key": "level", "type": "GAUGE", "value": 2.0},
    ]
    empty = json.loads(post(app("IdentityModel"), "/api/v1.0/feedback", feedback).text)
    assert empty["data"] == {"tensor": {"shape": [0]}}  # no send_feedback: an empty answer, as a tensor
    with_data = post(
        app("NoDataModel"), "/send-feedback", {"request": {"data": {"tensor": {"shape": [1], "values": [1]}}}}
    )
    assert with_data.json()["data"]["tensor"] == {"shape": [1, 2], "values": [1.0, 2.0]}
    assert (
        "ndarray" in post(app("NoDataModel"), "/send-feedback", {"request": {"data": {"names": ["a"]}}}).json()["data"]
    )


def test_health_status_numbers_answer_a_tensor(app) -> None:  # type: ignore[no-untyped-def]
    answer = app("NoDataModel").get("/health/status").json()
    assert answer["data"] == {"names": [], "tensor": {"shape": [3], "values": [1, 2, 3]}}


@pytest.mark.parametrize(
    ("body", "info"),
    [
        (
            b'{"reward":1,"bogus":2}',
            'Invalid JSON: Message type "seldon.protos.Feedback" has no field named "bogus" at "Feedback".\n'
            " Available Fields(except extensions): \"['request', 'response', 'reward', 'truth']\"",
        ),
        (b"[1,2]", "Invalid JSON: Failed to parse 1 field: expected string or bytes-like object, got 'int'."),
        (
            b'{"request":{"data":{"ndarray":[[1]]},"bogus":{}}}',
            'Invalid JSON: Failed to parse request field: Message type "seldon.protos.SeldonMessage" has no field'
            ' named "bogus" at "Feedback.request".\n Available Fields(except extensions): '
            "\"['status', 'meta', 'data', 'binData', 'strData', 'jsonData', 'customData']\".",
        ),
        (
            b'{"reward":"high"}',
            "Invalid JSON: Failed to parse reward field: Couldn't parse float: high at Feedback.reward.",
        ),
        (b"7", "Invalid JSON: a Feedback is a JSON object, not int 7"),
    ],
)
def test_feedback_is_parsed_strictly(identity: AppClient, body: bytes, info: str) -> None:
    """As the original's json_to_feedback (json_format.ParseDict, no unknown fields), in
    every place a message may be: body, form field, query."""
    answers = [
        identity.post("/send-feedback", content=body, headers={"content-type": "application/json"}),
        identity.post("/api/v0.1/feedback", data={"json": body.decode()}),
        identity.get("/send-feedback", params={"json": body.decode()}),
    ]
    for answer in answers:
        assert answer.status_code == 400
        assert answer.json() == {"status": {"code": -1, "info": info, "reason": "MICROSERVICE_BAD_DATA", "status": 1}}


def test_unknown_fields_of_a_seldon_message_are_ignored(identity: AppClient) -> None:
    """The original reads a SeldonMessage on REST without protobuf: unknown keys are ignored."""
    body = {"data": {"ndarray": [[1]], "extra": 1}, "meta": {"extra": 2}, "extra": 3}
    assert post(identity, "/predict", body).json() == {"data": {"names": ["t:0"], "ndarray": [[1]]}, "meta": {}}


def test_send_feedback_raw_gets_a_feedback_message(app) -> None:  # type: ignore[no-untyped-def]
    answer = post(app("FeedbackRawModel"), "/send-feedback", {"reward": 0.5})
    assert answer.json() == {"strData": "seldon.protos.Feedback reward=0.5", "meta": {}}


def test_health_metadata_openapi(scoring: AppClient) -> None:
    ping = scoring.get("/health/ping")
    assert (ping.status_code, ping.text, ping.headers["content-type"]) == (200, "pong", "text/html; charset=utf-8")
    for path in ("/health/status", "/api/v1.0/health/status"):
        assert scoring.get(path).json()["jsonData"] == {"loaded": True}
    for path in ("/metadata", "/api/v1.0/metadata"):
        metadata = scoring.get(path).json()
        assert metadata["name"] == "scoring" and metadata["versions"] == ["1"]
    openapi = scoring.get("/seldon.json").json()
    assert openapi["openapi"].startswith("3.") and "/predict" in openapi["paths"]


def test_async_methods_are_awaited(app) -> None:  # type: ignore[no-untyped-def]
    server = app("AsyncModel")
    assert post(server, "/predict", {"data": {"ndarray": [1, 2]}}).json()["data"]["ndarray"] == [2, 4]


def test_package_module_class(app) -> None:  # type: ignore[no-untyped-def]
    server = app("pkg.models.Doubler")
    assert post(server, "/predict", {"data": {"ndarray": [3]}}).json()["data"]["ndarray"] == [6]


# -- errors


def assert_seldon_error(answer: httpx.Response, status: int, reason: str | None = None) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()["status"]
    assert body["code"] == -1 and body["status"] == 1 and body["info"]
    if reason:
        assert body["reason"] == reason
    return body


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"data": ', {"content-type": "application/json"}),
        (b"", {"content-type": "application/json"}),
        (b"null", {"content-type": "application/json"}),
        (b'{"data": {"ndarray": [[1, 2], [3]]}}', {"content-type": "application/json"}),
        (b'{"data": {"tensor": {"shape": [2], "values": [1, 2, 3]}}}', {"content-type": "application/json"}),
        (b'{"data": {"tensor": {"shape": [2]}}}', {"content-type": "application/json"}),
        (b'{"binData": "not base64!"}', {"content-type": "application/json"}),
        (b'{"foo": 1}', {"content-type": "application/json"}),
        (b"json=", {"content-type": "application/x-www-form-urlencoded"}),
        (b"json=%7Bnot", {"content-type": "application/x-www-form-urlencoded"}),
    ],
)
def test_bad_input_is_400(identity: AppClient, content: bytes, headers: dict) -> None:
    assert_seldon_error(identity.post("/predict", content=content, headers=headers), 400)


def test_json_without_content_type_is_read(identity: AppClient) -> None:
    answer = identity.post("/predict", content=b'{"strData": "x"}', headers={"content-type": ""})
    assert answer.json() == {"strData": "x", "meta": {}}


def test_routes_and_methods(identity: AppClient) -> None:
    assert_seldon_error(identity.get("/nope"), 404)
    assert_seldon_error(identity.get("/metrics"), 404)
    not_allowed = identity.put("/predict", json={})
    assert_seldon_error(not_allowed, 405)
    assert not_allowed.headers["allow"] == "GET, POST"
    assert_seldon_error(identity.post("/metadata"), 405)
    assert_seldon_error(identity.get("/predict"), 400)  # GET without ?json=
    assert_seldon_error(post(identity, "/aggregate", [{"data": {"ndarray": [1]}}]), 400)  # no aggregate


def test_oversized_body_is_413(app) -> None:  # type: ignore[no-untyped-def]
    server = app("IdentityModel", "--max-body-size", "1K")
    body = {"data": {"ndarray": list(range(1000))}}
    assert_seldon_error(post(server, "/predict", body), 413)
    assert post(server, "/predict", {"data": {"ndarray": [1]}}).status_code == 200


def test_user_errors_keep_their_status_and_never_kill_the_worker(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("FailingModel")
    rejected = assert_seldon_error(post(server, "/predict", {"strData": "reject"}), 422, "MODEL_REJECTED")
    assert rejected["info"] == "rejected by model"
    crashed = assert_seldon_error(post(server, "/predict", {"strData": "crash"}), 500, "MICROSERVICE_INTERNAL_ERROR")
    assert crashed["info"] == "model crashed"
    assert_seldon_error(post(server, "/predict", {"strData": "bad-type"}), 400)
    assert post(server, "/predict", {"strData": "ok"}).json()["strData"] == "ok"
    assert server.output().count("model crashed") >= 1  # logged


def test_bad_custom_metric_is_500(app) -> None:  # type: ignore[no-untyped-def]
    server = app("BadMetricModel")
    assert_seldon_error(post(server, "/predict", {"strData": "x"}), 500, "MICROSERVICE_BAD_METRIC")


def test_raw_status_code_and_passthrough(app) -> None:  # type: ignore[no-untyped-def]
    server = app("RawModel")
    answer = post(server, "/predict", {"jsonData": {"code": 201}})
    assert answer.status_code == 201
    assert answer.json()["jsonData"] == {"echo": {"code": 201}}
    quiet = app("RawModel", env={"INCLUDE_METRICS_IN_CLIENT_RESPONSE": "false"})
    assert "metrics" not in post(quiet, "/predict", {"jsonData": {}}).json()["meta"]
    passthrough = app("RawModel", env={"PAYLOAD_PASSTHROUGH": "true"})
    answer = passthrough.post("/predict", content=b"not json at all")
    assert (answer.status_code, answer.json()) == (200, {"passthrough": 15})


def test_concurrent_requests_with_threads(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("SlowModel", "--threads", "4")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(server, "/predict", {"strData": "0.2"}, timeout=10), range(8)))
    assert all(a.status_code == 200 for a in answers)
    stats = post(server, "/predict", {"jsonData": {}}).json()["jsonData"]
    assert 2 <= stats["peak"] <= 4


def test_single_threaded_runs_one_call_at_a_time(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("SlowModel", "--threads", "4", "--single-threaded")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post(server, "/predict", {"strData": "0.05"}, timeout=10), range(4)))
    assert all(a.status_code == 200 for a in answers)
    assert post(server, "/predict", {"jsonData": {}}).json()["jsonData"] == {"peak": 1, "threads": 1}


def test_cors_header_for_browsers(identity: AppClient) -> None:
    answer = identity.post("/predict", json={"strData": "x"}, headers={"origin": "http://example"})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in post(identity, "/predict", {"strData": "x"}).headers
