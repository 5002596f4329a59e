"""Merlin's HTTP_JSON protocol: any JSON value in, whatever JSON the model answers out.

A request body is parsed whatever its content type and handed to the model's ``infer``
as it is; the answer is written with orjson (NaN and infinities become ``null``, numpy
values and sets are not JSON: a 500).  Every error is ``{"status_code": N, "reason":
"..."}``.  Request headers reach the model as a dict whose names are spelled the way
Merlin's tornado server spelled them (``X-Request-Id``); the last of a repeated header wins.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterable
from typing import Any

import orjson

from modelserve.errors import BadRequest, ServingError, UserCodeError

CONTENT_TYPE = "application/json; charset=UTF-8"
# the prefix of the original's 400 reason for a body that is not JSON
UNRECOGNIZED = "Unrecognized request format: "


def decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(UNRECOGNIZED + str(error)) from None


def encode(answer: Any) -> bytes:
    """The model's answer as JSON; an answer that is not JSON is the model's fault (500)."""
    try:
        return orjson.dumps(answer)
    except TypeError as error:
        failure = UserCodeError(f"the model's answer is not JSON: {error}")
        failure.__cause__ = error
        raise failure from error


def error_body(status_code: int, reason: str) -> bytes:
    return orjson.dumps({"status_code": status_code, "reason": reason})


def reason(error: ServingError) -> str:
    """The ``reason`` of an error answer: a user's HTTPError keeps its own, a client error
    says what was wrong, any other failure of the model is "Internal Server Error"."""
    if type(error).__name__ == "UserHTTPError" or (400 <= error.status_code < 500):
        return error.message
    return http.client.responses.get(error.status_code, "Internal Server Error")


_NAMES: dict[bytes, str] = {}


def header_name(raw: bytes) -> str:
    """``x-request-id`` -> ``X-Request-Id`` (tornado's normalisation), cached."""
    name = _NAMES.get(raw)
    if name is None:
        name = "-".join(part.capitalize() for part in raw.decode("latin-1").split("-"))
        if len(_NAMES) < 4096:
            _NAMES[raw] = name
    return name


def headers(raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request headers the model gets: normalised names, latin-1 values, the last one wins."""
    return {header_name(name): value.decode("latin-1") for name, value in raw_headers}
