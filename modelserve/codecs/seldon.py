"""The Seldon protocol's ``SeldonMessage`` as JSON: decoded once into what the user's
method gets, and the answer encoded so that it mirrors the request.

Mirroring rules (those of the original wrapper, ``construct_response[_json]``):
- a numeric array answers in the kind of the request's ``data`` (``tensor``,
  ``tftensor``, else ``ndarray``); a non-numeric one as ``ndarray``;
- with no ``data`` to mirror (a ``strData``/``jsonData``/``binData``/``customData``
  request, a Feedback without a request payload, a health check) a numeric array
  answers as ``tensor``;
- a dict answers as ``jsonData``, a str as ``strData``, bytes as ``binData``;
- output names come from the class's ``class_names`` (2-D and larger answers), else
  ``t:0 .. t:n-1``; 1-D answers get none;
- ``meta`` carries the request's tags and metrics merged with the model's, its ``puid``
  and ``requestPath``.

Numbers keep their JSON type: ints stay ints.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from modelserve.codecs import tftensor
from modelserve.datatypes import checked_shape
from modelserve.errors import BadRequest, ServingError, quote
from modelserve.model.component import DefaultNames, Outcome

# Payload kinds of a SeldonMessage.
TENSOR = "tensor"
NDARRAY = "ndarray"
TFTENSOR = "tftensor"
JSON_DATA = "jsonData"
STR_DATA = "strData"
BIN_DATA = "binData"
CUSTOM_DATA = "customData"
NO_DATA = ""  # a message without any payload: a Feedback's missing request, a health check
DATA_KINDS = (TENSOR, NDARRAY, TFTENSOR)

# dtypes orjson writes straight from the array buffer (OPT_SERIALIZE_NUMPY).
_ORJSON_KINDS = frozenset("biuf")
_NUMPY = orjson.OPT_SERIALIZE_NUMPY

ClassNames = Callable[[np.ndarray], list[str]]


@dataclass(slots=True)
class SeldonRequest:
    """One decoded SeldonMessage: what the user gets, and what the answer mirrors."""

    kind: str  # one of DATA_KINDS for a ``data`` payload, else the payload's field name, or NO_DATA
    X: Any
    names: list[str]
    meta: dict[str, Any] | None  # as sent; None when the message had no meta

    @property
    def puid(self) -> Any:
        return self.meta.get("puid") if isinstance(self.meta, dict) else None


@dataclass(slots=True)
class FeedbackRequest:
    request: SeldonRequest
    features: Any  # the request's data as an array (empty for non-data payloads)
    truth: Any
    reward: float
    routing: int | None


EMPTY_REQUEST = SeldonRequest(NO_DATA, None, [], None)


# ---------------------------------------------------------------- decoding


def decode(message: Any) -> SeldonRequest:
    """A SeldonMessage dict to X, names and meta; BadRequest when it is not one."""
    if not isinstance(message, dict):
        raise BadRequest(f"Invalid request data type: {quote(message)}")
    meta = message.get("meta")
    data = message.get("data")
    if data is not None or "data" in message:
        if not isinstance(data, dict):
            raise BadRequest(f"data must be an object, got {type(data).__name__}")
        kind, X = decode_data(data)
        names = data.get("names")
        return SeldonRequest(kind, X, names if isinstance(names, list) else [], meta)
    if JSON_DATA in message:
        return SeldonRequest(JSON_DATA, message[JSON_DATA], [], meta)
    if STR_DATA in message:
        return SeldonRequest(STR_DATA, message[STR_DATA], [], meta)
    if BIN_DATA in message:
        return SeldonRequest(BIN_DATA, decode_bin_data(message[BIN_DATA]), [], meta)
    raise BadRequest(f"Invalid request data type: {quote(message)}")


def decode_data(data: dict[str, Any]) -> tuple[str, np.ndarray]:
    if TENSOR in data:
        return TENSOR, decode_tensor(data[TENSOR])
    if NDARRAY in data:
        return NDARRAY, decode_ndarray(data[NDARRAY])
    if TFTENSOR in data:
        return TFTENSOR, tftensor.to_array(data[TFTENSOR])
    return NDARRAY, np.array([])


def decode_ndarray(values: Any) -> np.ndarray:
    if isinstance(values, np.ndarray):  # read straight into numpy (codecs/numjson.py)
        return values
    try:
        return np.array(values)
    except (ValueError, TypeError) as error:
        raise BadRequest(f"Invalid ndarray: {error}") from None


def decode_tensor(tensor: Any) -> np.ndarray:
    if not isinstance(tensor, dict):
        raise BadRequest(f"tensor must be an object, got {type(tensor).__name__}")
    values = tensor.get("values")
    if not isinstance(values, (list, np.ndarray)):
        raise BadRequest("tensor needs a list of values")
    shape = tensor.get("shape")
    if shape is None:
        shape = [len(values)]
    shape, count = checked_shape(shape, "Invalid tensor")
    if count != len(values):
        raise BadRequest(f"Invalid tensor: shape {shape} needs {count} values, got {len(values)}")
    try:
        return np.asarray(values).reshape(shape)
    except (ValueError, TypeError) as error:
        raise BadRequest(f"Invalid tensor: {error}") from None


def decode_bin_data(value: Any) -> bytes:
    if not isinstance(value, str):
        raise BadRequest(f"binData must be a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadRequest(f"binData is not valid base64: {error}") from None


def decode_list(message: Any) -> list[SeldonRequest]:
    """The messages of a SeldonMessageList (``{"seldonMessages": [...]}`` or a bare list)."""
    if isinstance(message, list):
        items = message
    elif isinstance(message, dict) and isinstance(message.get("seldonMessages"), list):
        items = message["seldonMessages"]
    else:
        raise BadRequest(f"Invalid request data type: {quote(message)}")
    return [decode(item) for item in items]


# ---------------------------------------------------------------- encoding


def response_meta(
    request_meta: dict[str, Any] | None,
    outcome: Outcome,
    request_path: dict[str, str],
    include_metrics: bool,
    carry_meta: bool = True,
) -> dict[str, Any]:
    """The answer's meta: the request's puid; its tags, metrics and requestPath merged
    with the model's, unless ``carry_meta`` is false (route and feedback answers, as in
    the original, carry only the request's puid over)."""
    meta: dict[str, Any] = {}
    if request_meta is None and not request_path and not outcome.tags and not outcome.metrics:
        return meta
    incoming = request_meta if isinstance(request_meta, dict) else {}
    tags: Any = (incoming.get("tags") or {}) if carry_meta else {}
    metrics: list[Any] = []
    if carry_meta and isinstance(incoming.get("metrics"), list):
        metrics = list(incoming["metrics"])
    path: dict[str, Any] = dict(request_path)
    if carry_meta and isinstance(incoming.get("requestPath"), dict):
        path.update(incoming["requestPath"])
    if outcome.tags:
        tags = {**tags, **outcome.tags} if isinstance(tags, dict) else dict(outcome.tags)
    if include_metrics and outcome.metrics:
        metrics.extend(outcome.metrics)
    if tags:
        meta["tags"] = tags
    if metrics:
        meta["metrics"] = metrics
    if incoming.get("puid"):
        meta["puid"] = incoming["puid"]
    if path:
        meta["requestPath"] = path
    return meta


def answer_kind(request_kind: str, array: np.ndarray) -> str:
    """Which data field an array answer goes in: the request's ``data`` kind when it had
    ``data`` and the answer is numeric, ``tensor`` for a numeric answer to a message
    without ``data``; else ``ndarray``, except bytes answering a tftensor request (as the
    DT_STRING strings it came with: an ndarray in JSON or a ListValue cannot hold bytes)."""
    if not is_numeric(array):
        if request_kind == TFTENSOR and _holds_bytes(array):
            return TFTENSOR
        return NDARRAY
    if request_kind in DATA_KINDS:
        return request_kind
    return TENSOR


def _holds_bytes(array: np.ndarray) -> bool:
    if array.dtype.kind == "S":
        return True
    if array.dtype.kind != "O" or not array.size:
        return False
    return all(isinstance(value, (bytes, str)) for value in array.flat) and isinstance(array.flat[0], bytes)


def is_numeric(array: np.ndarray) -> bool:
    return array.dtype.kind in "iufc"


def as_answer_array(data: Any) -> tuple[np.ndarray | None, Any]:
    """(array used to choose the kind and names, the values to send) of a list/array answer."""
    if isinstance(data, np.ndarray):
        return data, data
    if isinstance(data, np.generic):
        array = np.asarray(data)
        return array, array
    try:
        return np.asarray(data), data
    except (ValueError, TypeError):
        return None, data  # ragged: sent as given, as an ndarray without names


def jsonable(array: np.ndarray) -> Any:
    """The array itself where orjson can write its buffer, else nested lists."""
    if array.ndim and array.dtype.kind in _ORJSON_KINDS and array.flags.c_contiguous and array.dtype.isnative:
        return array
    return array.tolist()


_names_json: dict[int, tuple[bytes, orjson.Fragment]] = {}  # width -> the JSON of DefaultNames of that width
_NDARRAY_ANSWER = ["data", "meta"], ["names", "ndarray"]  # the keys of the usual wide answer, in order


def dumps(answer: dict[str, Any]) -> bytes:
    """An answer of ``SeldonJsonCodec.encode`` as JSON; wide default names are written from
    their cached encoding (the answer's own ``names`` is replaced by it)."""
    data = answer.get("data")
    if type(data) is dict:
        names = data.get("names")
        if type(names) is DefaultNames:
            names_json, fragment = _wide_names(names)
            values = data.get(NDARRAY)
            if type(values) is np.ndarray and (list(answer), list(data)) == _NDARRAY_ANSWER:
                # Joined here rather than by orjson: its buffer, grown as it writes, would copy
                # the names and the numbers several times over.
                return b"".join((b'{"data":{"names":', names_json, b',"ndarray":', orjson.dumps(values, option=_NUMPY),
                                 b'},"meta":', orjson.dumps(answer["meta"], option=_NUMPY), b"}"))
            data["names"] = fragment
    return orjson.dumps(answer, option=_NUMPY)


def _wide_names(names: DefaultNames) -> tuple[bytes, orjson.Fragment]:
    cached = _names_json.get(len(names))
    if cached is None:
        if len(_names_json) >= 16:
            _names_json.clear()
        encoded = orjson.dumps(names)
        cached = _names_json[len(names)] = encoded, orjson.Fragment(encoded)
    return cached


def unknown_answer(data: Any) -> ServingError:
    return BadRequest("Unknown data type returned as payload (must be list or np array):" + str(data))


class SeldonCodecSettings:
    """What both Seldon codecs (JSON and protobuf) are built with."""

    def __init__(self, class_names: ClassNames, request_path: dict[str, str], include_metrics: bool):
        self.class_names = class_names
        self.request_path = request_path
        self.include_metrics = include_metrics

    @staticmethod
    def health_request() -> SeldonRequest:
        return EMPTY_REQUEST


class SeldonJsonCodec(SeldonCodecSettings):
    """Encodes outcomes as SeldonMessage JSON objects (dicts ready for orjson)."""

    decode = staticmethod(decode)
    decode_list = staticmethod(decode_list)

    @staticmethod
    def raw_metrics(answer: Any) -> list[dict[str, Any]]:
        meta = answer.get("meta") if isinstance(answer, dict) else None
        metrics = meta.get("metrics") if isinstance(meta, dict) else None
        return metrics if isinstance(metrics, list) else []

    @staticmethod
    def strip_raw_metrics(answer: Any) -> None:
        answer["meta"].pop("metrics", None)

    def encode(self, outcome: Outcome, request: SeldonRequest, carry_meta: bool = True) -> dict[str, Any]:
        message = self.encode_payload(outcome.data, request.kind)
        message["meta"] = response_meta(request.meta, outcome, self.request_path, self.include_metrics, carry_meta)
        return message

    def encode_payload(self, data: Any, request_kind: str) -> dict[str, Any]:
        array: np.ndarray | None
        if isinstance(data, np.ndarray):
            array, values = data, data
        elif isinstance(data, dict):
            return {JSON_DATA: data}
        elif isinstance(data, str):
            return {STR_DATA: data}
        elif isinstance(data, (bytes, bytearray)):
            return {BIN_DATA: base64.b64encode(data).decode("ascii")}
        elif isinstance(data, (list, np.generic)):
            array, values = as_answer_array(data)
            if array is None:
                return {"data": {"names": [], NDARRAY: values}}
        else:
            raise unknown_answer(data)
        kind = answer_kind(request_kind, array)
        names = self.class_names(array)
        body: dict[str, Any] = {"names": names}
        if kind == NDARRAY:
            body[NDARRAY] = jsonable(values) if values is array else values
        elif kind == TENSOR:
            body[TENSOR] = {"shape": list(array.shape), "values": jsonable(array.ravel())}
        else:
            body[TFTENSOR] = tftensor.from_array(array)
        return {"data": body}
