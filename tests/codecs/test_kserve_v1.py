"""The KServe V1 codec: instances / inputs to numpy, answers to JSON values."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from modelserve.codecs import kserve_v1
from modelserve.errors import BadRequest


def test_instances_become_arrays() -> None:
    X, names = kserve_v1.decode({"instances": [[1, 2], [3, 4]]})
    assert isinstance(X, np.ndarray) and X.shape == (2, 2) and X.dtype.kind == "i" and names == []
    X, _ = kserve_v1.decode({"instances": ["a", "b"]})
    assert X.tolist() == ["a", "b"]
    X, _ = kserve_v1.decode({"instances": [True, False]})
    assert X.dtype == bool


def test_ragged_and_mixed_stay_lists() -> None:
    assert kserve_v1.decode({"instances": [[1, 2], [3]]})[0] == [[1, 2], [3]]
    assert kserve_v1.decode({"instances": [1, "a"]})[0] == [1, "a"]
    assert kserve_v1.decode({"instances": [{"a": 1}]})[0] == [{"a": 1}]


def test_inputs_list_and_columns() -> None:
    X, names = kserve_v1.decode({"inputs": [[0.5, 1.5]]})
    assert X.tolist() == [[0.5, 1.5]] and names == []
    X, names = kserve_v1.decode({"inputs": {"a": [1, 2], "b": ["x", "y"]}})
    assert names == ["a", "b"] and X["a"].tolist() == [1, 2] and X["b"].tolist() == ["x", "y"]


@pytest.mark.parametrize("message", [[1, 2], {"instances": 3}, {"inputs": 3}, {"data": []}, None])
def test_bad_requests(message: object) -> None:
    with pytest.raises(BadRequest) as caught:
        kserve_v1.decode(message)
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("answer", "json"),
    [
        (np.array([[1.5, 2.0]]), [[1.5, 2.0]]),
        (np.array([1, 2], np.uint8), [1, 2]),
        (np.array([0.5], np.float16), [0.5]),
        (np.array([True]), [True]),
        (np.array([b"a", "b"], dtype=object), ["a", "b"]),
        (np.array(["x"]), ["x"]),
        (np.arange(6).reshape(2, 3)[:, ::2], [[0, 2], [3, 5]]),  # not contiguous
        (np.float32(2.5), 2.5),
        ([np.int64(1), {"k": np.array([1])}], [1, {"k": [1]}]),
        ("text", "text"),
    ],
)
def test_predictions_are_json(answer: object, json: object) -> None:
    encoded = orjson.dumps(kserve_v1.predictions(answer), option=orjson.OPT_SERIALIZE_NUMPY)
    assert orjson.loads(encoded) == {"predictions": json}


def test_explanations() -> None:
    assert kserve_v1.explanation({"top": np.int64(1)}) == {"top": 1}
    assert kserve_v1.explanation([1]) == {"explanations": [1]}
