"""The UPI v1 (``caraml.upi.v1``) gRPC messages the bench needs, built from a hand-written descriptor.

Only the fields the workloads use, numbered as in the public ``caraml/upi/v1/upi.proto`` and
``table.proto`` (checked against caraml-upi-protos 1.0.0); unknown fields are kept by protobuf,
so a server's extra fields (metadata, context) do no harm.  The request is one table of one row
of double columns ``f0 .. f{n-1}`` (a row of features, the way UPI carries them).
"""

from __future__ import annotations

from bench.descriptors import Field, Table, message_classes

METHOD = "/caraml.upi.v1.UniversalPredictionService/PredictValues"
TYPE_DOUBLE = 1

_F = Field
_MESSAGES: Table = {
    # name: [(field, number, type, label, type_name)]
    "Value": [
        ("double_value", 1, _F.TYPE_DOUBLE, _F.LABEL_OPTIONAL, ""),
        ("integer_value", 2, _F.TYPE_INT64, _F.LABEL_OPTIONAL, ""),
    ],
    "Row": [
        ("row_id", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
        ("values", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".caraml.upi.v1.Value"),
    ],
    "Column": [
        ("name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
        ("type", 2, _F.TYPE_INT32, _F.LABEL_OPTIONAL, ""),  # an enum on the wire is a varint
    ],
    "Table": [
        ("name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
        ("columns", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".caraml.upi.v1.Column"),
        ("rows", 3, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".caraml.upi.v1.Row"),
    ],
    "RequestMetadata": [("prediction_id", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, "")],
    "PredictValuesRequest": [
        ("prediction_table", 1, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, ".caraml.upi.v1.Table"),
        ("target_name", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
        ("metadata", 10, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, ".caraml.upi.v1.RequestMetadata"),
    ],
    "PredictValuesResponse": [
        ("prediction_result_table", 1, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, ".caraml.upi.v1.Table"),
        ("target_name", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
    ],
}


_CLASSES = message_classes("bench_upi.proto", "caraml.upi.v1", _MESSAGES)
PredictValuesRequest = _CLASSES["PredictValuesRequest"]
PredictValuesResponse = _CLASSES["PredictValuesResponse"]


def request(values: list[float]) -> bytes:
    """One row of ``len(values)`` double features."""
    message = PredictValuesRequest(target_name="prediction")
    message.metadata.prediction_id = "bench"
    table = message.prediction_table
    table.name = "features"
    table.columns.extend(_CLASSES["Column"](name=f"f{i}", type=TYPE_DOUBLE) for i in range(len(values)))
    row = table.rows.add(row_id="0")
    row.values.extend(_CLASSES["Value"](double_value=v) for v in values)
    return bytes(message.SerializeToString())


def answer(values: list[float]) -> bytes:
    """What the bench's MLflow models answer: a result table of one row (the bench's check reads only values)."""
    message = PredictValuesResponse(target_name="prediction")
    table = message.prediction_result_table
    table.name = "features"
    table.columns.extend(_CLASSES["Column"](name=f"f{i}", type=TYPE_DOUBLE) for i in range(len(values)))
    table.rows.add(row_id="0").values.extend(_CLASSES["Value"](double_value=v) for v in values)
    return bytes(message.SerializeToString())


def values(body: bytes) -> list[float]:
    """The result table's doubles, row after row."""
    table = PredictValuesResponse.FromString(body).prediction_result_table
    return [v.double_value for row in table.rows for v in row.values]
