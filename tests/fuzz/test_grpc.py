"""Fuzzing every gRPC method of a real server (tests/models/EveryMethodModel.py, which never
raises): random bytes, and random messages of each method's request type that are valid
on the wire but odd in every other way (unknown fields and groups included).

Each call is answered, or refused with a clean code: never UNKNOWN, and INTERNAL only as
grpcio answers bytes that do not parse ("Exception deserializing request!"); an answer
parses as the method's response type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from modelserve.codecs import messages, v2_proto
from tests.fuzz.conftest import examples
from tests.fuzz.strategies import FEEDBACK, SELDON_MESSAGES, from_wire, protobuf_messages
from tests.fuzz.test_v2_codecs import infer_requests
from tests.grpc.conftest import GrpcProcess

UNDECODABLE = "Exception deserializing request!"
CLEAN = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.UNIMPLEMENTED,  # Seldon's GraphMetadata: a single model has no graph
}

# (path, request class, response class) of every method the handlers serve
METHODS = [
    (f"/{service}/{name}", request, response)
    for service, methods in messages.SERVICES.items()
    for name, (request, response) in methods.items()
] + [(f"/{v2_proto.SERVICE}/{name}", v2_proto.REQUESTS[name], v2_proto.RESPONSES[name]) for name in v2_proto.REQUESTS]


@pytest.fixture(scope="module")
def server() -> Iterator[GrpcProcess]:
    process = GrpcProcess("EveryMethodModel", model_name="fuzzed", model_version="3")
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def call(server: GrpcProcess, path: str, data: bytes, response_class: Any) -> None:
    """Send ``data`` to the method; fail unless it is answered or cleanly refused."""
    stub = server.channel.unary_unary(path)  # bytes in, bytes out
    try:
        answer = stub(data, timeout=30)
    except grpc.RpcError as error:
        code, details = error.code(), error.details()
        if code == grpc.StatusCode.INTERNAL and details == UNDECODABLE:
            return
        assert code in CLEAN, f"{path}: {code.name} {details!r} for {data[:300]!r}"
        return
    response_class.FromString(answer)


def odd_messages(request_class: Any) -> st.SearchStrategy[Any]:
    """Messages of the type, at random; for the Seldon types also from their JSON form, which
    often carries a consistent payload (a tensor whose shape fits its values...)."""
    random = protobuf_messages(request_class)
    name = request_class.DESCRIPTOR.full_name
    if name == "seldon.protos.SeldonMessage":
        return st.one_of(random, from_wire(SELDON_MESSAGES).map(lambda v: parsed(v, request_class)))
    if name == "seldon.protos.SeldonMessageList":
        lists = st.lists(from_wire(SELDON_MESSAGES), max_size=3).map(lambda v: {"seldonMessages": v})
        return st.one_of(random, lists.map(lambda v: parsed(v, request_class)))
    if name == "seldon.protos.Feedback":
        return st.one_of(random, from_wire(FEEDBACK).map(lambda v: parsed(v, request_class)))
    if name == "inference.ModelInferRequest":
        return st.one_of(random, infer_requests().map(named_fuzzed))
    return random


def parsed(value: Any, request_class: Any) -> Any:
    try:
        return json_format.ParseDict(value, request_class(), descriptor_pool=messages.POOL)
    except (json_format.ParseError, TypeError, ValueError, AttributeError):
        return request_class()


def named_fuzzed(message: Any) -> Any:
    message.model_name = "fuzzed"
    return message


@given(st.sampled_from(METHODS), st.binary(max_size=200))
@settings(max_examples=examples(1), deadline=None)
def test_any_bytes_to_any_method(server: GrpcProcess, method: tuple[str, Any, Any], data: bytes) -> None:
    path, _, response_class = method
    call(server, path, data, response_class)


@given(st.sampled_from(METHODS).flatmap(lambda m: st.tuples(st.just(m), odd_messages(m[1]))))
@settings(max_examples=examples(3), deadline=None)
def test_odd_messages_to_every_method(server: GrpcProcess, method_message: tuple[tuple[str, Any, Any], Any]) -> None:
    (path, _, response_class), message = method_message
    call(server, path, message.SerializeToString(), response_class)
