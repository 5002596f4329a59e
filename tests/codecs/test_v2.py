"""The V2 codecs: JSON and the binary extension (codecs/v2.py), ModelInfer messages (codecs/v2_proto.py)."""

from __future__ import annotations

import json
import struct

import numpy as np
import orjson
import pytest

from modelserve.codecs import v2, v2_proto
from modelserve.codecs.v2 import InferRequest, InferResponse, RequestedOutput, Tensor
from modelserve.errors import BadRequest

# One array per datatype, with the extreme values of each.
ARRAYS = {
    "BOOL": np.array([[True, False, True]]),
    "UINT8": np.array([[0, 1, 255]], np.uint8),
    "UINT16": np.array([[0, 1, 65535]], np.uint16),
    "UINT32": np.array([[0, 1, 2**32 - 1]], np.uint32),
    "UINT64": np.array([[0, 1, 2**64 - 1]], np.uint64),
    "INT8": np.array([[-128, 0, 127]], np.int8),
    "INT16": np.array([[-32768, 0, 32767]], np.int16),
    "INT32": np.array([[-(2**31), 0, 2**31 - 1]], np.int32),
    "INT64": np.array([[-(2**63), 0, 2**63 - 1]], np.int64),
    "FP16": np.array([[0.5, -1.25, 65504.0]], np.float16),
    "FP32": np.array([[0.5, -1.25, 3.0e38]], np.float32),
    "FP64": np.array([[0.1, -1.25, 1e300]], np.float64),
    "BYTES": np.array([[b"a", b"", "\u00e9".encode()]], dtype=object),
}
STRUCT = {
    "BOOL": "?",
    "UINT8": "B",
    "UINT16": "H",
    "UINT32": "I",
    "UINT64": "Q",
    "INT8": "b",
    "INT16": "h",
    "INT32": "i",
    "INT64": "q",
    "FP16": "e",
    "FP32": "f",
    "FP64": "d",
}
JSON_TYPES = [d for d in ARRAYS if d != "FP16"]


def packed(datatype: str, array: np.ndarray) -> bytes:
    """The binary form, written independently of the codec (struct, not numpy)."""
    flat = array.reshape(-1).tolist()
    if datatype == "BYTES":
        return b"".join(struct.pack("<I", len(v)) + v for v in flat)
    return struct.pack(f"<{len(flat)}{STRUCT[datatype]}", *flat)


def json_data(datatype: str, array: np.ndarray) -> list:
    flat = array.reshape(-1).tolist()
    return [v.decode() for v in flat] if datatype == "BYTES" else flat


def body(*inputs: dict, **extra: object) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()  # json: integers beyond 64 bits too


def assert_same(tensor: Tensor, datatype: str, array: np.ndarray) -> None:
    assert tensor.datatype == datatype and tensor.shape == list(array.shape)
    assert tensor.data.shape == array.shape
    if datatype != "BYTES":
        assert tensor.data.dtype == array.dtype
    assert tensor.data.tolist() == array.tolist()


# ---------------------------------------------------------------- JSON


@pytest.mark.parametrize("datatype", JSON_TYPES)
def test_json_round_trip(datatype: str) -> None:
    array = ARRAYS[datatype]
    request = v2.decode_request(
        body({"name": "x", "datatype": datatype, "shape": [1, 3], "data": json_data(datatype, array)})
    )
    assert_same(request.inputs[0], datatype, array)
    answer, header = v2.encode_response(InferResponse("m", [v2.as_tensor("out", request.inputs[0].data)], id="7"))
    assert header is None
    message = orjson.loads(answer)
    assert message["id"] == "7" and message["model_name"] == "m" and message["parameters"] == {}
    (output,) = message["outputs"]
    data = output.pop("data")
    if datatype == "FP32":  # written as the shortest text of the float32, not of its float64 widening
        assert np.array(data, np.float32).tolist() == array.reshape(-1).tolist()
    else:
        assert data == json_data(datatype, array)
    assert output == {"name": "out", "datatype": datatype, "shape": [1, 3]}


def test_json_nested_data_and_parameters() -> None:
    request = v2.decode_request(
        body(
            {"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2], [3, 4]], "parameters": {"a": 1}},
            id="r1",
            parameters={"p": "q"},
            outputs=[{"name": "y", "parameters": {"binary_data": True}}],
        )
    )
    assert request.id == "r1" and request.parameters == {"p": "q"}
    assert request.inputs[0].parameters == {"a": 1}
    assert request.inputs[0].data.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert request.outputs == [RequestedOutput("y", {"binary_data": True})]


@pytest.mark.parametrize(
    ("tensor", "words"),
    [
        ({"name": "x", "datatype": "FP32", "shape": [3], "data": [1, 2]}, "needs 3 values"),
        ({"name": "x", "datatype": "FP128", "shape": [1], "data": [1]}, "unknown datatype"),
        ({"name": "x", "shape": [1], "data": [1]}, "datatype is missing"),
        ({"name": "x", "datatype": "FP32", "shape": [1], "data": ["a"]}, "must be numbers"),
        ({"name": "x", "datatype": "FP32", "shape": [1], "data": [True]}, "must be numbers"),
        ({"name": "x", "datatype": "INT32", "shape": [1], "data": [1.5]}, "must be integers"),
        ({"name": "x", "datatype": "UINT8", "shape": [1], "data": [256]}, "out of the range"),
        ({"name": "x", "datatype": "UINT64", "shape": [1], "data": [2**64]}, "must be integers"),  # a float to orjson
        ({"name": "x", "datatype": "INT8", "shape": [1], "data": [-129]}, "out of the range"),
        ({"name": "x", "datatype": "BOOL", "shape": [1], "data": [1]}, "must be booleans"),
        ({"name": "x", "datatype": "BYTES", "shape": [1], "data": [1]}, "must be strings"),
        ({"name": "x", "datatype": "FP16", "shape": [1], "data": [1.0]}, "binary form"),
        ({"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2], [3]]}, "rectangular"),
        ({"name": "x", "datatype": "FP32", "shape": [-1], "data": [1]}, "between 0 and"),
        ({"name": "x", "datatype": "FP32", "shape": "1", "data": [1]}, "shape must be"),
        ({"name": 3, "datatype": "FP32", "shape": [1], "data": [1]}, "name must be"),
        ({"name": "x", "datatype": "FP32", "shape": [1]}, "data is missing"),
    ],
)
def test_json_bad_tensors(tensor: dict, words: str) -> None:
    with pytest.raises(BadRequest, match=words) as caught:
        v2.decode_request(body(tensor))
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"inputs": [', "invalid JSON"),
        (b"[]", "JSON object"),
        (b'{"inputs": []}', "non-empty list"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "id": 5}', "id must be"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "outputs": [{}]}', "outputs"),
        (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "parameters": 1}', "param"),
    ],
)
def test_json_bad_requests(raw: bytes, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        v2.decode_request(raw)


def test_bytes_output_that_is_not_utf8_needs_binary() -> None:
    response = InferResponse("m", [v2.as_tensor("b", np.array([b"\xff"], dtype=object))])
    with pytest.raises(BadRequest, match="binary"):
        v2.encode_response(response)
    body_bytes, header = v2.encode_response(response, [True])
    assert header is not None and body_bytes[header:] == b"\x01\x00\x00\x00\xff"


# ---------------------------------------------------------------- binary extension


@pytest.mark.parametrize("datatype", list(ARRAYS))
def test_binary_request_is_viewed_without_copy(datatype: str) -> None:
    array = ARRAYS[datatype]
    data = packed(datatype, array)
    head = body(
        {"name": "x", "datatype": datatype, "shape": [1, 3], "parameters": {"binary_data_size": len(data)}},
    )
    raw = head + data
    request = v2.decode_request(raw, len(head))
    tensor = request.inputs[0]
    assert_same(tensor, datatype, array)
    assert tensor.parameters == {}  # binary_data_size is the wire's business, not the model's
    if datatype != "BYTES":
        assert not tensor.data.flags.writeable
        assert np.shares_memory(tensor.data, np.frombuffer(raw, np.uint8))


@pytest.mark.parametrize("datatype", list(ARRAYS))
def test_binary_response(datatype: str) -> None:
    array = ARRAYS[datatype]
    response = InferResponse("m", [v2.as_tensor("out", array), v2.as_tensor("n", np.array([1, 2], np.int32))])
    answer, header = v2.encode_response(response, [True, False])
    assert header is not None
    message = orjson.loads(answer[:header])
    first, second = message["outputs"]
    assert first == {
        "name": "out",
        "datatype": datatype,
        "shape": [1, 3],
        "parameters": {"binary_data_size": len(packed(datatype, array))},
    }
    assert second["data"] == [1, 2]
    assert answer[header:] == packed(datatype, array)


def test_mixed_binary_and_json_inputs() -> None:
    a = np.arange(4, dtype=np.float32)
    b = np.array([b"xy", b"z"], dtype=object)
    head = body(
        {"name": "a", "datatype": "FP32", "shape": [4], "parameters": {"binary_data_size": 16}},
        {"name": "j", "datatype": "INT64", "shape": [1], "data": [5]},
        {"name": "b", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 11}},
    )
    request = v2.decode_request(head + a.tobytes() + packed("BYTES", b), len(head))
    assert [t.name for t in request.inputs] == ["a", "j", "b"]
    assert request.inputs[0].data.tolist() == [0, 1, 2, 3]
    assert request.inputs[1].data.tolist() == [5]
    assert request.inputs[2].data.tolist() == [b"xy", b"z"]


@pytest.mark.parametrize(
    ("size", "extra", "header", "words"),
    [
        (12, b"", None, "runs past"),
        (8, b"", None, "needs 12 bytes"),
        (12, b"\x00", None, "no input claims"),
        (12, b"", 10_000, "outside the body"),
        (-1, b"", None, "non-negative"),
    ],
)
def test_binary_errors(size: int, extra: bytes, header: int | None, words: str) -> None:
    head = body({"name": "x", "datatype": "FP32", "shape": [3], "parameters": {"binary_data_size": size}})
    data = np.zeros(3, np.float32).tobytes()[: max(size, 0)] if size != 12 or extra else b""
    if size == 12 and not extra and header is None:
        data = b"\x00" * 4  # fewer bytes than announced
    if size == 12 and extra:
        data = np.zeros(3, np.float32).tobytes() + extra
    if header is not None:
        data = np.zeros(3, np.float32).tobytes()
    with pytest.raises(BadRequest, match=words):
        v2.decode_request(head + data, header if header is not None else len(head))


def test_bytes_framing_errors() -> None:
    with pytest.raises(BadRequest, match="truncated"):
        v2.unpack_bytes(b"\x01\x00")
    with pytest.raises(BadRequest, match="past the end"):
        v2.unpack_bytes(b"\x05\x00\x00\x00ab")
    assert v2.unpack_bytes(b"").tolist() == []


def test_header_length() -> None:
    assert v2.header_length([(b"inference-header-content-length", b"12")]) == 12
    assert v2.header_length([(b"content-type", b"application/json")]) is None
    with pytest.raises(BadRequest):
        v2.header_length([(b"inference-header-content-length", b"x")])


def test_which_outputs_are_binary() -> None:
    outputs = [v2.as_tensor("a", np.zeros(1)), v2.as_tensor("h", np.zeros(1, np.float16)), v2.as_tensor("c", [1])]
    response = InferResponse("m", outputs)
    assert v2.binary_outputs(InferRequest([]), response) == [False, True, False]  # FP16 only in binary
    everything = InferRequest(
        [], parameters={"binary_data_output": True}, outputs=[RequestedOutput("c", {"binary_data": False})]
    )
    assert v2.binary_outputs(everything, response) == [True, True, False]


def test_datatypes_of_answers() -> None:
    assert v2.as_tensor("s", np.array(["a", "b"])).datatype == "BYTES"
    assert v2.as_tensor("s", np.array(["a"])).data.dtype == object
    assert v2.as_tensor("l", [[1.0, 2.0]]).datatype == "FP64"
    assert v2.as_tensor("b", np.array([1], ">i4")).data.dtype == np.dtype("<i4")
    scalar = v2.as_tensor("n", 3)
    assert (scalar.datatype, scalar.shape) == ("INT64", [])
    with pytest.raises(BadRequest):
        v2.as_tensor("c", np.array([1j]))


# ---------------------------------------------------------------- gRPC messages


def infer_message(**fields: object) -> object:
    return v2_proto.ModelInferRequest(model_name="m", **fields)


@pytest.mark.parametrize("datatype", [d for d in ARRAYS if d != "FP16"])
def test_typed_contents_round_trip(datatype: str) -> None:
    array = ARRAYS[datatype]
    message = infer_message()
    item = message.inputs.add(name="x", datatype=datatype, shape=[1, 3])
    field, _ = v2_proto.CONTENTS_FIELD[datatype]
    getattr(item.contents, field).extend(array.reshape(-1).tolist())
    request = v2_proto.decode_request(v2_proto.ModelInferRequest.FromString(message.SerializeToString()))
    assert_same(request.inputs[0], datatype, array)
    response = v2_proto.encode_response(InferResponse("m", [request.inputs[0]], id="i"), raw=False)
    parsed = v2_proto.ModelInferResponse.FromString(response.SerializeToString())
    assert parsed.id == "i" and not parsed.raw_output_contents
    output = parsed.outputs[0]
    assert (output.datatype, list(output.shape)) == (datatype, [1, 3])
    got = list(getattr(output.contents, field))
    want = array.reshape(-1).tolist()
    if datatype == "FP32":
        want = np.array(want, np.float32).tolist()
    assert got == want


@pytest.mark.parametrize("datatype", list(ARRAYS))
def test_raw_contents_round_trip(datatype: str) -> None:
    array = ARRAYS[datatype]
    message = infer_message(raw_input_contents=[packed(datatype, array)])
    message.inputs.add(name="x", datatype=datatype, shape=[1, 3])
    request = v2_proto.decode_request(message)
    tensor = request.inputs[0]
    assert_same(tensor, datatype, array)
    if datatype != "BYTES":
        assert not tensor.data.flags.writeable
    response = v2_proto.encode_response(InferResponse("m", [tensor]), raw=True)
    assert list(response.raw_output_contents) == [packed(datatype, array)]
    assert not response.outputs[0].contents.ByteSize()


def test_fp16_answers_go_raw() -> None:
    response = v2_proto.encode_response(InferResponse("m", [v2.as_tensor("h", ARRAYS["FP16"])]), raw=False)
    assert list(response.raw_output_contents) == [packed("FP16", ARRAYS["FP16"])]


def test_parameters_both_ways() -> None:
    message = infer_message(id="abc")
    message.inputs.add(name="x", datatype="FP64", shape=[1]).contents.fp64_contents.append(1.0)
    message.parameters["s"].string_param = "v"
    message.parameters["b"].bool_param = True
    message.parameters["i"].int64_param = -3
    message.parameters["d"].double_param = 0.5
    message.outputs.add(name="y").parameters["u"].uint64_param = 2**64 - 1
    request = v2_proto.decode_request(message)
    assert request.id == "abc"
    assert request.parameters == {"s": "v", "b": True, "i": -3, "d": 0.5}
    assert request.outputs == [RequestedOutput("y", {"u": 2**64 - 1})]
    response = v2_proto.encode_response(InferResponse("m", [], parameters=request.parameters), raw=False)
    assert v2_proto.parameters_of(response.parameters) == request.parameters


def two_fields(contents: object) -> None:
    contents.fp64_contents.append(1.0)  # type: ignore[attr-defined]
    contents.int64_contents.append(1)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda m: m.inputs.add(name="x", datatype="FP32", shape=[3]).contents.fp32_contents.extend([1, 2]), "needs 3"),
        (lambda m: m.inputs.add(name="x", datatype="FP128", shape=[1]).contents.fp32_contents.append(1), "unknown"),
        (lambda m: m.inputs.add(name="x", datatype="FP32", shape=[1]).contents.int_contents.append(1), "fp32_contents"),
        (lambda m: m.inputs.add(name="x", datatype="FP16", shape=[1]), "raw_input_contents"),
        (lambda m: two_fields(m.inputs.add(name="x", datatype="FP64", shape=[1]).contents), "fp64_contents, not int64"),
        (lambda m: m.inputs.add(name="x", datatype="INT32", shape=[1]).contents.fp32_contents.append(1),
         "in int_contents, not fp32_contents"),
        (lambda m: m.inputs.add(name="x", datatype="INT8", shape=[1]).contents.int_contents.append(300), "range"),
        (lambda m: m.inputs.add(name="x", datatype="FP32", shape=[-1]), "between 0 and"),
        (lambda m: m.raw_input_contents.append(b"\x00" * 4), "raw_input_contents has 1 entries for 0"),
        (lambda m: None, "at least one input"),
    ],
)
def test_grpc_bad_requests(build: object, words: str) -> None:
    message = infer_message()
    build(message)  # type: ignore[operator]
    with pytest.raises(BadRequest, match=words):
        v2_proto.decode_request(message)


def test_raw_size_must_match_shape() -> None:
    message = infer_message(raw_input_contents=[b"\x00" * 7])
    message.inputs.add(name="x", datatype="FP32", shape=[2])
    with pytest.raises(BadRequest, match="needs 8 bytes"):
        v2_proto.decode_request(message)


def test_typed_fixed_contents_with_unknown_fields_decode() -> None:
    """Found by tests/fuzz: protobuf keeps unknown fields in contents; an FP32 tensor with one was a 400."""
    request = v2_proto.ModelInferRequest()
    tensor = request.inputs.add(name="a", datatype="FP32", shape=[2])
    tensor.contents.fp32_contents.extend([1.0, 2.0])
    tensor.contents.MergeFromString(b"\x98\x06\x01" + b"\x9b\x06\x08\x01\x9c\x06")  # field 99: a varint, a group
    parsed = v2_proto.ModelInferRequest.FromString(request.SerializeToString())
    assert v2_proto.decode_request(parsed).inputs[0].data.tolist() == [1.0, 2.0]
