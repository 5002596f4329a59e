"""Hostile inputs: every codec refuses them with a clear 400 before allocating for them."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from modelserve.codecs import http, messages, seldon, seldon_http, seldon_proto, tftensor, v2, v2_proto
from modelserve.codecs.http import HttpRequest
from modelserve.datatypes import MAX_BROADCAST_ELEMENTS, checked_shape
from modelserve.errors import QUOTE_LIMIT, BadRequest, quote


def refused(call: Any) -> str:
    with pytest.raises(BadRequest) as raised:
        call()
    return raised.value.message


def test_a_one_value_tftensor_cannot_stand_for_a_huge_array() -> None:
    huge = {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": str(1 << 28)}]}, "floatVal": [1.0]}
    assert "at most" in refused(lambda: tftensor.to_array(huge))
    message = messages.SeldonMessage()
    message.data.tftensor.dtype = 1  # DT_FLOAT
    message.data.tftensor.tensor_shape.dim.add(size=1 << 28)
    message.data.tftensor.float_val.append(1.0)
    assert "at most" in refused(lambda: seldon_proto.decode(message))
    small = {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "4"}]}, "floatVal": [2.0]}
    assert tftensor.to_array(small).tolist() == [2.0] * 4  # the one-value form still works
    assert MAX_BROADCAST_ELEMENTS >= 1 << 20


@pytest.mark.parametrize(
    "shape",
    [[0, 2**62, 2**62], [1] * 65, [-5], [2**31], [1.5], "3", [True]],
)
def test_shapes_that_no_tensor_can_have(shape: Any) -> None:
    refused(lambda: checked_shape(shape, "x"))
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": shape, "data": []}]}
    refused(lambda: v2.decode_request(orjson.dumps(body)))


def test_v2_grpc_shapes_are_checked() -> None:
    message = v2_proto.ModelInferRequest(model_name="m")
    message.inputs.add(name="x", datatype="FP32", shape=[0, 2**62, 2**62])
    assert "between 0 and" in refused(lambda: v2_proto.decode_request(message))


def test_seldon_tensors_need_a_valid_shape_with_their_values() -> None:
    assert "between 0 and" in refused(lambda: seldon.decode({"data": {"tensor": {"shape": [-5], "values": [1] * 5}}}))
    assert "needs 4 values" in refused(lambda: seldon.decode({"data": {"tensor": {"shape": [2, 2], "values": [1]}}}))
    tensor = messages.SeldonMessage()
    tensor.data.tensor.shape.extend([-1])
    tensor.data.tensor.values.extend([1.0])
    refused(lambda: seldon_proto.decode(tensor))


def test_base64_is_strict() -> None:
    assert "base64" in refused(lambda: seldon.decode({"binData": "!!!"}))
    assert seldon.decode({"binData": "AAH/"}).X == b"\x00\x01\xff"


def test_error_messages_quote_a_few_hundred_bytes_at_most() -> None:
    body = [1.0] * 1_000_000
    started = time.perf_counter()
    message = refused(lambda: seldon.decode(body))
    assert len(message) < QUOTE_LIMIT + 100
    assert time.perf_counter() - started < 0.5  # no repr of the whole input
    assert quote("short") == "short" and quote({"a": 1}) == "{'a': 1}"


def test_multipart_bodies_are_bounded() -> None:
    boundary = b"xyz"
    part = b'--xyz\r\nContent-Disposition: form-data; name="strData"\r\n\r\nhi\r\n'
    headers = [(b"content-type", b"multipart/form-data; boundary=" + boundary)]
    many = HttpRequest("POST", "/predict", b"", headers, part * 10_000 + b"--xyz--\r\n")
    started = time.perf_counter()
    assert "parts" in refused(lambda: seldon_http.seldon_message(many))
    assert time.perf_counter() - started < 0.5
    one = HttpRequest("POST", "/predict", b"", headers, part + b"--xyz--\r\n")
    assert seldon_http.seldon_message(one) == {"strData": "hi"}
    no_boundary = HttpRequest("POST", "/predict", b"", [(b"content-type", b"multipart/form-data")], part)
    assert "boundary" in refused(lambda: seldon_http.seldon_message(no_boundary))


def test_query_strings_and_forms_have_a_field_limit() -> None:
    many = "&".join(f"k{i}=v" for i in range(http.MAX_FIELDS + 1)).encode()
    assert "fields" in refused(lambda: HttpRequest("GET", "/predict", many, [], b"").query())
    form = HttpRequest("POST", "/predict", b"", [(b"content-type", b"application/x-www-form-urlencoded")], many)
    assert "fields" in refused(form.form)
