"""The Seldon protocol's ``SeldonMessage`` as protobuf (``seldon.protos``, the gRPC transport).

The same semantics as the JSON codec (``codecs/seldon.py``, whose mirroring rules and
meta helpers are reused), with protobuf's types: every number is a double (an ndarray
travels as ``google.protobuf.ListValue``, so ints come back as floats), ``meta`` is
read as ``json_format.MessageToDict`` gives it, ``customData`` (``google.protobuf.Any``)
is handed over as is, and ``tftensor`` is a ``tensorflow.TensorProto``, read and
written without TensorFlow.

Numeric payloads never go through Python numbers one by one: ``tensor`` values and
numeric ``ndarray`` lists are read and written as bytes by numpy (``codecs/protowire.py``).

A ``Feedback`` is protobuf on REST too, as in the original: its JSON is parsed strictly
into the message (``feedback_from_json``), answered as on gRPC, and the answer sent as
protobuf JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf import json_format
from google.protobuf.message import Message

from modelserve.codecs import messages, protowire, tftensor
from modelserve.codecs.seldon import (
    BIN_DATA,
    CUSTOM_DATA,
    DATA_KINDS,
    JSON_DATA,
    NDARRAY,
    NO_DATA,
    STR_DATA,
    TENSOR,
    TFTENSOR,
    FeedbackRequest,
    SeldonCodecSettings,
    SeldonJsonCodec,
    SeldonRequest,
    answer_kind,
    as_answer_array,
    decode_ndarray,
    response_meta,
    unknown_answer,
)
from modelserve.datatypes import checked_shape
from modelserve.errors import BadRequest, ServingError
from modelserve.model.component import Outcome

NO_PAYLOAD = "Invalid request data type: the message has no payload (data, binData, strData, jsonData or customData)"

_METRIC_TYPES = messages.Metric.DESCRIPTOR.enum_types_by_name["MetricType"]
_TF_DTYPES = messages.TensorProto.DESCRIPTOR.fields_by_name["dtype"].enum_type
_TF_FIELDS = messages.TensorProto.DESCRIPTOR.fields_by_camelcase_name
_NULL_VALUE = 0  # google.protobuf.NullValue.NULL_VALUE


# ---------------------------------------------------------------- google.protobuf.Value


def to_python(value: Any) -> Any:
    """A ``google.protobuf.Value`` as ``json_format.MessageToDict`` gives it (numbers are floats)."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {key: to_python(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return list_to_python(value.list_value)
    return None


def list_to_python(values: Any) -> list[Any]:
    return [to_python(item) for item in values.values]


def set_value(value: Any, obj: Any) -> None:
    """Fill a ``google.protobuf.Value`` from a JSON-like object (numpy arrays and scalars too)."""
    if isinstance(obj, str):
        value.string_value = obj
    elif isinstance(obj, (bool, np.bool_)):
        value.bool_value = bool(obj)
    elif isinstance(obj, (int, float, np.integer, np.floating)):
        value.number_value = float(obj)
    elif obj is None:
        value.null_value = _NULL_VALUE
    elif isinstance(obj, dict):
        value.struct_value.SetInParent()
        fields = value.struct_value.fields
        for key, item in obj.items():
            set_value(fields[key if isinstance(key, str) else str(key)], item)
    elif isinstance(obj, (list, tuple, np.ndarray)):
        set_list(value.list_value, obj)
    elif isinstance(obj, np.generic):
        set_value(value, obj.item())
    else:
        raise ServingError(f"Cannot send a {type(obj).__name__} in a protobuf Value: {obj!r}")


# Below this many numbers, Python's element-by-element path is the faster one.
_NUMPY_FROM = 16


def set_list(values: Any, obj: list[Any] | tuple[Any, ...] | np.ndarray) -> None:
    """Fill a ``google.protobuf.ListValue``; numeric arrays are written by numpy at once."""
    if isinstance(obj, np.ndarray):
        if obj.size >= _NUMPY_FROM and protowire.fits_list_value(obj):
            values.MergeFromString(protowire.list_value_bytes(obj))
            return
        obj = obj.tolist()
    values.SetInParent()
    add = values.values.add
    for item in obj:
        set_value(add(), item)


def list_to_array(values: Any) -> np.ndarray:
    """An ndarray payload as numpy: numbers straight from the bytes, anything else via Python lists."""
    data = values.SerializeToString()
    if len(data) >= _NUMPY_FROM * protowire.NUMBER_SIZE:
        array = protowire.read_list_value(data)
        if array is not None:
            return array
    return decode_ndarray(list_to_python(values))


# ---------------------------------------------------------------- tftensor


def tftensor_to_array(tensor: Any) -> np.ndarray:
    """A ``tensorflow.TensorProto`` as numpy: ``tensor_content`` bytes or the dtype's ``*_val`` field."""
    name = _TF_DTYPES.values_by_number[tensor.dtype].name if tensor.dtype in _TF_DTYPES.values_by_number else "?"
    field = _TF_FIELDS.get(tftensor.VALUE_FIELDS.get(name, ""))
    values = getattr(tensor, field.name) if field is not None else []
    shape = [int(dim.size) for dim in tensor.tensor_shape.dim]
    return tftensor.array_of(name, shape, tensor.tensor_content, values)


def set_tftensor(tensor: Any, array: np.ndarray) -> None:
    """Fill a ``tensorflow.TensorProto``: strings in ``string_val``, numbers as ``tensor_content``."""
    for size in array.shape:
        tensor.tensor_shape.dim.add(size=int(size))
    tensor.tensor_shape.SetInParent()
    if array.dtype.kind in ("U", "S", "O"):
        tensor.dtype = _TF_DTYPES.values_by_name["DT_STRING"].number
        tensor.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in array.ravel().tolist())
        return
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    name = tftensor.DTYPE_NAMES.get(np.dtype(dtype))
    if name is None:
        raise BadRequest(f"Cannot encode an array of {array.dtype} as tftensor")
    tensor.dtype = _TF_DTYPES.values_by_name[name].number
    tensor.tensor_content = np.ascontiguousarray(array, dtype=dtype).tobytes()


# ---------------------------------------------------------------- meta


def meta_to_dict(message: Any) -> dict[str, Any]:
    """A message's meta as the user's ``meta`` argument: ``MessageToDict`` of it, ``{}`` when absent."""
    if not message.HasField("meta"):
        return {}
    try:
        return json_format.MessageToDict(message.meta)
    except (json_format.Error, ValueError, TypeError) as error:  # e.g. a NaN or infinite number in tags
        raise BadRequest(f"Invalid meta: {error}") from None


def set_meta(meta: Any, values: dict[str, Any]) -> None:
    """Fill a ``Meta`` from the dict ``response_meta`` builds (present even when empty)."""
    meta.SetInParent()
    if not values:
        return
    puid = values.get("puid")
    if puid:
        meta.puid = str(puid)
    tags = values.get("tags")
    if isinstance(tags, dict):
        for key, item in tags.items():
            set_value(meta.tags[str(key)], item)
    path = values.get("requestPath")
    if isinstance(path, dict):
        for key, item in path.items():
            meta.requestPath[str(key)] = str(item)
    routing = values.get("routing")
    if isinstance(routing, dict):
        for key, item in routing.items():
            meta.routing[str(key)] = int(item)
    for metric in values.get("metrics") or ():
        set_metric(meta.metrics.add(), metric)


def set_metric(message: Any, metric: dict[str, Any]) -> None:
    message.key = str(metric.get("key", ""))
    kind = metric.get("type") or "COUNTER"
    # a request's metric of a type this proto does not name (MessageToDict gives its number)
    # goes back as the number it came with
    message.type = kind if type(kind) is int else _METRIC_TYPES.values_by_name[kind].number
    message.value = float(metric.get("value", 0.0))
    for key, item in (metric.get("tags") or {}).items():
        message.tags[str(key)] = str(item)


def metric_to_dict(metric: Any) -> dict[str, Any]:
    """A ``Metric`` of a raw answer as the custom-metric dict the data plane validates."""
    name = _METRIC_TYPES.values_by_number[metric.type].name if metric.type in _METRIC_TYPES.values_by_number else "?"
    as_dict: dict[str, Any] = {"key": metric.key, "type": name, "value": metric.value}
    if metric.tags:
        as_dict["tags"] = dict(metric.tags)
    return as_dict


# ---------------------------------------------------------------- metadata


def metadata_message(metadata: dict[str, Any]) -> Any:
    """The model's metadata dict as a ``SeldonModelMetadata``; ServingError when it does not fit."""
    try:
        return json_format.ParseDict(metadata, messages.SeldonModelMetadata(), ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise ServingError(f"Model metadata cannot be sent over gRPC: {error}") from None


# ---------------------------------------------------------------- the codec


def decode(message: Any) -> SeldonRequest:
    """A SeldonMessage to X, names and meta; BadRequest when it has no payload."""
    kind = message.WhichOneof("data_oneof")
    meta = meta_to_dict(message)
    if kind == "data":
        data = message.data
        return SeldonRequest(*decode_data(data), list(data.names), meta)
    if kind == STR_DATA:
        return SeldonRequest(STR_DATA, message.strData, [], meta)
    if kind == BIN_DATA:
        return SeldonRequest(BIN_DATA, message.binData, [], meta)
    if kind == JSON_DATA:
        return SeldonRequest(JSON_DATA, to_python(message.jsonData), [], meta)
    if kind == CUSTOM_DATA:
        return SeldonRequest(CUSTOM_DATA, message.customData, [], meta)
    raise BadRequest(NO_PAYLOAD)


def decode_data(data: Any) -> tuple[str, np.ndarray]:
    kind = data.WhichOneof("data_oneof")
    if kind == TENSOR:
        return TENSOR, decode_tensor(data.tensor)
    if kind == NDARRAY:
        return NDARRAY, list_to_array(data.ndarray)
    if kind == TFTENSOR:
        return TFTENSOR, tftensor_to_array(data.tftensor)
    return NDARRAY, np.array([])


def decode_tensor(tensor: Any) -> np.ndarray:
    dims, values = protowire.read_tensor(tensor.SerializeToString())
    shape, count = checked_shape(dims or [values.size], "Invalid tensor")
    if count != values.size:
        raise BadRequest(f"Invalid tensor: shape {shape} needs {count} values, got {values.size}")
    return values.reshape(shape)


_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
_EMPTY_META = b"\x12\x00"  # SeldonMessage.meta, present and empty


def decode_bytes(data: bytes) -> SeldonRequest | None:
    """A serialized SeldonMessage read straight from its bytes, when it is the plain case:
    ``data`` with names and a tensor or a numeric ndarray, no meta (or an empty one), nothing
    else.  None otherwise: the caller parses the message and takes ``decode``, which gives
    the same request (and the same errors) for every message this reads."""
    top = protowire.fields(data)
    if top is None:
        return None
    payload = None
    for number, start, end in top:
        if number == 3 and payload is None:
            payload = (start, end)
        elif not (number == 2 and start == end):  # an empty meta is no meta
            return None
    if payload is None:
        return None
    parts = protowire.fields(data, *payload)
    if parts is None:
        return None
    names = []
    kind = span = None
    for number, start, end in parts:
        if number == 1:
            try:
                names.append(data[start:end].decode())
            except UnicodeDecodeError:
                return None
        elif number in (2, 3) and kind is None:
            kind, span = number, data[start:end]
        else:
            return None
    if span is None:
        return None
    if kind == 3:
        array = protowire.read_list_value(span)
        return None if array is None else SeldonRequest(NDARRAY, array, names, {})
    try:
        shape, values = protowire.read_tensor(span)
        if not all(_INT32_MIN <= d <= _INT32_MAX for d in shape):
            return None
        return SeldonRequest(TENSOR, values.reshape(shape or [values.size]), names, {})
    except ValueError:
        return None  # the general path says what is wrong


def decode_list(message: Any) -> list[SeldonRequest]:
    """The messages of a SeldonMessageList."""
    return [decode(item) for item in message.seldonMessages]


def feedback_from_json(value: Any) -> Any:
    """A ``Feedback`` from its JSON form, parsed as strictly as the original parses it
    (``json_format.ParseDict``): an unknown field, a value of the wrong type or a list
    is a 400 ``Invalid JSON: <the parser's message>``."""
    if not isinstance(value, (dict, list, str)):  # the parser cannot even iterate these
        raise BadRequest(f"Invalid JSON: a Feedback is a JSON object, not {type(value).__name__} {value!r}")
    try:
        return json_format.ParseDict(value, messages.Feedback(), descriptor_pool=messages.POOL)
    except json_format.ParseError as error:
        raise BadRequest(f"Invalid JSON: {error}") from None


def decode_feedback(message: Any, unit_id: str) -> FeedbackRequest:
    """A Feedback message: the request's data, the truth, the reward and this unit's route."""
    request = _feedback_part(message, "request")
    truth = _feedback_part(message, "truth")
    routing = None
    if message.HasField("response"):
        route_map = message.response.meta.routing
        if unit_id in route_map:
            routing = int(route_map[unit_id])
    return FeedbackRequest(
        request=request,
        features=request.X if request.kind in DATA_KINDS else np.array([]),
        truth=truth.X if truth.kind in DATA_KINDS else np.array([]),
        reward=float(message.reward),
        routing=routing,
    )


def _feedback_part(message: Any, key: str) -> SeldonRequest:
    """A Feedback's request or truth; one without a payload has no data to mirror (NO_DATA)."""
    if not message.HasField(key):
        return SeldonRequest(NO_DATA, None, [], None)
    part = getattr(message, key)
    if part.WhichOneof("data_oneof") is None:
        return SeldonRequest(NO_DATA, None, [], meta_to_dict(part))
    return decode(part)


def is_any(data: Any) -> bool:
    """A ``google.protobuf.Any`` of any descriptor pool (a user's own generated classes too)."""
    return isinstance(data, Message) and data.DESCRIPTOR.full_name == "google.protobuf.Any"


class SeldonProtoCodec(SeldonCodecSettings):
    """Decodes and encodes ``seldon.protos`` messages (the ``SeldonWire`` of the gRPC transport)."""

    decode = staticmethod(decode)
    decode_list = staticmethod(decode_list)
    decode_feedback = staticmethod(decode_feedback)

    @staticmethod
    def raw_metrics(answer: Any) -> list[dict[str, Any]]:
        if isinstance(answer, dict):
            return SeldonJsonCodec.raw_metrics(answer)
        if isinstance(answer, Message) and "meta" in answer.DESCRIPTOR.fields_by_name and answer.HasField("meta"):
            return [metric_to_dict(metric) for metric in answer.meta.metrics]
        return []

    @staticmethod
    def strip_raw_metrics(answer: Any) -> None:
        if isinstance(answer, dict):
            SeldonJsonCodec.strip_raw_metrics(answer)
        else:
            answer.meta.ClearField("metrics")

    @staticmethod
    def metadata(metadata: dict[str, Any]) -> Any:
        return metadata_message(metadata)

    def encode(self, outcome: Outcome, request: SeldonRequest, carry_meta: bool = True) -> Any:
        message = messages.SeldonMessage()
        self.set_payload(message, outcome.data, request.kind)
        meta = response_meta(request.meta, outcome, self.request_path, self.include_metrics, carry_meta)
        set_meta(message.meta, meta)
        return message

    def encode_bytes(self, outcome: Outcome, request: SeldonRequest) -> Any:
        """``encode(outcome, request)`` serialized: written straight as bytes in the plain case
        (a numeric array answer to a tensor or ndarray request, no meta to send), else the
        message ``encode`` builds (the transport serializes it)."""
        array = outcome.data
        kind = request.kind
        plain = (
            type(array) is np.ndarray
            and kind in (TENSOR, NDARRAY)
            and array.dtype.kind in "iuf"
            and (kind == TENSOR or protowire.fits_list_value(array))
        )
        if not plain:
            return self.encode(outcome, request)
        names = self.class_names(array)
        meta = response_meta(request.meta, outcome, self.request_path, self.include_metrics)
        encoded_names = None if meta else self._names_bytes(names)
        if encoded_names is None:
            message = messages.SeldonMessage()
            self.set_payload(message, array, kind, names)
            set_meta(message.meta, meta)
            return message
        if kind == TENSOR:
            payload = protowire.length_delimited(2, protowire.tensor_bytes(array))
        else:
            payload = protowire.length_delimited(3, protowire.list_value_bytes(array))
        return _EMPTY_META + protowire.length_delimited(3, encoded_names + payload)

    _names_cache: tuple[list[str], bytes] = ([], b"")

    def _names_bytes(self, names: list[str]) -> bytes | None:
        """DefaultData.names serialized (None: not all strings); the last ones are kept, as a
        class answers with the same class or default names every time."""
        cached, encoded = self._names_cache
        if names == cached:  # the default names share their string objects: a quick comparison
            return encoded
        if not all(type(name) is str for name in names):
            return None
        encoded = protowire.strings_bytes(1, names)
        self._names_cache = (list(names), encoded)
        return encoded

    def set_payload(self, message: Any, data: Any, request_kind: str, names: list[str] | None = None) -> None:
        """The answer's payload, mirroring the request's kind (rules of ``codecs/seldon.py``);
        ``names``: the class names of the answer when already known."""
        if isinstance(data, dict):
            set_value(message.jsonData, data)
            return
        if isinstance(data, (bytes, bytearray)):
            message.binData = bytes(data)
            return
        if isinstance(data, str):
            message.strData = data
            return
        if is_any(data):
            message.customData.type_url = data.type_url
            message.customData.value = data.value
            return
        if not isinstance(data, (np.ndarray, list, np.generic)):
            raise unknown_answer(data)
        body = message.data
        array, values = as_answer_array(data)
        if array is None:  # ragged: sent as given, without names
            set_list(body.ndarray, values)
            return
        kind = answer_kind(request_kind, array)
        if names is None:
            names = self.class_names(array)
        try:
            body.names.extend(names)
        except TypeError:  # class_names that are not all strings
            body.names.extend(str(name) for name in names)
        if kind == TENSOR:
            if array.dtype.kind == "c":
                raise ServingError("Cannot send complex numbers in a tensor: use tftensor")
            body.tensor.MergeFromString(protowire.tensor_bytes(array))
            body.tensor.SetInParent()
        elif kind == TFTENSOR:
            set_tftensor(body.tftensor, array)
        elif isinstance(values, np.ndarray) or (array.dtype.kind in "iuf" and array.ndim):
            set_list(body.ndarray, array if array.ndim else array.reshape(1))
        else:
            set_list(body.ndarray, values)
