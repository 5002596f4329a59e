"""KServe V1 (the TensorFlow Serving style REST protocol): JSON values <-> numpy.

A request is ``{"instances": [...]}`` (rows) or ``{"inputs": ...}`` (a list, or an
object of named columns); the answer is ``{"predictions": ...}``, an explanation
``{"explanations": ...}`` unless the model answers an object of its own.  Rectangular
lists of numbers, booleans or strings become numpy arrays; ragged or mixed ones are
handed to the model as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelserve.errors import BadRequest


def decode(message: Any) -> tuple[Any, list[str]]:
    """(X, names) of a V1 request: ``instances`` (rows) or ``inputs`` (a list, or a dict of columns)."""
    if not isinstance(message, dict):
        raise BadRequest('a V1 request must be a JSON object with "instances" or "inputs"')
    if "instances" in message:
        values = message["instances"]
        if not isinstance(values, (list, np.ndarray)):
            raise BadRequest("instances must be a list")
        return _array(values), []
    if "inputs" in message:
        values = message["inputs"]
        if isinstance(values, dict):
            return {str(k): _array(v) for k, v in values.items()}, [str(k) for k in values]
        if not isinstance(values, (list, np.ndarray)):
            raise BadRequest("inputs must be a list or an object")
        return _array(values), []
    raise BadRequest('a V1 request needs "instances" or "inputs"')


def _array(values: Any) -> Any:
    """A numpy array of numbers, booleans or strings; ragged or mixed values stay as they are."""
    if isinstance(values, np.ndarray):  # read straight into numpy (codecs/numjson.py)
        return values
    try:
        array = np.asarray(values)
    except ValueError:
        return values
    if array.dtype.kind not in "biufU":
        return values
    if array.dtype.kind == "U" and not _all_strings(values):
        return values  # numpy would turn [1, "a"] into strings
    return array


def _all_strings(values: Any) -> bool:
    if isinstance(values, list):
        return all(_all_strings(v) for v in values)
    return isinstance(values, str)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biu" or value.dtype in _FLOATS:  # orjson writes these at once
            return np.ascontiguousarray(value)
        return jsonable(value.tolist()) if value.dtype.kind in "OS" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def predictions(answer: Any) -> dict[str, Any]:
    return {"predictions": jsonable(answer)}


def explanation(answer: Any) -> Any:
    return jsonable(answer) if isinstance(answer, dict) else {"explanations": jsonable(answer)}
