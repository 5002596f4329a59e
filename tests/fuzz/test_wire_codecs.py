"""Fuzzing KServe V1's JSON (codecs/kserve_v1.py) and the protobuf wire helpers of numeric
arrays (codecs/protowire.py)."""

from __future__ import annotations

import numpy as np
import orjson
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelserve.codecs import kserve_v1, messages, protowire
from tests.fuzz.conftest import examples
from tests.fuzz.strategies import ANY_JSON, NUMERIC_DTYPES, TEXT, V1_REQUESTS, arrays, from_wire
from tests.fuzz.support import clean

# ---------------------------------------------------------------- KServe V1


@given(from_wire(ANY_JSON, V1_REQUESTS))
@settings(max_examples=examples(2))
def test_any_json_value_is_a_v1_request_or_a_client_error(message: object) -> None:
    decoded = clean(kserve_v1.decode, message)
    if decoded is not None:  # an identity model's answer serializes
        X, _ = decoded
        orjson.dumps(kserve_v1.predictions(X), option=orjson.OPT_SERIALIZE_NUMPY)
        orjson.dumps(kserve_v1.explanation(X), option=orjson.OPT_SERIALIZE_NUMPY)


LIST_SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


@given(
    st.one_of(
        # numbers beyond int64 become floats in np.array (as in KServe): not round-tripped
        arrays(NUMERIC_DTYPES, LIST_SHAPES).filter(lambda a: a.dtype.kind != "u" or not a.size or a.max() < 2**63),
        # JSON cannot hold lone surrogates; numpy's str arrays drop trailing NULs
        hnp.arrays(
            np.dtype("U8"),
            LIST_SHAPES,
            elements=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8),
        ),
    )
)
def test_arrays_round_trip_as_predictions_and_instances(array: np.ndarray) -> None:
    answer = orjson.loads(orjson.dumps(kserve_v1.predictions(array), option=orjson.OPT_SERIALIZE_NUMPY))
    X, names = kserve_v1.decode({"instances": answer["predictions"]})
    assert names == []
    assert isinstance(X, np.ndarray) and X.shape == array.shape
    assert np.array_equal(X.astype(array.dtype), array)


@given(st.dictionaries(TEXT, arrays(["i8", "f8"], LIST_SHAPES), min_size=1, max_size=3))
def test_named_columns_round_trip(columns: dict[str, np.ndarray]) -> None:
    answer = orjson.loads(orjson.dumps(kserve_v1.predictions(columns), option=orjson.OPT_SERIALIZE_NUMPY))
    X, names = kserve_v1.decode({"inputs": answer["predictions"]})
    assert names == list(columns)
    for name, array in columns.items():
        assert np.array_equal(X[name], array)


# ---------------------------------------------------------------- protowire


@given(st.binary(max_size=200))
@settings(max_examples=examples(2))
def test_any_bytes_are_a_tensor_or_a_value_error(data: bytes) -> None:
    try:
        protowire.read_tensor(data)
    except ValueError:
        pass
    try:
        message = messages.Tensor.FromString(data)
    except Exception:
        return
    # what protobuf parsed, serialized again, is always readable and the same
    shape, values = protowire.read_tensor(message.SerializeToString())
    assert shape == list(message.shape)
    assert values.tobytes() == np.array(message.values, np.float64).tobytes()


@given(st.binary(max_size=200))
@settings(max_examples=examples(2))
def test_any_bytes_are_a_list_of_numbers_or_none(data: bytes) -> None:
    array = protowire.read_list_value(data)
    if array is not None:
        parsed = messages.ListValue.FromString(data)
        assert array.tolist() == json_format.MessageToDict(parsed)


@given(arrays(["i4", "f8", "f4", "u1"], hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4)))
def test_tensor_bytes_round_trip(array: np.ndarray) -> None:
    data = protowire.tensor_bytes(array)
    reference = messages.Tensor(shape=list(array.shape), values=array.astype(np.float64).ravel().tolist())
    assert data == reference.SerializeToString()
    shape, values = protowire.read_tensor(data)
    assert shape == list(array.shape)
    assert np.array_equal(values.reshape(shape), array.astype(np.float64))


@given(arrays(["i4", "f8", "f4", "u1", "bool"], LIST_SHAPES))
def test_list_value_bytes_round_trip(array: np.ndarray) -> None:
    if not protowire.fits_list_value(array):
        return
    data = protowire.list_value_bytes(array)
    reference = messages.ListValue()
    reference.extend(array.astype(np.float64).tolist())
    assert data == reference.SerializeToString()
    back = protowire.read_list_value(data)
    assert back is not None and np.array_equal(back, array.astype(np.float64))
