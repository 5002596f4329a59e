"""The tensor datatypes of the Open Inference Protocol (V2) and their numpy types.

One table for the V2 codecs and for the metadata a class declares (``init_metadata``).
Numbers are little-endian; BYTES elements are Python ``bytes`` in an object array.
"""

from __future__ import annotations

import numpy as np

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
