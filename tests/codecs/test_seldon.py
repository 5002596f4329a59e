import numpy as np
import orjson
import pytest

from modelserve.codecs import seldon
from modelserve.codecs.seldon import EMPTY_REQUEST, SeldonJsonCodec, decode, decode_list
from modelserve.errors import BadRequest
from modelserve.model.component import Outcome, default_names

NUMPY = orjson.OPT_SERIALIZE_NUMPY


def codec(**kwargs: object) -> SeldonJsonCodec:
    def names(array: np.ndarray) -> list[str]:
        return default_names(array.shape[1]) if array.ndim > 1 else []

    return SeldonJsonCodec(names, kwargs.get("request_path", {}), True)  # type: ignore[arg-type]


def test_decode_kinds() -> None:
    assert decode({"data": {"ndarray": [[1, 2]]}}).X.dtype.kind == "i"
    tensor = decode({"data": {"names": ["a", "b"], "tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}})
    assert (tensor.kind, tensor.names, tensor.X.shape) == ("tensor", ["a", "b"], (1, 2))
    assert decode({"strData": "s"}).X == "s"
    assert decode({"binData": "AAE="}).X == b"\x00\x01"
    assert decode({"jsonData": {"k": 1}, "meta": {"puid": "p"}}).puid == "p"
    assert decode({"data": {}}).X.size == 0


@pytest.mark.parametrize(
    "message",
    [
        [1],
        {},
        {"data": 1},
        {"data": {"ndarray": [[1], [1, 2]]}},
        {"data": {"tensor": {"shape": [3], "values": [1]}}},
        {"data": {"tensor": {"shape": [1]}}},
        {"binData": 5},
        {"binData": "a"},
    ],
)
def test_decode_rejects(message: object) -> None:
    with pytest.raises(BadRequest):
        decode(message)


def test_answers_mirror_the_request() -> None:
    c = codec()
    array = np.array([[1.5, 2.0]])
    for kind in ("tensor", "ndarray"):
        request = decode({"data": {kind: [[1, 2]] if kind == "ndarray" else {"shape": [1, 2], "values": [1, 2]}}})
        assert kind in c.encode(Outcome(array), request)["data"]
    assert "tensor" in c.encode(Outcome(array), decode({"strData": "x"}))["data"]
    assert "ndarray" in c.encode(Outcome(np.array([["a"]])), decode({"strData": "x"}))["data"]
    assert c.encode(Outcome({"a": 1}), decode({"strData": "x"})) == {"jsonData": {"a": 1}, "meta": {}}
    assert c.encode(Outcome(b"\x00"), decode({"strData": "x"})) == {"binData": "AA==", "meta": {}}
    with pytest.raises(BadRequest, match="Unknown data type"):
        c.encode(Outcome(123), decode({"strData": "x"}))


@pytest.mark.parametrize(
    ("request_message", "numeric", "other"),
    [
        ({"data": {"tensor": {"shape": [1], "values": [1]}}}, "tensor", "ndarray"),
        ({"data": {"ndarray": [1]}}, "ndarray", "ndarray"),
        ({"data": {"names": ["a"]}}, "ndarray", "ndarray"),  # data without values: ndarray
        ({"data": {}}, "ndarray", "ndarray"),
        ({"strData": "x"}, "tensor", "ndarray"),
        ({"jsonData": {"a": 1}}, "tensor", "ndarray"),
        ({"binData": "AA=="}, "tensor", "ndarray"),
    ],
)
def test_the_answer_kind_follows_the_request_data(request_message: dict, numeric: str, other: str) -> None:
    """The original's rule (construct_response_json): with ``data`` in the request a numeric
    answer takes its kind (tensor, tftensor, else ndarray); without, a numeric answer is a tensor;
    a non-numeric answer is always an ndarray."""
    request = decode(request_message)
    for data in ([[1, 2]], np.array([[1.5, 2]]), np.array([3], dtype=np.int8)):
        assert numeric in codec().encode(Outcome(data), request)["data"]
    for data in ([["a"]], np.array([True]), np.array([[None]], dtype=object)):
        assert other in codec().encode(Outcome(data), request)["data"]


def test_a_message_without_data_answers_numbers_as_a_tensor() -> None:
    """A health check has no request data to mirror: a list of numbers answers as a tensor."""
    answer = orjson.loads(orjson.dumps(codec().encode(Outcome([[1, 2]]), EMPTY_REQUEST), option=NUMPY))
    assert answer == {"data": {"names": ["t:0", "t:1"], "tensor": {"shape": [1, 2], "values": [1, 2]}}, "meta": {}}
    assert codec().encode(Outcome(["a"]), EMPTY_REQUEST)["data"] == {"names": [], "ndarray": ["a"]}


def test_list_answers_keep_python_numbers() -> None:
    answer = codec().encode(Outcome([[1, 2]]), decode({"data": {"ndarray": [[0, 0]]}}))
    assert answer["data"] == {"names": ["t:0", "t:1"], "ndarray": [[1, 2]]}
    ragged = codec().encode(Outcome([[1], [1, 2]]), decode({"data": {"ndarray": [[0]]}}))
    assert ragged["data"] == {"names": [], "ndarray": [[1], [1, 2]]}


def test_meta_merging() -> None:
    request = decode(
        {
            "strData": "",
            "meta": {
                "puid": "p",
                "tags": {"a": 1, "b": 1},
                "metrics": [{"key": "m"}],
                "requestPath": {"x": "1"},
                "routing": {"r": 1},
            },
        }
    )
    outcome = Outcome("", tags={"b": 2}, metrics=[{"key": "c", "type": "COUNTER", "value": 1}])
    meta = codec(request_path={"me": "img"}).encode(outcome, request)["meta"]
    assert meta == {
        "puid": "p",
        "tags": {"a": 1, "b": 2},
        "requestPath": {"me": "img", "x": "1"},
        "metrics": [{"key": "m"}, {"key": "c", "type": "COUNTER", "value": 1}],
    }
    # route answers (carry_meta=False) keep only the request's puid, as in the original
    assert codec().encode(Outcome(""), request, carry_meta=False)["meta"] == {"puid": "p"}
    carried = codec(request_path={"me": "img"}).encode(Outcome(""), request, carry_meta=False)["meta"]
    assert carried == {"puid": "p", "requestPath": {"me": "img"}}


def test_tftensor_strings_answer_as_tftensor() -> None:
    """Found by tests/fuzz: an identity model's answer to DT_STRING strings (bytes) went as an
    ndarray, which JSON cannot hold (a TypeError: 500); it mirrors the request instead."""
    strings = {"dtype": "DT_STRING", "tensorShape": {"dim": [{"size": "2"}]}, "stringVal": ["YQ==", "/w=="]}
    request = decode({"data": {"tftensor": strings}})
    answer = orjson.loads(orjson.dumps(codec().encode(Outcome(request.X), request), option=NUMPY))
    assert answer["data"]["tftensor"]["stringVal"] == ["YQ==", "/w=="]
    assert decode(answer).X.tolist() == [b"a", b"\xff"]
    # str answers still go as ndarray, whatever was asked
    assert "ndarray" in codec().encode(Outcome(np.array(["a"])), request)["data"]


def test_lists() -> None:
    assert len(decode_list([{"strData": "a"}, {"strData": "b"}])) == 2
    assert len(decode_list({"seldonMessages": [{"strData": "a"}]})) == 1
    with pytest.raises(BadRequest):
        decode_list({"data": {}})


def test_numpy_buffers_go_to_orjson_untouched() -> None:
    array = np.arange(6.0).reshape(2, 3)
    assert seldon.jsonable(array) is array
    assert seldon.jsonable(array.T) == array.T.tolist()  # not contiguous
    assert seldon.jsonable(np.array(["a"])) == ["a"]


@pytest.mark.parametrize("width", [4, 300, 10_000, 70_000])
@pytest.mark.parametrize("kind", ["ndarray", "tensor"])
def test_dumps_writes_wide_default_names_as_orjson_writes_the_list(width: int, kind: str) -> None:
    request = decode({"data": {kind: [[1.5] * width]} if kind == "ndarray" else {kind: {"shape": [1, width],
                                                                                       "values": [1.5] * width}}})
    answer = codec().encode(Outcome(np.full((1, width), 2.25)), request)
    expected = orjson.dumps({**answer, "data": {**answer["data"], "names": list(answer["data"]["names"])}},
                            option=NUMPY)
    for _ in range(2):  # the second from the cached encoding
        assert seldon.dumps(codec().encode(Outcome(np.full((1, width), 2.25)), request)) == expected
    assert orjson.loads(expected)["data"]["names"] == [f"t:{i}" for i in range(width)]


def test_dumps_leaves_other_names_alone() -> None:
    answer = {"data": {"names": ["a", "b"], "ndarray": np.ones((1, 2))}, "meta": {}}
    assert seldon.dumps(answer) == b'{"data":{"names":["a","b"],"ndarray":[[1.0,1.0]]},"meta":{}}'
    assert seldon.dumps({"strData": "x", "meta": {}}) == b'{"strData":"x","meta":{}}'


@pytest.mark.parametrize(
    "answer",
    [
        {"data": {"names": None, "ndarray": np.full((2, 300), 0.1)}, "meta": {"tags": {"a": [1, 2]}, "puid": "x"}},
        {"data": {"names": None, "ndarray": np.arange(300).reshape(1, 300)}, "meta": {"metrics": [{"value": 1}]}},
        {"data": {"names": None, "ndarray": [[1.0] * 300]}, "meta": {}},  # a list: not joined
        {"meta": {}, "data": {"names": None, "ndarray": np.ones((1, 300))}},  # meta first
        {"data": {"ndarray": np.ones((1, 300)), "names": None}, "meta": {}},  # names second
        {"data": {"names": None, "ndarray": np.ones((1, 300)), "x": 1}, "meta": {}},
        {"data": {"names": None, "ndarray": np.ones((1, 300))}, "meta": {}, "status": {"code": 200}},
    ],
)
def test_dumps_of_a_wide_answer_is_orjson_s_whatever_its_shape(answer: dict) -> None:
    """The usual wide answer (names, then the array; data, then meta) is joined from its parts,
    and every other shape goes through orjson: the bytes are orjson's either way."""
    answer["data"]["names"] = default_names(300)
    expected = orjson.dumps({**answer, "data": {**answer["data"], "names": [f"t:{i}" for i in range(300)]}},
                            option=NUMPY)
    assert seldon.dumps(answer) == expected
