"""codecs/numjson.py: a body read with its payload arrays straight into numpy is exactly what
orjson and ``np.array`` make of it, or None (the general path)."""

from __future__ import annotations

import random
import struct
from typing import Any

import numpy as np
import orjson
import pytest

from modelserve.codecs import numjson
from modelserve.codecs.numjson import EACH, SELDON_PATHS, V1_PATHS, V2_PATHS


@pytest.fixture(autouse=True)
def every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path for bodies of any size (by default only from ``MIN_BYTES``)."""
    monkeypatch.setattr(numjson, "MIN_BYTES", 0)


def reference(body: bytes, paths: tuple[tuple[str, ...], ...]) -> Any:
    """orjson's message with the arrays at ``paths`` as ``np.array`` makes them."""

    def walk(value: Any, below: tuple[tuple[str, ...], ...]) -> Any:
        if () in below and isinstance(value, list):
            return np.array(value)
        if isinstance(value, dict):
            return {k: walk(v, tuple(p[1:] for p in below if p and p[0] == k)) for k, v in value.items()}
        if isinstance(value, list) and below:
            return [walk(v, tuple(p[1:] for p in below if p and p[0] == EACH)) for v in value]
        return value

    return walk(orjson.loads(body), paths)


def same(got: Any, want: Any) -> bool:
    if isinstance(want, np.ndarray):
        return (
            isinstance(got, np.ndarray)
            and got.dtype == want.dtype
            and got.shape == want.shape
            and got.tobytes() == want.tobytes()  # bit for bit: -0.0, the last digit of every float
        )
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(same, got, want))
    return type(got) is type(want) and got == want


def random_float(rng: random.Random) -> float:
    kind = rng.random()
    if kind < 0.2:
        return struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]  # any bits
    if kind < 0.3:
        return rng.choice([0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1e22])
    return rng.uniform(-1e6, 1e6)


def random_array(rng: random.Random, ints: bool) -> list[Any]:
    shape = [rng.randint(1, 5) for _ in range(rng.randint(1, 3))]
    count = int(np.prod(shape))
    if ints:
        flat: list[Any] = [rng.randint(-(2**63), 2**63 - 1) if rng.random() < 0.1 else rng.randint(-9, 9)
                           for _ in range(count)]
    else:
        flat = [random_float(rng) if rng.random() < 0.8 else rng.choice([rng.randint(-5, 5), rng.getrandbits(63)])
                for _ in range(count)]
        flat = [v if not isinstance(v, float) or np.isfinite(v) else 1.5 for v in flat]
    return np.array(flat, dtype=object).reshape(shape).tolist()  # type: ignore[no-any-return]


def test_random_messages_read_exactly_like_orjson() -> None:
    rng = random.Random(15)
    fast = 0
    for _ in range(400):
        payload = random_array(rng, ints=rng.random() < 0.3)
        meta = {"tags": {"x[": [1, "[", {"y": [2.5]}]}, "puid": "p"} if rng.random() < 0.5 else {}
        body = orjson.dumps({"data": {"names": ["a", "b["], "ndarray": payload}, "meta": meta})
        if rng.random() < 0.3:  # spaces and newlines between the numbers
            body = body.replace(b",", b" ,\n ")
        got = numjson.loads(body, SELDON_PATHS)
        if got is not None:
            fast += 1
            assert same(got, reference(body, SELDON_PATHS)), body
    assert fast > 300  # the fast path is the common one


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        (b'{"data": {"ndarray": [[1.5, 2, 3e5, -0.0, -0]]}, "meta": {}}', SELDON_PATHS),
        (b'{"data": {"ndarray": [[1, 2], [3, -4]]}}', SELDON_PATHS),
        (b'{"data": {"names": ["t:0"], "tensor": {"shape": [1, 2], "values": [0.5, 2]}}}', SELDON_PATHS),
        (b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [2], "data": [1.5, 2]},'
         b' {"name": "b", "datatype": "INT64", "shape": [1, 2], "data": [[7, 9223372036854775807]]}]}', V2_PATHS),
        (b'{"instances": [[1.0, 2.0], [3.0, 4.5]]}', V1_PATHS),
        (b'{"inputs": [1, 2, 3]}', V1_PATHS),
    ],
)
def test_read_straight_into_numpy(body: bytes, paths: tuple[tuple[str, ...], ...]) -> None:
    got = numjson.loads(body, paths)
    assert got is not None
    assert same(got, reference(body, paths))


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": {"ndarray": [1, [2]]}}',  # numbers beside a list
        b'{"data": {"ndarray": [[1, [2]]]}}',  # a leaf that is a list of one
        b'{"data": {"ndarray": [[1, 2, 3], [4, 5], [6, 7, 8, 9]]}}',  # ragged, though 9 = 3 x 3
        b'{"data": {"ndarray": [[1], []]}}',
        b'{"data": {"ndarray": []}}',  # numpy makes it float64
        b'{"data": {"ndarray": [[]]}}',
        b'{"data": {"ndarray": [true, false]}}',
        b'{"data": {"ndarray": [1, null]}}',
        b'{"data": {"ndarray": ["a", "b"]}}',
        b'{"data": {"ndarray": [9223372036854775808]}}',  # uint64 in numpy
        b'{"data": {"ndarray": [18446744073709551616]}}',
        b'{"data": {"ndarray": [1]}, "data": {"ndarray": [2]}}',  # which one wins is orjson's rule
        b'{"data": {"ndarray": [1], "ndarray": [2]}}',
        b'{"data": {"ndarray": [1e400]}}',
        b'{"data": {"ndarray": [01]}}',
        b'{"data": {"ndarray": [1.]}}',
        b'{"data": {"ndarray": [1]}} trailing',
        b'{"data": {"ndarray": [1]}, "strData": "\\u005b"}',  # a bracket the body does not show as one
        b"",
        b"not json",
    ],
)
def test_anything_unusual_takes_the_general_path(body: bytes) -> None:
    assert numjson.loads(body, SELDON_PATHS) is None


def test_many_rows_take_the_general_path() -> None:
    rows = [[float(i), 1.0] for i in range(numjson.MAX_ROWS + 1)]
    assert numjson.loads(orjson.dumps({"data": {"ndarray": rows}}), SELDON_PATHS) is None
    rows = rows[: numjson.MAX_ROWS]
    assert numjson.loads(orjson.dumps({"data": {"ndarray": rows}}), SELDON_PATHS) is not None


def test_values_that_are_not_arrays_are_left_to_the_codec() -> None:
    assert numjson.loads(b'{"data": {"ndarray": 5}}', SELDON_PATHS) == {"data": {"ndarray": 5}}
    assert numjson.loads(b'{"inputs": {"a": [1, 2]}}', V1_PATHS) == {"inputs": {"a": [1, 2]}}


def test_small_bodies_are_left_to_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numjson, "MIN_BYTES", 8192)
    small = orjson.dumps({"data": {"ndarray": [[1.5] * 100]}})
    assert numjson.loads(small, SELDON_PATHS) is None
    big = orjson.dumps({"data": {"ndarray": [[1.5] * 3000]}})
    assert len(big) >= 8192 and numjson.loads(big, SELDON_PATHS) is not None


@pytest.mark.parametrize(
    ("body", "limit", "count"), [(b"", 3, 0), (b"a[b[c[", 9, 3), (b"[[[[[", 3, 3), (b"[" * 40, 41, 40)]
)
def test_brackets_are_counted_up_to_the_limit(body: bytes, limit: int, count: int) -> None:
    assert numjson._count_up_to(body, b"[", limit) == count
