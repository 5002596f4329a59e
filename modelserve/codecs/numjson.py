"""JSON bodies whose payload arrays go straight into numpy, never through Python numbers.

``orjson.loads`` turns a list of 10,000 numbers into 10,000 Python objects, and numpy then
reads them back one by one: two thirds of the time of a big request.  Here simdjson
parses the body (validating all of it) and copies the numbers of each payload array into
one buffer in C.  Everything else in the message is converted to the Python values
orjson would give.

The result is exactly ``orjson.loads(body)`` with each array at one of the given
``paths`` replaced by ``np.array(that list)``: ints stay ``int64``, any float makes the
whole array ``float64``, values are correctly rounded as orjson rounds them.  Anything
unusual answers None and the caller takes its general path (orjson), which then gives
today's answer or error: a body simdjson refuses, duplicate keys on the way to an array,
an empty, ragged or mixed array (numbers and lists at one level), booleans, strings or
nulls, integers beyond int64, more than ``MAX_ROWS`` rows, no simdjson installed; and
bodies under ``MIN_BYTES``, which the general path reads faster.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson

try:
    import simdjson
except ImportError:  # pragma: no cover - simdjson is a dependency; without it, the general path
    simdjson = None  # type: ignore[assignment]

MAX_ROWS = 1024  # sub-arrays (all levels but the last) whose length is checked one by one
MIN_BYTES = 8192  # smaller bodies: orjson and np.array take less time than the walk here
EACH = "*"  # in a path: every element of a list

Path = tuple[str, ...]

_parser: Any = None


def _parse(body: bytes) -> Any:
    global _parser
    if _parser is None:
        _parser = simdjson.Parser()
    try:
        return _parser.parse(body)
    except RuntimeError:  # the parser is still referenced (another document in use): a new one
        _parser = simdjson.Parser()
        return _parser.parse(body)


class _Unusual(Exception):
    """The body is not one the fast path reads exactly like orjson: take the general path."""


def loads(body: bytes, paths: tuple[Path, ...]) -> Any | None:
    """``orjson.loads(body)`` with the arrays at ``paths`` as numpy arrays; None: use the general path."""
    if simdjson is None or len(body) < MIN_BYTES:
        return None
    try:
        document = _parse(body)
    except (ValueError, TypeError, RuntimeError):
        return None
    brackets = [0]
    try:
        message = _convert(document, paths, brackets)
    except (_Unusual, ValueError, TypeError, IndexError, KeyError):
        return None
    finally:
        del document
    # Every '[' of the body is one of the payload arrays' own, or one of the rest of the
    # message (an array, or a character of a string): a leaf that is itself an array
    # (``[1, [2]]``) shows as one bracket too many.
    rest = orjson.dumps(message, default=_placeholder).count(b"[")
    if _count_up_to(body, b"[", rest + brackets[0] + 1) != rest + brackets[0]:
        return None
    return message


def _count_up_to(body: bytes, byte: bytes, limit: int) -> int:
    """How many times ``byte`` occurs in ``body``, counting no further than ``limit``.

    ``bytes.find`` of one byte is memchr: with the few brackets of a payload this reads the
    body many times faster than ``bytes.count``, which looks at each byte in turn."""
    count = 0
    at = body.find(byte)
    while at >= 0 and count < limit:
        count += 1
        at = body.find(byte, at + 1)
    return count


def _placeholder(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return 0
    raise TypeError


def _convert(element: Any, paths: tuple[Path, ...], brackets: list[int]) -> Any:
    """The Python value of a simdjson element, the arrays at ``paths`` (relative to it) as numpy."""
    if not paths:
        return _python(element)
    if () in paths:
        return _array(element, brackets)
    if isinstance(element, simdjson.Object):
        keys = list(element.keys())
        if len(keys) != len(set(keys)):
            raise _Unusual  # which duplicate wins is orjson's business
        out = {}
        for key in keys:
            below = tuple(path[1:] for path in paths if path[0] == key)
            out[key] = _convert(element[key], below, brackets)
        return out
    if isinstance(element, simdjson.Array):
        below = tuple(path[1:] for path in paths if path[0] == EACH)
        return [_convert(item, below, brackets) for item in element]
    return element


def _python(element: Any) -> Any:
    if isinstance(element, simdjson.Object):
        return element.as_dict()
    if isinstance(element, simdjson.Array):
        return element.as_list()
    return element


def _array(element: Any, brackets: list[int]) -> Any:
    """The numpy array of a rectangular array of numbers (what ``np.array`` of its list gives)."""
    if not isinstance(element, simdjson.Array):
        return _python(element)  # not an array: the codec decides what it means
    shape: list[int] = []
    level = element
    while isinstance(level, simdjson.Array):
        size = len(level)
        if not size or len(shape) == 32:
            raise _Unusual  # empty (numpy's dtype rules) or deeper than numpy goes
        shape.append(size)
        level = level[0]
    if type(level) not in (int, float):
        raise _Unusual  # booleans, strings, null: numpy's own rules
    rows = [element]
    for size in shape[1:]:
        if len(rows) * len(rows[0]) > MAX_ROWS:
            raise _Unusual
        below = []
        for row in rows:
            for item in row:
                if not isinstance(item, simdjson.Array) or len(item) != size:
                    raise _Unusual  # ragged, or numbers beside lists
                below.append(item)
        rows = below
    try:
        data, dtype = element.as_buffer(of_type="i"), np.int64
    except TypeError:  # a float (or a non-number) somewhere
        data, dtype = element.as_buffer(of_type="d"), np.float64
    count = math.prod(shape)
    if data.size != count * 8:
        raise _Unusual
    brackets[0] += 1 + sum(math.prod(shape[:depth]) for depth in range(1, len(shape)))
    return np.frombuffer(data, dtype, count).reshape(shape)


SELDON_PATHS: tuple[Path, ...] = (("data", "ndarray"), ("data", "tensor", "values"))
V2_PATHS: tuple[Path, ...] = (("inputs", EACH, "data"),)
V1_PATHS: tuple[Path, ...] = (("instances",), ("inputs",))
