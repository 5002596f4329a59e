"""The protobuf wire format of numeric arrays, read and written by numpy.

Filling or reading a repeated field element by element costs a Python call per value;
here an array's message is written as bytes in one go and merged into the message
(``MergeFromString``), and a received message is serialized once and its numbers
viewed with ``np.frombuffer``.  protobuf parses and serializes these bytes in C.

- ``Tensor`` (``repeated int32 shape = 1; repeated double values = 2``, both packed);
- ``google.protobuf.ListValue`` of nested lists of numbers (a rectangular array):
  every number is a ``Value`` with ``number_value``, so each level of nesting has a
  fixed layout that numpy can build or check at once.  Anything else (strings,
  ragged lists, null...) is left to the caller's element-by-element path.
"""

from __future__ import annotations

import numpy as np

F8 = np.dtype("<f8")

# ListValue.values (field 1, length-delimited) holding a 9-byte Value whose
# number_value (field 2, 64-bit) is the double that follows.
_LEAF_HEAD = np.frombuffer(b"\x0a\x09\x11", np.uint8)
_LEAF_SIZE = 11
NUMBER_SIZE = _LEAF_SIZE  # bytes of one number in a ListValue
_VALUES_TAG = b"\x0a"  # ListValue.values: field 1, length-delimited
_LIST_VALUE_TAG = b"\x32"  # Value.list_value: field 6, length-delimited


def varint(value: int) -> bytes:
    """A non-negative integer as a protobuf varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at ``pos``; ValueError when truncated."""
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _int32(value: int) -> int:
    # int32 fields carry negative numbers as 64-bit two's complement varints.
    return value - (1 << 64) if value >= 1 << 63 else value


# ---------------------------------------------------------------- Tensor


def tensor_bytes(array: np.ndarray) -> bytes:
    """The serialized ``Tensor`` of an array: its shape and its values as doubles."""
    parts = []
    if array.ndim:
        shape = b"".join(varint(int(d)) for d in array.shape)
        parts += [b"\x0a", varint(len(shape)), shape]
    if array.size:
        values = np.ascontiguousarray(array, dtype=F8).tobytes()
        parts += [b"\x12", varint(len(values)), values]
    return b"".join(parts)


def skip_field(data: bytes, pos: int, field: int, wire_type: int) -> int:
    """The position after the value of a field whose key was read (unknown fields and
    groups included: a reader skips what it does not know); ValueError when truncated."""
    if wire_type == 0:
        return read_varint(data, pos)[1]
    if wire_type == 1:
        end = pos + 8
    elif wire_type == 2:
        length, pos = read_varint(data, pos)
        end = pos + length
    elif wire_type == 5:
        end = pos + 4
    elif wire_type == 3:  # a group: fields up to its end-group key
        while True:
            key, pos = read_varint(data, pos)
            if key & 7 == 4:
                if key >> 3 != field:
                    raise ValueError("mismatched end of group")
                return pos
            pos = skip_field(data, pos, key >> 3, key & 7)
    else:
        raise ValueError(f"unexpected wire type {wire_type}")
    if end > len(data):
        raise ValueError("truncated field")
    return end


def read_tensor(data: bytes) -> tuple[list[int], np.ndarray]:
    """(shape, values) of a serialized ``Tensor``; the values are a writable float64 copy."""
    shape: list[int] = []
    chunks: list[np.ndarray] = []
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        field, wire_type = key >> 3, key & 7
        if field == 1 and wire_type == 2:  # packed shape
            length, pos = read_varint(data, pos)
            end = pos + length
            if end > len(data):
                raise ValueError("truncated field")
            while pos < end:
                dim, pos = read_varint(data, pos)
                shape.append(_int32(dim))
        elif field == 1 and wire_type == 0:
            number, pos = read_varint(data, pos)
            shape.append(_int32(number))
        elif field == 2 and wire_type == 2:  # packed values
            length, pos = read_varint(data, pos)
            if length % 8 or pos + length > len(data):
                raise ValueError("packed doubles of a length that is not a multiple of 8, or truncated")
            chunks.append(np.frombuffer(data, F8, length // 8, pos))
            pos += length
        elif field == 2 and wire_type == 1:
            if pos + 8 > len(data):
                raise ValueError("truncated field")
            chunks.append(np.frombuffer(data, F8, 1, pos))
            pos += 8
        else:
            pos = skip_field(data, pos, field, wire_type)
    if not chunks:
        return shape, np.empty(0, F8)
    values = chunks[0].copy() if len(chunks) == 1 else np.concatenate(chunks)
    return shape, values


# ---------------------------------------------------------------- ListValue of numbers


def _wrap(rows: np.ndarray, dim: int) -> np.ndarray:
    """Rows that are each a serialized ListValue, as the entries of parent ListValues of ``dim`` entries."""
    length = rows.shape[1]
    head = _LIST_VALUE_TAG + varint(length)
    head = _VALUES_TAG + varint(len(head) + length) + head
    entries = np.empty((rows.shape[0], len(head) + length), np.uint8)
    entries[:, : len(head)] = np.frombuffer(head, np.uint8)
    entries[:, len(head) :] = rows
    return entries.reshape(-1, dim * entries.shape[1])


def fits_list_value(array: np.ndarray) -> bool:
    """Whether ``list_value_bytes`` can write this array (numeric, no empty dimension)."""
    return array.ndim > 0 and array.size > 0 and array.dtype.kind in "iuf"


def list_value_bytes(array: np.ndarray) -> bytes:
    """The serialized ``ListValue`` (nested per dimension) of a numeric array, see ``fits_list_value``."""
    doubles = np.ascontiguousarray(array, dtype=F8).reshape(-1)
    leaves = np.empty((doubles.size, _LEAF_SIZE), np.uint8)
    leaves[:, :3] = _LEAF_HEAD
    leaves[:, 3:] = doubles.view(np.uint8).reshape(-1, 8)
    rows = leaves.reshape(-1, array.shape[-1] * _LEAF_SIZE)
    for dim in reversed(array.shape[:-1]):
        rows = _wrap(rows, dim)
    return rows.tobytes()


def _probe(data: bytes) -> list[tuple[int, bytes]] | None:
    """Per level of nesting, (entries, head of an entry) as the first entry of each level shows.

    The head of an entry is what precedes its content: the ListValue.values key and
    length, then either Value.list_value's key and length (the content is the nested
    ListValue), or Value.number_value's key (the content is the double).  None when the
    first leaf is not a number.
    """
    levels = []
    start, end = 0, len(data)
    while True:
        if start >= end or data[start] != 0x0A:
            return None
        size, pos = read_varint(data, start + 1)
        entry = pos + size - start
        if (end - start) % entry:
            return None
        if data[pos] == 0x11 and size == 9:
            levels.append(((end - start) // entry, data[start : pos + 1]))
            return levels
        if data[pos] != 0x32:
            return None
        length, inner = read_varint(data, pos + 1)
        if inner + length != pos + size:
            return None
        levels.append(((end - start) // entry, data[start:inner]))
        start, end = inner, inner + length


def read_list_value(data: bytes) -> np.ndarray | None:
    """The float64 array of a serialized ``ListValue`` of nested lists of numbers.

    None when it is anything else (strings, null, ragged or empty lists...): the
    caller then converts it element by element.  Every entry of every level must have
    the same head as the first one, so the bytes are exactly the array's layout.
    """
    try:
        levels = _probe(data)
    except (ValueError, IndexError):
        return None
    if levels is None:
        return None
    view: np.ndarray = np.frombuffer(data, np.uint8).reshape(1, -1)
    for dim, head in levels:
        if view.shape[-1] % dim:
            return None
        view = view.reshape(*view.shape[:-1], dim, view.shape[-1] // dim)
        if not (view[..., : len(head)] == np.frombuffer(head, np.uint8)).all():
            return None
        view = view[..., len(head) :]
    if view.shape[-1] != 8:
        return None
    return view.copy().view(F8).reshape(view.shape[1:-1])  # a writable copy, whatever the size


# ---------------------------------------------------------------- fields of a message


def fields(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, int, int]] | None:
    """(field number, start, end) of each length-delimited field of a serialized message, in
    order; None when any field is of another wire type (the caller then parses the message)."""
    end = len(data) if end is None else end
    out = []
    pos = start
    try:
        while pos < end:
            key = data[pos]
            if key < 0x80:
                pos += 1
            else:
                key, pos = read_varint(data, pos)
            if key & 7 != 2:
                return None
            length = data[pos]
            if length < 0x80:
                pos += 1
            else:
                length, pos = read_varint(data, pos)
            out.append((key >> 3, pos, pos + length))
            pos += length
    except (ValueError, IndexError):
        return None
    return out if pos == end else None


def length_delimited(number: int, payload: bytes) -> bytes:
    """One length-delimited field (``number`` below 16)."""
    return bytes((number << 3 | 2,)) + varint(len(payload)) + payload


def strings_bytes(number: int, strings: list[str]) -> bytes:
    """A repeated string field (``number`` below 16)."""
    tag = bytes((number << 3 | 2,))
    parts = []
    for text in strings:
        encoded = text.encode()
        parts += [tag, varint(len(encoded)), encoded]
    return b"".join(parts)
