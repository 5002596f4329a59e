"""The Open Inference Protocol (V2) over gRPC: ModelInferRequest/Response <-> the V2 tensors.

Typed contents are read into numpy at once where the wire allows it: FP32 and FP64 are
packed fixed-size numbers, viewed in the serialized contents with ``np.frombuffer``;
the varint kinds are converted by numpy from protobuf's repeated container.
``raw_input_contents`` are viewed without a copy too (read-only arrays, like FP32/FP64): in a big
request they are split off the serialized message and viewed where they arrived
(``split_raw_inputs``), since protobuf would copy each twice.  An answer goes back in
``raw_output_contents`` when the request came in raw form (or an output is FP16, which has no
typed field), else in the typed contents of each output; ``response_bytes`` writes raw contents
after protobuf's bytes of the rest, copying each array once.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from modelserve.codecs import messages
from modelserve.codecs.protowire import fields, read_varint, skip_field, varint
from modelserve.codecs.v2 import (
    DTYPES,
    InferRequest,
    InferResponse,
    RequestedOutput,
    Tensor,
    check_shape,
    dtype_of,
    element_bytes,
    from_buffer,
    tensor_buffer,
)
from modelserve.errors import BadRequest

SERVICE = "inference.GRPCInferenceService"
_METHODS = messages.POOL.FindServiceByName(SERVICE).methods
# The request and the response message class of every method of the service, by method name.
REQUESTS = {m.name: messages.message_class(m.input_type.full_name) for m in _METHODS}
RESPONSES = {m.name: messages.message_class(m.output_type.full_name) for m in _METHODS}
ModelInferRequest = REQUESTS["ModelInfer"]
ModelInferResponse = RESPONSES["ModelInfer"]
InferParameter = messages.message_class("inference.InferParameter")

# datatype -> the typed contents field that carries it, and its field number
CONTENTS_FIELD = {
    "BOOL": ("bool_contents", 1),
    "INT8": ("int_contents", 2),
    "INT16": ("int_contents", 2),
    "INT32": ("int_contents", 2),
    "INT64": ("int64_contents", 3),
    "UINT8": ("uint_contents", 4),
    "UINT16": ("uint_contents", 4),
    "UINT32": ("uint_contents", 4),
    "UINT64": ("uint64_contents", 5),
    "FP32": ("fp32_contents", 6),
    "FP64": ("fp64_contents", 7),
    "BYTES": ("bytes_contents", 8),
}
_FIXED: dict[str, np.dtype] = {"FP32": np.dtype("<f4"), "FP64": np.dtype("<f8")}
_WIDE = {
    "BOOL": np.bool_,
    "INT8": np.int32,
    "INT16": np.int32,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint32,
    "UINT16": np.uint32,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
}


# ---------------------------------------------------------------- parameters


def parameters_of(field: Any) -> dict[str, Any]:
    """A ``map<string, InferParameter>`` as plain values."""
    if not field:
        return {}
    out = {}
    for key, parameter in field.items():
        choice = parameter.WhichOneof("parameter_choice")
        out[key] = getattr(parameter, choice) if choice else None
    return out


def fill_parameters(field: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        parameter = field[key]
        if isinstance(value, bool):
            parameter.bool_param = value
        elif isinstance(value, int):
            if value >= 1 << 63:
                parameter.uint64_param = value
            else:
                parameter.int64_param = value
        elif isinstance(value, float):
            parameter.double_param = value
        elif isinstance(value, str):
            parameter.string_param = value
        else:
            parameter.string_param = json.dumps(value)


def metadata_message(metadata: dict[str, Any]) -> Any:
    """A ModelMetadataResponse from the V2 model metadata dict (the REST answer)."""
    message = RESPONSES["ModelMetadata"](
        name=metadata["name"], versions=metadata["versions"], platform=metadata["platform"]
    )
    for key in ("inputs", "outputs"):
        for tensor in metadata[key]:
            getattr(message, key).add(name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"])
    fill_parameters(message.parameters, metadata["parameters"])
    return message


# ---------------------------------------------------------------- requests


_RAW_INPUT = 7  # ModelInferRequest.raw_input_contents
_RAW_INPUT_TAG = b"\x3a"  # its tag: field 7, length-delimited
_RAW_OUTPUT_TAG = b"\x32"  # ModelInferResponse.raw_output_contents (field 6, length-delimited): its last field


def split_raw_inputs(data: bytes) -> tuple[bytes, list[memoryview]] | None:
    """A serialized ModelInferRequest as (itself without raw_input_contents, views of those
    contents in ``data``): protobuf would copy each of them twice.  None: no raw contents, or
    a field the split does not read (the caller parses the whole message)."""
    if _RAW_INPUT_TAG not in data:  # memchr: typed requests are not walked in Python
        return None
    spans = fields(data)
    if not spans or all(number != _RAW_INPUT for number, _, _ in spans):
        return None
    view = memoryview(data)
    rest, raw = [], []
    field_start = 0  # fields are contiguous: each one's tag begins where the previous ended
    for number, start, end in spans:
        if number == _RAW_INPUT:
            raw.append(view[start:end])
        else:
            rest.append(view[field_start:end])
        field_start = end
    return b"".join(rest), raw


def decode_request(message: Any, raw_inputs: list[memoryview] | None = None) -> InferRequest:
    """The V2 request of a ModelInferRequest; ``raw_inputs``: its raw contents, split off
    beforehand (``split_raw_inputs``)."""
    raw = message.raw_input_contents if raw_inputs is None else raw_inputs
    if raw and len(raw) != len(message.inputs):
        raise BadRequest(f"raw_input_contents has {len(raw)} entries for {len(message.inputs)} inputs")
    if not message.inputs:
        raise BadRequest("an inference request needs at least one input")
    tensors = []
    for index, item in enumerate(message.inputs):
        where = f"input {item.name!r}"
        datatype = item.datatype
        dtype_of(datatype, where)
        shape = check_shape(list(item.shape), where)
        if raw:
            if item.HasField("contents") and item.contents.ByteSize():
                raise BadRequest(f"{where}: give either contents or raw_input_contents, not both")
            tensor = from_buffer(item.name, datatype, shape, raw[index], where)
        else:
            tensor = Tensor(item.name, datatype, shape, _typed(item, datatype, shape, where))
        tensor.parameters = parameters_of(item.parameters)
        tensors.append(tensor)
    outputs = [RequestedOutput(o.name, parameters_of(o.parameters)) for o in message.outputs] or None
    return InferRequest(tensors, message.id or None, parameters_of(message.parameters), outputs)


def _typed(item: Any, datatype: str, shape: list[int], where: str) -> np.ndarray:
    if datatype == "FP16":
        raise BadRequest(f"{where}: FP16 has no typed contents: send it in raw_input_contents")
    name, number = CONTENTS_FIELD[datatype]
    contents = item.contents
    count = math.prod(shape)
    if datatype in _FIXED:
        data = contents.SerializeToString()
        array = _packed_fixed(data, number, _FIXED[datatype])
        if array is None:  # another field is there: a known one is refused, unknown ones skipped
            _only_field(contents, name, datatype, where)
            array = _packed_fixed(data, number, _FIXED[datatype], skip_unknown=True)
            assert array is not None
    else:
        _only_field(contents, name, datatype, where)
        if datatype == "BYTES":
            array = np.empty(len(contents.bytes_contents), object)
            array[:] = list(contents.bytes_contents)
        else:
            values = getattr(contents, name)
            array = np.fromiter(values, _WIDE[datatype], len(values))
            target = DTYPES[datatype]
            if array.dtype != target:
                if array.size:
                    info = np.iinfo(target)
                    if array.min() < info.min or array.max() > info.max:
                        raise BadRequest(f"{where}: a value is out of the range of {datatype}")
                array = array.astype(target)
    if array.size != count:
        raise BadRequest(f"{where}: shape {shape} needs {count} values, contents have {array.size}")
    return array.reshape(shape)


def _only_field(contents: Any, name: str, datatype: str, where: str) -> None:
    """BadRequest when the contents carry values in another field than the datatype's."""
    for field, _ in contents.ListFields():
        if field.name != name:
            raise BadRequest(f"{where}: a {datatype} tensor carries its values in {name}, not {field.name}")


def _packed_fixed(data: bytes, number: int, dtype: np.dtype, skip_unknown: bool = False) -> np.ndarray | None:
    """The values of a packed fixed-size field in serialized contents; None when another field
    is there (``skip_unknown``: fields unknown to the message, valid protobuf, are skipped)."""
    chunks = []
    pos = 0
    key = number << 3 | 2
    while pos < len(data):
        if data[pos] != key:
            if not skip_unknown:
                return None
            field, pos = read_varint(data, pos)
            pos = skip_field(data, pos, field >> 3, field & 7)
            continue
        length, pos = read_varint(data, pos + 1)
        chunks.append(np.frombuffer(data, dtype, length // dtype.itemsize, pos))
        pos += length
    if not chunks:
        return np.empty(0, dtype)
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


# ---------------------------------------------------------------- responses


def encode_response(response: InferResponse, raw: bool) -> Any:
    """The ModelInferResponse; ``raw``: outputs in raw_output_contents (forced by FP16 outputs)."""
    raw = raw or _forced_raw(response)
    message = _response_message(response, typed=not raw)
    if raw:
        message.raw_output_contents.extend(bytes(tensor_buffer(tensor)) for tensor in response.outputs)
    return message


def response_bytes(response: InferResponse, raw: bool) -> bytes:
    """``encode_response(response, raw).SerializeToString()``, each raw output copied once:
    raw_output_contents is the message's last field, so it is written after protobuf's bytes."""
    if not (raw or _forced_raw(response)):
        return _response_message(response, typed=True).SerializeToString()
    parts: list[bytes | memoryview] = [_response_message(response, typed=False).SerializeToString()]
    for tensor in response.outputs:
        contents = tensor_buffer(tensor)
        parts += (_RAW_OUTPUT_TAG, varint(len(contents)), contents)
    return b"".join(parts)


def _forced_raw(response: InferResponse) -> bool:
    return any(t.datatype == "FP16" for t in response.outputs)


def _response_message(response: InferResponse, typed: bool) -> Any:
    """The ModelInferResponse; ``typed``: with each output's values in its contents."""
    message = ModelInferResponse(model_name=response.model_name, model_version=response.model_version or "")
    if response.id:
        message.id = response.id
    if response.parameters:
        fill_parameters(message.parameters, response.parameters)
    for tensor in response.outputs:
        output = message.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        if tensor.parameters:
            fill_parameters(output.parameters, tensor.parameters)
        if typed:
            _fill_typed(output.contents, tensor)
    return message


def _fill_typed(contents: Any, tensor: Tensor) -> None:
    name, number = CONTENTS_FIELD[tensor.datatype]
    flat = tensor.data.reshape(-1)
    if not flat.size:
        return
    if tensor.datatype in _FIXED:
        data = np.ascontiguousarray(flat, _FIXED[tensor.datatype]).tobytes()
        contents.MergeFromString(bytes([number << 3 | 2]) + varint(len(data)) + data)
    elif tensor.datatype == "BYTES":
        contents.bytes_contents.extend(element_bytes(v) for v in flat)
    else:
        getattr(contents, name).extend(flat.tolist())


__all__ = [
    "REQUESTS",
    "RESPONSES",
    "SERVICE",
    "decode_request",
    "encode_response",
    "metadata_message",
    "response_bytes",
    "split_raw_inputs",
]
