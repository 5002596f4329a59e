"""Fuzzing the V2 codecs: REST JSON and the binary extension (codecs/v2.py), and the
ModelInfer messages of gRPC (codecs/v2_proto.py).

Any body (with any Inference-Header-Content-Length) and any message are decoded or refused
with a client error, never another exception; what decodes, an identity model can answer
in every form (JSON, binary, typed and raw contents); every datatype comes back equal from
a round trip.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from modelserve.codecs import v2, v2_proto
from modelserve.codecs.v2 import InferResponse, Tensor
from modelserve.datatypes import V2_DATATYPES
from modelserve.errors import ServingError
from tests.fuzz.conftest import examples
from tests.fuzz.strategies import (
    ANY_JSON,
    INTEGERS,
    TEXT,
    V2_DATATYPE_NAMES,
    V2_REQUESTS,
    arrays,
    bytes_arrays,
    json_text,
)
from tests.fuzz.support import clean

DTYPE_NAMES = {
    "BOOL": "bool",
    "UINT8": "u1",
    "UINT16": "u2",
    "UINT32": "u4",
    "UINT64": "u8",
    "INT8": "i1",
    "INT16": "i2",
    "INT32": "i4",
    "INT64": "i8",
    "FP16": "f2",
    "FP32": "f4",
    "FP64": "f8",
}


def tensors(datatypes: tuple[str, ...] = V2_DATATYPES, text: bool = False) -> st.SearchStrategy[Tensor]:
    """Tensors of any of ``datatypes``: every value of the type (finite floats), any shape."""

    def build(datatype: str) -> st.SearchStrategy[Tensor]:
        values = bytes_arrays(text=text) if datatype == "BYTES" else arrays([DTYPE_NAMES[datatype]])
        return st.builds(
            lambda name, array: Tensor(name, datatype, list(array.shape), array), st.text(max_size=6), values
        )

    return st.sampled_from(datatypes).flatmap(build)


JSON_DATATYPES = tuple(d for d in V2_DATATYPES if d != "FP16")  # FP16 travels in binary form only


def echo(request: v2.InferRequest) -> InferResponse:
    """What the V2 handler answers for an identity model: each input back as an output."""
    outputs = [clean(v2.as_tensor, t.name, t.data, t.parameters) for t in request.inputs]
    return InferResponse("model", [t for t in outputs if t is not None], None, request.id, request.parameters)


def assert_same(decoded: Tensor, tensor: Tensor) -> None:
    assert (decoded.name, decoded.datatype, decoded.shape) == (tensor.name, tensor.datatype, tensor.shape)
    assert decoded.data.shape == tuple(tensor.shape)
    if tensor.datatype == "BYTES":
        assert decoded.data.tolist() == tensor.data.tolist()
    else:
        assert decoded.data.dtype == v2.DTYPES[tensor.datatype]
        assert decoded.data.tobytes() == np.ascontiguousarray(tensor.data, v2.DTYPES[tensor.datatype]).tobytes()


# ---------------------------------------------------------------- REST


def binary_body(head: object, tail: bytes) -> tuple[bytes, int]:
    text = json_text(head)
    return text + tail, len(text)


HEADER_LENGTHS = st.one_of(st.none(), st.integers(-2, 300), INTEGERS)
BODIES = st.one_of(
    st.tuples(st.binary(max_size=300), HEADER_LENGTHS),
    st.tuples(st.one_of(ANY_JSON, V2_REQUESTS).map(json_text), st.none()),
    st.builds(binary_body, V2_REQUESTS, st.binary(max_size=64)),
    st.tuples(st.builds(binary_body, V2_REQUESTS, st.binary(max_size=64)).map(lambda b: b[0]), HEADER_LENGTHS),
)


@given(BODIES)
@settings(max_examples=examples(3))
def test_any_body_is_a_request_or_a_client_error(body_length: tuple[bytes, int | None]) -> None:
    body, json_length = body_length
    request = clean(v2.decode_request, body, json_length)
    if request is None:
        return
    response = echo(request)
    binary = clean(v2.binary_outputs, request, response)
    if binary is not None:
        encoded = clean(v2.encode_response, response, binary if any(binary) else None)
        if encoded is not None:
            orjson.loads(encoded[0][: encoded[1]])


@given(st.lists(tensors(JSON_DATATYPES, text=True), min_size=1, max_size=3), st.booleans())
def test_every_datatype_round_trips_in_json(inputs: list[Tensor], nested: bool) -> None:
    items = []
    for tensor in inputs:
        data = tensor.data.tolist() if nested else tensor.data.reshape(-1).tolist()
        if tensor.datatype == "BYTES":
            data = np.vectorize(bytes.decode, otypes=[object])(tensor.data).tolist() if tensor.data.size else data
            data = data if nested else np.asarray(data, object).reshape(-1).tolist()
        items.append({"name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape, "data": data})
    request = v2.decode_request(json_text({"inputs": items}))
    for decoded, tensor in zip(request.inputs, inputs, strict=True):
        assert_same(decoded, tensor)


@given(st.lists(tensors(), min_size=1, max_size=3), st.lists(st.booleans(), min_size=3, max_size=3))
def test_every_datatype_round_trips_through_an_answer(outputs: list[Tensor], binary: list[bool]) -> None:
    """An answer in JSON and binary form, read back as a request: the same tensors."""
    utf8 = all(_is_text(t) for t in outputs)
    flags = [b or t.datatype == "FP16" or not utf8 for t, b in zip(outputs, binary, strict=False)]
    body, json_length = v2.encode_response(InferResponse("m", outputs), flags)
    head = orjson.loads(body if json_length is None else body[:json_length])
    tail = b"" if json_length is None else body[json_length:]
    as_request = json_text({"inputs": head["outputs"]})
    request = v2.decode_request(as_request + tail, len(as_request) if tail or json_length else None)
    for decoded, tensor in zip(request.inputs, outputs, strict=True):
        assert_same(decoded, tensor)


def _is_text(tensor: Tensor) -> bool:
    if tensor.datatype != "BYTES":
        return True
    try:
        for value in tensor.data.reshape(-1):
            value.decode()
    except UnicodeDecodeError:
        return False
    return True


# ---------------------------------------------------------------- gRPC (ModelInfer)

CONTENT_VALUES = {
    "bool_contents": st.lists(st.booleans(), max_size=6),
    "int_contents": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=6),
    "int64_contents": st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6),
    "uint_contents": st.lists(st.integers(0, 2**32 - 1), max_size=6),
    "uint64_contents": st.lists(st.integers(0, 2**64 - 1), max_size=6),
    "fp32_contents": st.lists(st.floats(width=32), max_size=6),
    "fp64_contents": st.lists(st.floats(), max_size=6),
    "bytes_contents": st.lists(st.binary(max_size=6), max_size=6),
}
PARAMETER_VALUES = st.one_of(
    st.builds(lambda v: ("bool_param", v), st.booleans()),
    st.builds(lambda v: ("int64_param", v), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: ("uint64_param", v), st.integers(0, 2**64 - 1)),
    st.builds(lambda v: ("double_param", v), st.floats()),
    st.builds(lambda v: ("string_param", v), TEXT),
)
PROTO_SHAPES = st.lists(st.one_of(st.integers(-1, 4), st.integers(-(2**63), 2**63 - 1)), max_size=4)


@st.composite
def infer_requests(draw: st.DrawFn) -> object:
    """A ModelInferRequest, valid on the wire, whose every part may be odd."""
    message = v2_proto.ModelInferRequest(model_name=draw(TEXT), id=draw(TEXT))
    raw = draw(st.booleans())
    for _ in range(draw(st.integers(0, 3))):
        item = message.inputs.add(name=draw(TEXT), datatype=draw(V2_DATATYPE_NAMES), shape=draw(PROTO_SHAPES))
        for key, (field, value) in draw(st.dictionaries(TEXT, PARAMETER_VALUES, max_size=2)).items():
            setattr(item.parameters[key], field, value)
        for field in draw(st.lists(st.sampled_from(sorted(CONTENT_VALUES)), max_size=2)):
            getattr(item.contents, field).extend(draw(CONTENT_VALUES[field]))
        if draw(st.booleans()):
            item.contents.MergeFromString(draw(st.sampled_from([b"\x98\x06\x01", b"\x9b\x06\x9c\x06"])))
        if raw:
            message.raw_input_contents.append(draw(st.binary(max_size=24)))
    for key, (field, value) in draw(st.dictionaries(TEXT, PARAMETER_VALUES, max_size=2)).items():
        setattr(message.parameters[key], field, value)
    for _ in range(draw(st.integers(0, 2))):
        message.outputs.add(name=draw(TEXT))
    if raw and draw(st.booleans()):
        message.raw_input_contents.append(draw(st.binary(max_size=8)))
    return v2_proto.ModelInferRequest.FromString(message.SerializeToString())


def echo_proto(message: object, raw: bool) -> None:
    request = clean(v2_proto.decode_request, message)
    if request is not None:
        response = clean(v2_proto.encode_response, echo(request), raw)
        if response is not None:
            v2_proto.ModelInferResponse.FromString(response.SerializeToString())


@given(infer_requests())
@settings(max_examples=examples(3))
def test_any_infer_request_is_decoded_or_refused(message: object) -> None:
    echo_proto(message, bool(message.raw_input_contents))  # type: ignore[attr-defined]


@given(st.binary(max_size=300))
@settings(max_examples=examples(2))
def test_any_bytes_are_an_infer_request_or_refused(data: bytes) -> None:
    try:
        message = v2_proto.ModelInferRequest.FromString(data)
    except Exception:  # undecodable: the gRPC transport answers it, before any codec
        return
    echo_proto(message, bool(message.raw_input_contents))


@given(st.lists(tensors(), min_size=1, max_size=3), st.booleans())
def test_every_datatype_round_trips_in_protobuf(outputs: list[Tensor], raw: bool) -> None:
    """The answer's outputs sent back as a request's inputs: the same tensors, typed or raw."""
    response = v2_proto.ModelInferResponse.FromString(
        v2_proto.encode_response(InferResponse("m", outputs), raw).SerializeToString()
    )
    request = v2_proto.ModelInferRequest(raw_input_contents=response.raw_output_contents)
    for output in response.outputs:
        request.inputs.add(name=output.name, datatype=output.datatype, shape=output.shape, contents=output.contents)
    decoded = v2_proto.decode_request(v2_proto.ModelInferRequest.FromString(request.SerializeToString()))
    for tensor, original in zip(decoded.inputs, outputs, strict=True):
        assert_same(tensor, original)


def refusal(call: Callable[..., object], *args: object) -> object:
    """What ``call`` answers, or the message of the client error it refuses with."""
    try:
        return call(*args)
    except ServingError as error:
        return error.message


@given(infer_requests())
@settings(max_examples=examples(3))
def test_raw_contents_split_off_decode_as_the_whole_message(message: object) -> None:
    """The gRPC fast path views raw_input_contents in the request's bytes and parses the rest:
    the same tensors, or the same refusal, as parsing the whole message."""
    data = message.SerializeToString()  # type: ignore[attr-defined]
    split = v2_proto.split_raw_inputs(data)
    raw = list(message.raw_input_contents)  # type: ignore[attr-defined]
    assert (split is not None) == bool(raw)
    if split is None:
        return
    rest, views = split
    assert [bytes(view) for view in views] == raw
    stripped = v2_proto.ModelInferRequest.FromString(rest)
    whole = v2_proto.ModelInferRequest.FromString(data)
    whole.ClearField("raw_input_contents")
    assert stripped == whole
    expected = refusal(v2_proto.decode_request, message)
    got = refusal(v2_proto.decode_request, stripped, views)
    if isinstance(expected, str):
        assert got == expected
        return
    assert isinstance(got, v2.InferRequest) and isinstance(expected, v2.InferRequest)
    assert (got.id, got.parameters, got.outputs) == (expected.id, expected.parameters, expected.outputs)
    for tensor, original in zip(got.inputs, expected.inputs, strict=True):
        assert_same(tensor, original)
        assert tensor.parameters == original.parameters


@given(st.lists(tensors(), max_size=3), st.booleans(), st.dictionaries(TEXT, st.integers(0, 9), max_size=2),
       st.one_of(st.none(), TEXT))
def test_response_bytes_are_protobufs_own(outputs: list[Tensor], raw: bool, parameters: dict, id: str | None) -> None:
    """The answer written with its raw contents appended is byte for byte the message's serialization."""
    response = InferResponse("m", outputs, "3", id, parameters)
    assert v2_proto.response_bytes(response, raw) == v2_proto.encode_response(response, raw).SerializeToString()
