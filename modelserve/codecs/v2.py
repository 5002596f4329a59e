"""The Open Inference Protocol (V2): its tensors as numpy arrays, and its REST (JSON) form.

The internal types (``Tensor``, ``InferRequest``, ``InferResponse``) are shared with the
gRPC codec (``codecs/v2_proto.py``): a request is decoded once at the edge, the handlers
work on arrays, and the answer is encoded once on the way out.

REST bodies are JSON, optionally with the binary tensor data extension: the header
``Inference-Header-Content-Length: N`` says the first N bytes are the JSON header and the
rest holds the tensors whose ``parameters.binary_data_size`` is set, one after the other.
Binary tensors (and gRPC's ``raw_input_contents``) are viewed with ``np.frombuffer``,
without a copy: the arrays a model gets from them are read-only.  Numbers are
little-endian; BYTES elements are each a 4-byte little-endian length and the bytes;
BOOL is one byte per element.  FP16 exists only in binary form (not in JSON data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from modelserve.codecs import numjson
from modelserve.datatypes import V2_DTYPES, checked_shape
from modelserve.errors import BadRequest

JSON_HEADER = b"inference-header-content-length"
BINARY_DATA_SIZE = "binary_data_size"
BINARY_DATA = "binary_data"
BINARY_DATA_OUTPUT = "binary_data_output"

DTYPES = V2_DTYPES
DATATYPES = tuple(DTYPES)
_BY_KIND_SIZE = {(dtype.kind, dtype.itemsize): name for name, dtype in DTYPES.items() if name != "BYTES"}
_JSON_KINDS = {"b": "b", "u": "iu", "i": "iu", "f": "iuf"}  # what JSON numbers each kind accepts
_NATIVE = {name: dtype.newbyteorder("=") for name, dtype in DTYPES.items()}


@dataclass(slots=True)
class Tensor:
    """One named tensor: its V2 datatype, shape and values (shaped like ``shape``)."""

    name: str
    datatype: str
    shape: list[int]
    data: np.ndarray
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RequestedOutput:
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class InferRequest:
    inputs: list[Tensor]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    outputs: list[RequestedOutput] | None = None  # None: every output


@dataclass(slots=True)
class InferResponse:
    model_name: str
    outputs: list[Tensor]
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- datatypes and arrays


def dtype_of(datatype: Any, where: str) -> np.dtype:
    dtype = DTYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise BadRequest(f"{where}: unknown datatype {datatype!r} (one of {', '.join(DATATYPES)})")
    return dtype


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype of an answer's array; strings, bytes and objects are BYTES."""
    name = _BY_KIND_SIZE.get((array.dtype.kind, array.dtype.itemsize))
    if name is not None:
        return name
    if array.dtype.kind in "OSU":
        return "BYTES"
    raise BadRequest(f"cannot send an array of dtype {array.dtype} as a V2 tensor")


def as_tensor(name: str, value: Any, parameters: dict[str, Any] | None = None) -> Tensor:
    """An answer's value (array, list, scalar) as an output tensor."""
    array = value if isinstance(value, np.ndarray) else np.asarray(value)
    datatype = datatype_of(array)
    if datatype == "BYTES" and array.dtype.kind != "O":
        array = array.astype(object)
    elif array.dtype.byteorder == ">":
        array = array.astype(DTYPES[datatype])
    return Tensor(name, datatype, list(array.shape), array, parameters or {})


def check_shape(shape: Any, where: str) -> list[int]:
    return checked_shape(shape, where)[0]


def _size(shape: list[int]) -> int:
    return math.prod(shape)


def from_values(name: str, datatype: str, shape: list[int], values: Any, where: str) -> Tensor:
    """A tensor from JSON data: a flat or nested list of numbers, booleans or strings."""
    dtype = dtype_of(datatype, where)
    if datatype == "FP16":
        raise BadRequest(f"{where}: FP16 data can only be sent in binary form (binary_data_size)")
    if isinstance(values, np.ndarray) and (datatype == "BYTES" or array_kinds_differ(values, dtype)):
        values = values.tolist()  # read straight into numpy (numjson), but not of this datatype's kind
    elif not isinstance(values, (list, np.ndarray)):
        values = [values]
    if datatype == "BYTES":
        array = _bytes_array(values, where)
    else:
        try:
            array = np.asarray(values)
        except ValueError:
            raise BadRequest(f"{where}: data is not a rectangular list of values") from None
        if array.dtype.kind in "fO" and dtype.kind in "iu":
            # integers beyond int64 become floats (or objects) in numpy: convert them exactly
            array = _big_integers(values, dtype, where)
        if array.size:
            accepted = _JSON_KINDS[dtype.kind]
            if array.dtype.kind not in accepted:
                raise BadRequest(f"{where}: {datatype} data must be {_kind_words(dtype.kind)}")
            if dtype.kind in "iu":
                info = np.iinfo(dtype)
                if array.min() < info.min or array.max() > info.max:
                    raise BadRequest(f"{where}: a value is out of the range of {datatype}")
        array = array.astype(_NATIVE[datatype], copy=False)
    if array.size != _size(shape):
        raise BadRequest(f"{where}: shape {shape} needs {_size(shape)} values, data has {array.size}")
    return Tensor(name, datatype, shape, array.reshape(shape))


def array_kinds_differ(array: np.ndarray, dtype: np.dtype) -> bool:
    """Whether JSON numbers read as ``array`` are not what ``dtype``'s data may be (the general path says why)."""
    return array.dtype.kind not in _JSON_KINDS.get(dtype.kind, "")


def _big_integers(values: list[Any], dtype: np.dtype, where: str) -> np.ndarray:
    flat = _flatten(values)
    if not all(type(v) is int for v in flat):
        raise BadRequest(f"{where}: data must be integers")
    try:
        return np.array(values, dtype)
    except (OverflowError, ValueError):
        raise BadRequest(f"{where}: a value is out of the range of {dtype.name}") from None


def _kind_words(kind: str) -> str:
    return {"b": "booleans", "u": "integers", "i": "integers", "f": "numbers"}[kind]


def _bytes_array(values: list[Any], where: str) -> np.ndarray:
    flat = _flatten(values)
    array = np.empty(len(flat), object)
    for index, value in enumerate(flat):
        if isinstance(value, str):
            array[index] = value.encode()
        else:
            raise BadRequest(f"{where}: BYTES data must be strings, got {type(value).__name__}")
    return array


def _flatten(values: list[Any]) -> list[Any]:
    if not any(isinstance(v, list) for v in values):
        return values
    out: list[Any] = []
    for value in values:
        if isinstance(value, list):
            out.extend(_flatten(value))
        else:
            out.append(value)
    return out


def from_buffer(name: str, datatype: str, shape: list[int], buffer: bytes | memoryview, where: str) -> Tensor:
    """A tensor from its binary form (binary extension, raw_input_contents), without a copy."""
    dtype = dtype_of(datatype, where)
    count = _size(shape)
    if datatype == "BYTES":
        array = unpack_bytes(buffer, where)
        if array.size != count:
            raise BadRequest(f"{where}: shape {shape} needs {count} BYTES elements, got {array.size}")
    else:
        if len(buffer) != count * dtype.itemsize:
            raise BadRequest(
                f"{where}: shape {shape} of {datatype} needs {count * dtype.itemsize} bytes, got {len(buffer)}"
            )
        array = np.frombuffer(buffer, dtype, count)
    return Tensor(name, datatype, shape, array.reshape(shape))


def unpack_bytes(buffer: bytes | memoryview, where: str = "BYTES tensor") -> np.ndarray:
    """The elements of a BYTES tensor's binary form: each a 4-byte little-endian length, then its bytes."""
    data = bytes(buffer)
    out = []
    pos, end = 0, len(data)
    while pos < end:
        if pos + 4 > end:
            raise BadRequest(f"{where}: truncated length prefix in BYTES data")
        length = int.from_bytes(data[pos : pos + 4], "little")
        pos += 4
        if pos + length > end:
            raise BadRequest(f"{where}: a BYTES element runs past the end of the data")
        out.append(data[pos : pos + length])
        pos += length
    array = np.empty(len(out), object)
    array[:] = out
    return array


def element_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return str(value).encode()


def pack_bytes(array: np.ndarray) -> bytes:
    """The binary form of a BYTES tensor."""
    parts = []
    for value in array.reshape(-1):
        data = element_bytes(value)
        parts.append(len(data).to_bytes(4, "little"))
        parts.append(data)
    return b"".join(parts)


def tensor_buffer(tensor: Tensor) -> bytes | memoryview:
    """The binary form of any tensor (little-endian, C order), a view of its array where that
    already is the form."""
    if tensor.datatype == "BYTES":
        return pack_bytes(tensor.data)
    array = np.ascontiguousarray(tensor.data, DTYPES[tensor.datatype])
    return array.data.cast("B") if array.size else b""


def json_values(tensor: Tensor) -> Any:
    """A tensor's flat data for JSON: numeric arrays go to orjson as they are."""
    data = tensor.data
    if tensor.datatype == "BYTES":
        return [_text(v) for v in data.reshape(-1)]
    return np.ascontiguousarray(data.reshape(-1))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise BadRequest("a BYTES output is not UTF-8: ask for it in binary form (binary_data)") from None
    return value if isinstance(value, str) else str(value)


# ---------------------------------------------------------------- REST (JSON + binary extension)


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{where}: parameters must be an object")
    return value


def header_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in headers:
        if key == JSON_HEADER:
            try:
                return int(value)
            except ValueError:
                raise BadRequest("Inference-Header-Content-Length is not a number") from None
    return None


def decode_request(body: bytes, json_length: int | None = None) -> InferRequest:
    """An inference request from a REST body (JSON, or a JSON header and binary tensors)."""
    if json_length is not None:
        if not 0 <= json_length <= len(body):
            raise BadRequest(f"Inference-Header-Content-Length {json_length} is outside the body of {len(body)} bytes")
        head = body[:json_length]
        binary = memoryview(body)[json_length:]
    else:
        head, binary = body, memoryview(b"")
    message = numjson.loads(head, numjson.V2_PATHS)  # the tensors' data straight into numpy
    if message is None:
        try:
            message = orjson.loads(head)
        except orjson.JSONDecodeError as error:
            raise BadRequest(f"invalid JSON: {error}") from None
    if not isinstance(message, dict):
        raise BadRequest("an inference request must be a JSON object")
    inputs = message.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("an inference request needs a non-empty list of inputs")
    offset = 0
    tensors = []
    for index, item in enumerate(inputs):
        where = f"inputs[{index}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where} must be an object")
        name, datatype = item.get("name"), item.get("datatype")
        if not isinstance(name, str):
            raise BadRequest(f"{where}: name must be a string")
        where = f"input {name!r}"
        if datatype is None:
            raise BadRequest(f"{where}: datatype is missing")
        shape = check_shape(item.get("shape"), where)
        parameters = _parameters(item.get("parameters"), where)
        size = parameters.get(BINARY_DATA_SIZE)
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise BadRequest(f"{where}: binary_data_size must be a non-negative integer")
            if offset + size > len(binary):
                raise BadRequest(f"{where}: binary_data_size {size} runs past the end of the body")
            tensor = from_buffer(name, datatype, shape, binary[offset : offset + size], where)
            offset += size
            parameters = {k: v for k, v in parameters.items() if k != BINARY_DATA_SIZE}
        else:
            if "data" not in item:
                raise BadRequest(f"{where}: data is missing (or give parameters.binary_data_size)")
            tensor = from_values(name, datatype, shape, item["data"], where)
        tensor.parameters = parameters
        tensors.append(tensor)
    if offset != len(binary):
        raise BadRequest(f"the body has {len(binary) - offset} bytes of binary data no input claims")
    request_id = message.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest("id must be a string")
    return InferRequest(
        tensors, request_id, _parameters(message.get("parameters"), "request"), _requested(message.get("outputs"))
    )


def _requested(value: Any) -> list[RequestedOutput] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise BadRequest("outputs must be a list")
    outputs = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadRequest(f"outputs[{index}] must be an object with a name")
        outputs.append(RequestedOutput(item["name"], _parameters(item.get("parameters"), f"outputs[{index}]")))
    return outputs


def binary_outputs(request: InferRequest, response: InferResponse) -> list[bool]:
    """Which outputs go in binary form: asked per output, else by binary_data_output; FP16 always."""
    default = request.parameters.get(BINARY_DATA_OUTPUT) is True
    asked = {}
    if request.outputs:
        for output in request.outputs:
            flag = output.parameters.get(BINARY_DATA)
            if isinstance(flag, bool):
                asked[output.name] = flag
    return [t.datatype == "FP16" or asked.get(t.name, default) for t in response.outputs]


def encode_response(response: InferResponse, binary: list[bool] | None = None) -> tuple[bytes, int | None]:
    """(body, JSON header length or None): the answer in JSON, binary outputs after the header."""
    outputs = []
    chunks = []
    for index, tensor in enumerate(response.outputs):
        item: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape}
        parameters = tensor.parameters
        if binary is not None and binary[index]:
            chunk = tensor_buffer(tensor)
            chunks.append(chunk)
            parameters = {**parameters, BINARY_DATA_SIZE: len(chunk)}
        else:
            item["data"] = json_values(tensor)
        if parameters:
            item["parameters"] = parameters
        outputs.append(item)
    message: dict[str, Any] = {"model_name": response.model_name}
    if response.model_version:
        message["model_version"] = response.model_version
    if response.id is not None:
        message["id"] = response.id
    message["parameters"] = response.parameters
    message["outputs"] = outputs
    head = orjson.dumps(message, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return head, None
    return b"".join((head, *chunks)), len(head)
