"""TensorFlow ``TensorProto`` in its protobuf-JSON form, to and from numpy, without TensorFlow.

Numeric tensors are written as ``tensorContent`` (the raw little-endian bytes,
base64-encoded), which is exact and what TensorFlow itself produces.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np

from modelserve.errors import BadRequest

# DataType enum names of tensorflow/core/framework/types.proto and their numpy types.
DTYPES: dict[str, np.dtype[Any]] = {
    "DT_FLOAT": np.dtype("<f4"),
    "DT_DOUBLE": np.dtype("<f8"),
    "DT_INT32": np.dtype("<i4"),
    "DT_UINT8": np.dtype("u1"),
    "DT_INT16": np.dtype("<i2"),
    "DT_INT8": np.dtype("i1"),
    "DT_COMPLEX64": np.dtype("<c8"),
    "DT_INT64": np.dtype("<i8"),
    "DT_BOOL": np.dtype("?"),
    "DT_UINT16": np.dtype("<u2"),
    "DT_COMPLEX128": np.dtype("<c16"),
    "DT_HALF": np.dtype("<f2"),
    "DT_UINT32": np.dtype("<u4"),
    "DT_UINT64": np.dtype("<u8"),
}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}

# Which repeated field carries the values of each type when tensorContent is absent.
VALUE_FIELDS = {
    "DT_FLOAT": "floatVal",
    "DT_DOUBLE": "doubleVal",
    "DT_INT32": "intVal",
    "DT_UINT8": "intVal",
    "DT_INT16": "intVal",
    "DT_INT8": "intVal",
    "DT_INT64": "int64Val",
    "DT_BOOL": "boolVal",
    "DT_UINT16": "intVal",
    "DT_HALF": "halfVal",
    "DT_UINT32": "uint32Val",
    "DT_UINT64": "uint64Val",
    "DT_STRING": "stringVal",
}


def shape_of(tensor: dict[str, Any]) -> list[int]:
    dims = (tensor.get("tensorShape") or {}).get("dim") or []
    try:
        return [int(dim.get("size", 0)) for dim in dims]
    except (TypeError, ValueError, AttributeError):
        raise BadRequest(f"Invalid tftensor shape: {tensor.get('tensorShape')!r}") from None


def to_array(tensor: Any) -> np.ndarray:
    """A numpy array from a TensorProto in protobuf-JSON form."""
    if not isinstance(tensor, dict):
        raise BadRequest(f"tftensor must be an object, got {type(tensor).__name__}")
    name = tensor.get("dtype", "DT_INVALID")
    content = tensor.get("tensorContent")
    if content:
        try:
            content = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as error:
            raise BadRequest(f"Invalid tftensor tensorContent: {error}") from None
    values = tensor.get(VALUE_FIELDS.get(name, ""), [])
    if name == "DT_STRING":
        try:
            values = [base64.b64decode(v) for v in values or []]
        except (binascii.Error, TypeError):
            raise BadRequest("Invalid tftensor stringVal: not base64") from None
    return array_of(name, shape_of(tensor), content or b"", values)


def array_of(name: str, shape: list[int], content: bytes, values: Any) -> np.ndarray:
    """The array of a TensorProto's parts, from either form (protobuf JSON or message): its
    dtype's name, its shape, ``tensor_content`` (raw little-endian bytes, or empty) and the
    values of the dtype's ``*_val`` field (``bytes`` for DT_STRING)."""
    count = math.prod(shape)
    if name == "DT_STRING":
        return _fill(np.array(list(values), dtype=object), shape, count)
    dtype = DTYPES.get(name)
    if dtype is None:
        raise BadRequest(f"Unsupported tftensor dtype {name!r}")
    if content:
        try:
            return np.frombuffer(content, dtype=dtype).reshape(shape).copy()
        except ValueError as error:
            raise BadRequest(f"Invalid tftensor tensorContent: {error}") from None
    try:
        if name == "DT_HALF":  # halfVal holds the bits of each float16 in an int32
            array = np.array(values, dtype=np.int32).astype("<u2").view(np.float16)
        else:
            array = np.array(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as error:
        raise BadRequest(f"Invalid tftensor values: {error}") from None
    return _fill(array, shape, count)


def _fill(array: np.ndarray, shape: list[int], count: int) -> np.ndarray:
    # TensorProto allows one value to stand for every element.
    if array.size == 1 and count > 1:
        array = np.full(count, array[0], dtype=array.dtype)
    try:
        return array.reshape(shape)
    except ValueError as error:
        raise BadRequest(f"Invalid tftensor: {error}") from None


def from_array(array: np.ndarray) -> dict[str, Any]:
    """The protobuf-JSON form of a TensorProto holding ``array``."""
    shape = {"dim": [{"size": str(d)} for d in array.shape]}
    if array.dtype.kind in ("U", "S", "O"):
        items = [v if isinstance(v, bytes) else str(v).encode() for v in array.ravel().tolist()]
        return {"dtype": "DT_STRING", "tensorShape": shape, "stringVal": [base64.b64encode(v).decode() for v in items]}
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    name = DTYPE_NAMES.get(np.dtype(dtype))
    if name is None:
        raise BadRequest(f"Cannot encode an array of {array.dtype} as tftensor")
    content = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return {"dtype": name, "tensorShape": shape, "tensorContent": base64.b64encode(content).decode()}
