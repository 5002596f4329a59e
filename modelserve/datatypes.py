"""The tensor datatypes of the Open Inference Protocol (V2) and their numpy types.

One table for the V2 codecs and for the metadata a class declares (``init_metadata``).
Numbers are little-endian; BYTES elements are Python ``bytes`` in an object array.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelserve.errors import BadRequest, quote

V2_DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
V2_DATATYPES = tuple(V2_DTYPES)

# What a tensor's shape may be, checked before anything is allocated for it.  Element
# counts must also match the values the request carries (each codec checks that), so a
# small request cannot ask for a large array; the one exception is TensorProto's form in
# which one value stands for every element, bounded by MAX_BROADCAST_ELEMENTS.
MAX_DIMENSIONS = 32
MAX_DIMENSION = 2**31 - 1
MAX_BROADCAST_ELEMENTS = 1 << 24


def checked_shape(shape: Any, where: str) -> tuple[list[int], int]:
    """(the shape as a list of ints, its number of elements); BadRequest unless it is a list
    of at most MAX_DIMENSIONS integers between 0 and MAX_DIMENSION."""
    if not isinstance(shape, (list, tuple)) or len(shape) > MAX_DIMENSIONS:
        raise BadRequest(f"{where}: shape must be a list of at most {MAX_DIMENSIONS} dimensions, got {quote(shape)}")
    count = 1
    for dim in shape:
        if type(dim) is not int or not 0 <= dim <= MAX_DIMENSION:
            raise BadRequest(
                f"{where}: shape must hold integers between 0 and {MAX_DIMENSION}, got {quote(shape)}"
            )
        count *= dim
    return list(shape), count
