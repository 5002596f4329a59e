"""Hypothesis strategies for the fuzz tests: any JSON value, and values shaped like each
protocol's messages whose every part may also be odd (a wrong type, an extreme number,
a shape that does not fit its data).

A purely random value is refused at its first field; one that looks like a message goes
deep into the codec, where the bugs are.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelserve.codecs import tftensor
from modelserve.datatypes import V2_DATATYPES

# Numbers at the edges of every integer type numpy and protobuf have, and around them.
EDGE_INTEGERS = st.sampled_from(
    [
        0,
        1,
        -1,
        2,
        3,
        127,
        128,
        255,
        256,
        -129,
        2**15,
        2**16,
        2**31 - 1,
        2**31,
        -(2**31) - 1,
        2**32,
        2**53 + 1,
        2**62,
        2**63 - 1,
        2**63,
        -(2**63),
        -(2**63) - 1,
        2**64 - 1,
        2**64,
        10**30,
        -(10**30),
    ]
)
INTEGERS = st.one_of(st.integers(-5, 5), EDGE_INTEGERS, st.integers())
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 0.5, 1e300, -1e300, 5e-324, 65504.0, 65520.0, 3.4e38, 3.5e38, 1e-45]),
)
TEXT = st.text(max_size=12)
KEYS = st.one_of(TEXT, st.sampled_from(["data", "names", "values", "shape", "name", "datatype", "parameters", "id"]))


def json_values(keys: st.SearchStrategy[str] = KEYS, max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any value a JSON document may hold (integers of any size included)."""
    leaves = st.one_of(st.none(), st.booleans(), INTEGERS, FLOATS, TEXT)
    return st.recursive(
        leaves,
        lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
        max_leaves=max_leaves,
    )


ANY_JSON = json_values()


def json_text(value: Any) -> bytes:
    """A JSON document of ``value`` (orjson cannot write integers beyond 64 bits)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        import json

        return json.dumps(value).encode()


def odd(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``strategy`` mostly, sometimes any JSON value in its place."""
    return st.one_of(strategy, strategy, strategy, ANY_JSON)


def optional_fields(required: dict[str, Any] | None = None, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return odd(st.fixed_dictionaries(required or {}, optional=fields))


SHAPES = st.lists(st.one_of(st.integers(0, 4), INTEGERS), max_size=4)
ODD_SHAPES = odd(SHAPES)
NUMBER_LISTS = st.lists(st.one_of(st.integers(-3, 3), FLOATS), max_size=8)


def nested_lists(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Flat, rectangular-ish or ragged nested lists of ``leaves``."""
    return st.recursive(st.lists(leaves, max_size=4), lambda inner: st.lists(inner, max_size=3), max_leaves=16)


def base64_text(max_size: int = 24) -> st.SearchStrategy[str]:
    """Base64 of any bytes, or text that is not base64."""
    binary = st.binary(max_size=max_size)
    return st.one_of(binary.map(lambda b: base64.b64encode(b).decode()), TEXT, st.sampled_from(["!!!", "AA=", "AAA"]))


# ---------------------------------------------------------------- Seldon (JSON)

TF_DTYPES = st.one_of(st.sampled_from([*tftensor.DTYPES, "DT_STRING", "DT_INVALID", "DT_BFLOAT16"]), TEXT)
TF_VALUE_FIELDS = sorted(set(tftensor.VALUE_FIELDS.values()))

TFTENSORS = optional_fields(
    dtype=odd(TF_DTYPES),
    tensorShape=optional_fields(dim=odd(st.lists(optional_fields(size=odd(INTEGERS.map(str) | INTEGERS)), max_size=4))),
    tensorContent=odd(base64_text(32)),
    **{
        name: odd(st.lists(st.one_of(INTEGERS, FLOATS, base64_text(), st.booleans()), max_size=6))
        for name in TF_VALUE_FIELDS
    },
)
SELDON_DATA = optional_fields(
    names=odd(st.lists(TEXT, max_size=3)),
    tensor=optional_fields(shape=ODD_SHAPES, values=odd(NUMBER_LISTS)),
    ndarray=odd(nested_lists(st.one_of(st.integers(-3, 3), FLOATS, TEXT, st.booleans(), st.none()))),
    tftensor=TFTENSORS,
)
META = optional_fields(
    puid=odd(TEXT),
    tags=odd(st.dictionaries(TEXT, ANY_JSON, max_size=3)),
    routing=odd(st.dictionaries(TEXT, INTEGERS, max_size=2)),
    requestPath=odd(st.dictionaries(TEXT, TEXT, max_size=2)),
    metrics=odd(
        st.lists(
            optional_fields(key=odd(TEXT), type=odd(st.sampled_from(["COUNTER", "GAUGE", "TIMER"])), value=odd(FLOATS)),
            max_size=2,
        )
    ),
)
SELDON_MESSAGES = optional_fields(
    data=SELDON_DATA, jsonData=ANY_JSON, strData=odd(TEXT), binData=odd(base64_text()), meta=META
)
FEEDBACK = optional_fields(request=SELDON_MESSAGES, response=SELDON_MESSAGES, truth=SELDON_MESSAGES, reward=odd(FLOATS))

# ---------------------------------------------------------------- V2 (JSON)

V2_DATATYPE_NAMES = st.one_of(st.sampled_from(V2_DATATYPES), TEXT)
V2_DATA = odd(nested_lists(st.one_of(st.integers(-3, 3), INTEGERS, FLOATS, TEXT, st.booleans())))
V2_PARAMETERS = odd(
    st.dictionaries(
        st.one_of(TEXT, st.sampled_from(["binary_data_size", "binary_data", "binary_data_output", "content_type"])),
        st.one_of(INTEGERS, st.booleans(), TEXT, ANY_JSON),
        max_size=3,
    )
)
V2_INPUTS = optional_fields(
    name=odd(TEXT), datatype=odd(V2_DATATYPE_NAMES), shape=ODD_SHAPES, data=V2_DATA, parameters=V2_PARAMETERS
)
V2_REQUESTS = optional_fields(
    inputs=odd(st.lists(V2_INPUTS, max_size=3)),
    id=odd(TEXT),
    parameters=V2_PARAMETERS,
    outputs=odd(st.lists(optional_fields(name=odd(TEXT), parameters=V2_PARAMETERS), max_size=2)),
)

# ---------------------------------------------------------------- KServe V1

V1_REQUESTS = optional_fields(
    instances=odd(nested_lists(st.one_of(st.integers(-3, 3), FLOATS, TEXT, st.booleans(), st.none()))),
    inputs=odd(
        st.one_of(
            nested_lists(st.one_of(st.integers(-3, 3), FLOATS, TEXT, st.booleans())),
            st.dictionaries(TEXT, nested_lists(st.one_of(st.integers(-3, 3), FLOATS, TEXT)), max_size=3),
        )
    ),
)

# ---------------------------------------------------------------- arrays (for round trips)

NUMERIC_DTYPES = ["bool", "u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f2", "f4", "f8"]
ARRAY_SHAPES = hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4)


def arrays(dtypes: list[str], shape: st.SearchStrategy[tuple[int, ...]] = ARRAY_SHAPES, finite: bool = True) -> Any:
    """numpy arrays of one of ``dtypes`` (little-endian), every value of the dtype possible."""
    return st.sampled_from(dtypes).flatmap(
        lambda dtype: hnp.arrays(
            np.dtype(dtype).newbyteorder("<") if np.dtype(dtype).itemsize > 1 else np.dtype(dtype),
            shape,
            elements={"allow_nan": False, "allow_infinity": False} if finite and dtype[0] == "f" else None,
        )
    )


def bytes_arrays(shape: st.SearchStrategy[tuple[int, ...]] = ARRAY_SHAPES, text: bool = False, nul: bool = True) -> Any:
    """Object arrays of ``bytes`` (UTF-8 text only, when ``text``; without NUL characters
    unless ``nul``: numpy's str arrays drop trailing ones, so Seldon's ndarray, read by
    ``np.array`` as the original reads it, does too)."""
    if text:
        characters = st.characters(codec="utf-8", exclude_characters="" if nul else "\x00")
        element = st.text(characters, max_size=12).map(str.encode)
    else:
        element = st.binary(max_size=8)

    def build(dims: tuple[int, ...]) -> Any:
        size = int(np.prod(dims))
        return st.lists(element, min_size=size, max_size=size).map(lambda items: _object_array(items, dims))

    return shape.flatmap(build)


def _object_array(items: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    array = np.empty(len(items), object)
    array[:] = items
    return array.reshape(shape)


def wire(value: Any) -> Any:
    """``value`` as the server gets it: written as JSON and read back by orjson (whose integers
    stop at 64 bits: larger ones come back as floats)."""
    return orjson.loads(json_text(value))


def from_wire(*strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(*strategies).map(wire)


# ---------------------------------------------------------------- protobuf messages of any type

# Strings a message field often gets, so that random messages also name the served model,
# a datatype, a tensor dtype... and go past the first check.
VOCABULARY = st.sampled_from(
    [
        "fuzzed",
        "3",
        "",
        "input-0",
        *V2_DATATYPES,
        *tftensor.DTYPES,
        "DT_STRING",
        "COUNTER",
        "GAUGE",
        "binary_data_size",
        "content_type",
        "0",
    ]
)
_PROTO_INTEGERS = {
    32: st.one_of(st.integers(-3, 5), st.integers(-(2**31), 2**31 - 1)),
    64: st.one_of(
        st.integers(-3, 5), EDGE_INTEGERS.filter(lambda i: -(2**63) <= i < 2**63), st.integers(-(2**63), 2**63 - 1)
    ),
}
# Unknown fields (a varint, a length-delimited field, a group) that a message may carry:
# protobuf keeps them, and codecs reading serialized messages must skip them.
UNKNOWN_FIELDS = st.sampled_from(
    [b"\xf8\x3e\x01", b"\xfa\x3e\x02ab", b"\xfb\x3e\xf8\x3e\x05\xfc\x3e", b"\xfd\x3e\x00\x00\x00\x00"]
)


def _scalar(field: Any) -> st.SearchStrategy[Any]:
    from google.protobuf.descriptor import FieldDescriptor as F

    kind = field.type
    if kind in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return st.one_of(st.integers(-3, 3).map(float), st.floats(width=32 if kind == F.TYPE_FLOAT else 64))
    if kind in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
        return _PROTO_INTEGERS[64]
    if kind in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return st.one_of(st.integers(0, 5), st.integers(0, 2**64 - 1))
    if kind in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return _PROTO_INTEGERS[32]
    if kind in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return st.one_of(st.integers(0, 5), st.integers(0, 2**32 - 1))
    if kind == F.TYPE_BOOL:
        return st.booleans()
    if kind == F.TYPE_STRING:
        return st.one_of(VOCABULARY, TEXT)
    if kind == F.TYPE_BYTES:
        return st.binary(max_size=24)
    if kind == F.TYPE_ENUM:
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), st.integers(-1, 40))
    raise AssertionError(f"no strategy for field type {kind}")


@st.composite
def protobuf_messages(draw: st.DrawFn, message_class: Any, depth: int = 5) -> Any:
    """A message of ``message_class`` whose fields are set at random (oneofs: at most one;
    nested messages down to ``depth``), sometimes with unknown fields."""
    message = message_class()
    _fill(draw, message, depth)
    return message


def _fill(draw: st.DrawFn, message: Any, depth: int) -> None:
    descriptor = message.DESCRIPTOR
    chosen_oneofs = {oneof.name: draw(st.sampled_from([None, *oneof.fields])) for oneof in descriptor.oneofs}
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and chosen_oneofs[oneof.name] is not field:
            continue
        if oneof is None and not draw(st.booleans()):
            continue
        _set(draw, message, field, depth)
    if draw(st.integers(0, 9)) == 0:
        message.MergeFromString(draw(UNKNOWN_FIELDS))


def _set(draw: st.DrawFn, message: Any, field: Any, depth: int) -> None:
    from google.protobuf.descriptor import FieldDescriptor as F

    is_message = field.type == F.TYPE_MESSAGE
    if is_message and depth <= 0:
        return
    target = getattr(message, field.name)
    if is_message and field.message_type.GetOptions().map_entry:
        key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        for key in draw(st.lists(_scalar(key_field), max_size=2)):
            if value_field.type == F.TYPE_MESSAGE:
                _fill(draw, target[key], depth - 1)
            else:
                target[key] = draw(_scalar(value_field))
    elif field.is_repeated:
        for _ in range(draw(st.integers(0, 3))):
            if is_message:
                _fill(draw, target.add(), depth - 1)
            else:
                target.append(draw(_scalar(field)))
    elif is_message:
        target.SetInParent()
        _fill(draw, target, depth - 1)
    else:
        setattr(message, field.name, draw(_scalar(field)))
