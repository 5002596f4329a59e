"""Merlin's HTTP_JSON wire format: the original's parsing, errors and header spelling."""

from __future__ import annotations

import pytest

from modelserve.codecs import merlin
from modelserve.errors import BadRequest, ServingError, UserCodeError
from modelserve.model.pyfunc import UserHTTPError


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (b'{"a": 1, "b": "x", "c": 2.5}', {"a": 1, "b": "x", "c": 2.5}),
        (b"42", 42),
        (b'"hello"', "hello"),
        (b'{"a": 1, "a": 2}', {"a": 2}),
        (b'  \n\t{"a" : 1 }  \r\n', {"a": 1}),
        ('{"t": "h\u00e9llo \U0001f600"}'.encode(), {"t": "h\u00e9llo \U0001f600"}),
    ],
)
def test_any_json_value_is_decoded(body: bytes, value: object) -> None:
    assert merlin.decode(body) == value


@pytest.mark.parametrize("body", [b"", b"{'a': 1}", b'{"a": 1} x', b'{"a": "\xff\xfe"}', b"[" * 2000 + b"]" * 2000])
def test_bad_json_is_a_400_in_the_originals_words(body: bytes) -> None:
    with pytest.raises(BadRequest) as raised:
        merlin.decode(body)
    assert raised.value.status_code == 400
    assert raised.value.message.startswith("Unrecognized request format: ") and len(raised.value.message) > 30


def test_answers() -> None:
    assert merlin.encode({"nan": float("nan"), "inf": float("inf")}) == b'{"nan":null,"inf":null}'
    assert merlin.encode({"t": (1, 2)}) == b'{"t":[1,2]}'
    for bad in ({"s": {1}}, b"raw", {"x": 2**70}):
        with pytest.raises(UserCodeError) as raised:
            merlin.encode(bad)
        assert raised.value.status_code == 500 and isinstance(raised.value.__cause__, TypeError)


def test_error_reasons() -> None:
    assert merlin.reason(UserCodeError("boom")) == "Internal Server Error"
    assert merlin.reason(UserHTTPError("custom reason", 422)) == "custom reason"
    assert merlin.reason(BadRequest("Unrecognized request format: x")) == "Unrecognized request format: x"
    assert merlin.reason(ServingError("gone", 503)) == "Service Unavailable"
    assert merlin.error_body(404, "Not Found") == b'{"status_code":404,"reason":"Not Found"}'


def test_header_names_as_tornado_spelled_them() -> None:
    raw = [
        (b"content-type", b"application/json"),
        (b"x-lower-case", b"v1"),
        (b"X-Request-ID", b"req-42"),
        (b"X-MiXeD-CaSe", b"Mixed"),
        (b"x-latin", "café".encode()),
        (b"x-twice", b"first"),
        (b"X-Twice", b"second"),
    ]
    assert merlin.headers(raw) == {
        "Content-Type": "application/json",
        "X-Lower-Case": "v1",
        "X-Request-Id": "req-42",
        "X-Mixed-Case": "Mixed",
        "X-Latin": "caf\u00c3\u00a9",
        "X-Twice": "second",
    }
