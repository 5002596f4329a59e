"""Fuzzing the Seldon codecs: JSON (codecs/seldon.py), where a message sits in an HTTP
request (codecs/seldon_http.py), protobuf (codecs/seldon_proto.py) and TensorProto's JSON
form (codecs/tftensor.py).

Any input is decoded or refused with a client error (4xx), never another exception; what
decodes, an identity model can answer (the answer encodes and serializes); valid values
come back equal from a round trip.
"""

from __future__ import annotations

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelserve.codecs import messages, seldon, seldon_http, seldon_proto, tftensor
from modelserve.codecs.http import HttpRequest
from modelserve.codecs.seldon import NDARRAY, TENSOR, TFTENSOR, SeldonJsonCodec
from modelserve.codecs.seldon_proto import SeldonProtoCodec
from modelserve.model.component import Outcome, default_names
from tests.fuzz.conftest import examples
from tests.fuzz.strategies import (
    ANY_JSON,
    FEEDBACK,
    NUMERIC_DTYPES,
    SELDON_MESSAGES,
    TEXT,
    TFTENSORS,
    arrays,
    bytes_arrays,
    from_wire,
    json_text,
)
from tests.fuzz.support import clean


def class_names(array: np.ndarray) -> list[str]:
    return default_names(array.shape[1]) if array.ndim >= 2 else []


# Shapes nested lists can hold: a dimension of 0 ends the nesting ([] is shape (0,) whatever follows).
LIST_SHAPES = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)


def kind_arrays(kind: str) -> st.SearchStrategy[np.ndarray]:
    """Arrays a request of ``kind`` is answered in that kind (booleans are not numbers to Seldon:
    ndarray).  Numbers beyond int64 only as tftensor: tensor and ndarray values are read by
    ``np.array``, as the original reads them, which makes floats of them."""
    if kind == NDARRAY:
        found = arrays(NUMERIC_DTYPES, LIST_SHAPES)
    else:
        found = arrays([d for d in NUMERIC_DTYPES if d != "bool"])
    if kind == TFTENSOR:
        return found
    return found.filter(lambda array: array.dtype.kind != "u" or not array.size or array.max() < 2**63)


JSON_CODEC = SeldonJsonCodec(class_names, {}, True)
PROTO_CODEC = SeldonProtoCodec(class_names, {}, True)


def echo_json(request: seldon.SeldonRequest) -> None:
    """An identity model's answer to a decoded request, encoded and serialized as the server does."""
    answer = clean(JSON_CODEC.encode, Outcome(request.X), request)
    if answer is not None:
        orjson.loads(orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY))


def echo_proto(request: seldon.SeldonRequest) -> None:
    answer = clean(PROTO_CODEC.encode, Outcome(request.X), request)
    if answer is not None:
        messages.SeldonMessage.FromString(answer.SerializeToString())


# ---------------------------------------------------------------- JSON


@given(from_wire(ANY_JSON, SELDON_MESSAGES))
def test_any_json_value_is_a_message_or_a_client_error(message: object) -> None:
    request = clean(seldon.decode, message)
    if request is not None:
        echo_json(request)


@given(
    from_wire(
        ANY_JSON,
        st.lists(SELDON_MESSAGES, max_size=3),
        st.fixed_dictionaries({"seldonMessages": st.one_of(ANY_JSON, st.lists(SELDON_MESSAGES, max_size=3))}),
    )
)
def test_any_json_value_is_a_message_list_or_a_client_error(message: object) -> None:
    clean(seldon.decode_list, message)


@given(st.sampled_from([TENSOR, NDARRAY, TFTENSOR]).flatmap(lambda kind: st.tuples(st.just(kind), kind_arrays(kind))))
def test_numeric_arrays_round_trip_in_json(kind_array: tuple[str, np.ndarray]) -> None:
    kind, array = kind_array
    request = seldon.SeldonRequest(kind, None, [], None)
    message = orjson.loads(orjson.dumps(JSON_CODEC.encode(Outcome(array), request), option=orjson.OPT_SERIALIZE_NUMPY))
    decoded = seldon.decode(message)
    assert decoded.kind == kind
    assert decoded.X.shape == array.shape
    if kind == TFTENSOR:
        assert decoded.X.dtype == array.dtype
        assert decoded.X.tobytes() == array.tobytes()
    else:
        # float32 travels as its shortest text, exact once read back as float32
        assert np.array_equal(decoded.X.astype(array.dtype), array)


@given(bytes_arrays(LIST_SHAPES, text=True, nul=False))
def test_string_arrays_round_trip_in_json(array: np.ndarray) -> None:
    strings = np.vectorize(bytes.decode, otypes=[object])(array) if array.size else array
    message = orjson.loads(orjson.dumps(JSON_CODEC.encode(Outcome(strings), seldon.EMPTY_REQUEST)))
    decoded = seldon.decode(message)
    assert decoded.X.shape == array.shape
    assert decoded.X.tolist() == strings.tolist()


@given(st.binary(max_size=64))
def test_bin_data_round_trips(data: bytes) -> None:
    message = orjson.loads(orjson.dumps(JSON_CODEC.encode(Outcome(data), seldon.EMPTY_REQUEST)))
    decoded = seldon.decode(message)
    got = decoded.X
    assert got == data


# ---------------------------------------------------------------- TensorProto (JSON form)


@given(from_wire(ANY_JSON, TFTENSORS))
def test_any_tftensor_is_an_array_or_a_client_error(tensor: object) -> None:
    array = clean(tftensor.to_array, tensor)
    if array is not None:
        echo_json(seldon.SeldonRequest(TFTENSOR, array, [], None))


@given(arrays([*NUMERIC_DTYPES, "c8", "c16"]))
def test_tftensor_round_trips_every_dtype(array: np.ndarray) -> None:
    decoded = tftensor.to_array(orjson.loads(orjson.dumps(tftensor.from_array(array))))
    assert decoded.dtype == array.dtype.newbyteorder("=") or decoded.dtype == array.dtype
    assert decoded.shape == array.shape
    assert decoded.tobytes() == array.tobytes()


@given(bytes_arrays())
def test_tftensor_round_trips_strings(array: np.ndarray) -> None:
    decoded = tftensor.to_array(orjson.loads(orjson.dumps(tftensor.from_array(array))))
    assert decoded.shape == array.shape
    assert decoded.tolist() == array.tolist()


# ---------------------------------------------------------------- in an HTTP request

CONTENT_TYPES = st.sampled_from(
    [
        b"application/json",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=xyz",
        b"multipart/form-data",
        b'multipart/form-data; boundary="xyz"',
        b"text/plain",
        b"",
    ]
)


def multipart(fields: list[tuple[str, bytes, bool]]) -> bytes:
    parts = []
    for name, value, is_file in fields:
        filename = '; filename="f"' if is_file else ""
        parts.append(
            b'--xyz\r\nContent-Disposition: form-data; name="'
            + name.encode()
            + b'"'
            + filename.encode()
            + b"\r\n\r\n"
            + value
            + b"\r\n"
        )
    return b"".join(parts) + b"--xyz--\r\n"


FIELD_NAMES = st.one_of(st.sampled_from(["data", "strData", "binData", "jsonData", "meta", "json"]), TEXT)
BODIES = st.one_of(
    st.binary(max_size=200),
    st.one_of(ANY_JSON, SELDON_MESSAGES).map(json_text),
    st.lists(
        st.tuples(FIELD_NAMES, st.one_of(st.binary(max_size=30), SELDON_MESSAGES.map(json_text)), st.booleans()),
        max_size=4,
    ).map(multipart),
    st.one_of(ANY_JSON, SELDON_MESSAGES).map(lambda m: b"json=" + json_text(m)),
)
QUERIES = st.one_of(st.just(b""), st.binary(max_size=40), SELDON_MESSAGES.map(lambda m: b"json=" + json_text(m)))


@given(st.sampled_from(["GET", "POST"]), CONTENT_TYPES, QUERIES, BODIES)
@settings(max_examples=examples(2))
def test_any_http_request_is_a_message_or_a_client_error(
    method: str, content_type: bytes, query: bytes, body: bytes
) -> None:
    headers = [(b"content-type", content_type)] if content_type else []
    request = HttpRequest(method, "/predict", query, headers, body)
    message = clean(seldon_http.seldon_message, request)
    if message is not None:
        decoded = clean(seldon.decode, message)
        if decoded is not None:
            echo_json(decoded)
    clean(seldon_http.raw_payload, request)


# ---------------------------------------------------------------- protobuf


@given(st.binary(max_size=200))
@settings(max_examples=examples(3))
def test_any_bytes_are_a_message_or_a_client_error(data: bytes) -> None:
    try:
        message = messages.SeldonMessage.FromString(data)
    except Exception:  # undecodable: the gRPC transport answers it, before any codec
        return
    request = clean(seldon_proto.decode, message)
    if request is not None:
        echo_proto(request)


@given(SELDON_MESSAGES)
@settings(max_examples=examples(2))
def test_json_messages_as_protobuf_are_decoded_or_refused(value: object) -> None:
    """What a gRPC client can build: any SeldonMessage that protobuf's JSON form parses."""
    message = protobuf_of(value, messages.SeldonMessage)
    if message is not None:
        request = clean(seldon_proto.decode, message)
        if request is not None:
            echo_proto(request)


@given(st.binary(max_size=200))
def test_any_bytes_are_a_message_list_or_a_client_error(data: bytes) -> None:
    try:
        message = messages.SeldonMessageList.FromString(data)
    except Exception:
        return
    clean(seldon_proto.decode_list, message)


@given(from_wire(ANY_JSON, FEEDBACK))
def test_any_feedback_json_is_a_feedback_or_a_client_error(value: object) -> None:
    feedback = clean(seldon_proto.feedback_from_json, value)
    if feedback is not None:
        clean(seldon_proto.decode_feedback, feedback, "0")


@given(st.binary(max_size=200), TEXT)
def test_any_feedback_bytes_are_decoded_or_refused(data: bytes, unit: str) -> None:
    try:
        message = messages.Feedback.FromString(data)
    except Exception:
        return
    clean(seldon_proto.decode_feedback, message, unit)


@given(st.sampled_from([TENSOR, NDARRAY, TFTENSOR]).flatmap(lambda kind: st.tuples(st.just(kind), kind_arrays(kind))))
def test_numeric_arrays_round_trip_in_protobuf(kind_array: tuple[str, np.ndarray]) -> None:
    kind, array = kind_array
    request = seldon.SeldonRequest(kind, None, [], None)
    message = PROTO_CODEC.encode(Outcome(array), request)
    decoded = seldon_proto.decode(messages.SeldonMessage.FromString(message.SerializeToString()))
    assert decoded.kind == kind
    assert decoded.X.shape == array.shape
    if kind == TFTENSOR:
        assert decoded.X.dtype == array.dtype
        assert decoded.X.tobytes() == array.tobytes()
    else:  # every number is a double in a Tensor or a ListValue
        assert np.array_equal(decoded.X, array.astype(np.float64))


@given(bytes_arrays(LIST_SHAPES, text=True, nul=False))
def test_string_arrays_round_trip_in_protobuf(array: np.ndarray) -> None:
    strings = np.vectorize(bytes.decode, otypes=[object])(array) if array.size else array
    message = PROTO_CODEC.encode(Outcome(strings), seldon.EMPTY_REQUEST)
    decoded = seldon_proto.decode(messages.SeldonMessage.FromString(message.SerializeToString()))
    assert decoded.X.shape == array.shape
    assert decoded.X.tolist() == strings.tolist()


def protobuf_of(value: object, message_class: type) -> object:
    """The message protobuf's JSON parser makes of ``value``; None when it refuses it."""
    from google.protobuf import json_format

    try:
        return json_format.ParseDict(value, message_class(), descriptor_pool=messages.POOL)
    except Exception:
        return None
