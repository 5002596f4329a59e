import base64

import numpy as np
import pytest

from modelserve.codecs import tftensor
from modelserve.errors import BadRequest


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "int8", "bool", "float16"])
def test_round_trip(dtype: str) -> None:
    array = (np.arange(6) % 3).astype(dtype).reshape(2, 3)
    encoded = tftensor.from_array(array)
    assert encoded["tensorShape"] == {"dim": [{"size": "2"}, {"size": "3"}]}
    decoded = tftensor.to_array(encoded)
    assert decoded.dtype == array.dtype and np.array_equal(decoded, array)


def test_typed_value_fields() -> None:
    shape = {"dim": [{"size": "2"}]}
    assert tftensor.to_array({"dtype": "DT_FLOAT", "tensorShape": shape, "floatVal": [1, 2]}).tolist() == [1.0, 2.0]
    assert tftensor.to_array({"dtype": "DT_INT64", "tensorShape": shape, "int64Val": ["3", "4"]}).tolist() == [3, 4]
    assert tftensor.to_array({"dtype": "DT_INT32", "tensorShape": shape, "intVal": [7]}).tolist() == [7, 7]


def test_strings() -> None:
    encoded = tftensor.from_array(np.array(["ab", "c"]))
    assert encoded["stringVal"] == [base64.b64encode(b"ab").decode(), base64.b64encode(b"c").decode()]
    assert tftensor.to_array(encoded).tolist() == [b"ab", b"c"]


@pytest.mark.parametrize(
    "tensor",
    [
        {"dtype": "DT_NOPE"},
        {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "3"}]}, "floatVal": [1, 2]},
        {"dtype": "DT_FLOAT", "tensorContent": "!!"},
        "x",
        # found by tests/fuzz: each was a TypeError or an AttributeError (a 500)
        {"dtype": ["DT_FLOAT"]},
        {"dtype": "DT_FLOAT", "tensorContent": [1]},
        {"dtype": "DT_STRING", "stringVal": [[]]},
        {"dtype": "DT_STRING", "stringVal": 5},
        {"dtype": "DT_STRING", "stringVal": ["!!"]},
        {"dtype": "DT_FLOAT", "tensorShape": [1]},
        {"dtype": "DT_FLOAT", "tensorShape": {"dim": {"size": "1"}}},
    ],
)
def test_invalid(tensor: object) -> None:
    with pytest.raises(BadRequest):
        tftensor.to_array(tensor)
