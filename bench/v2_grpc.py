"""The Open Inference (V2) gRPC messages the bench needs, built from a hand-written descriptor.

Only the fields the workloads use (tensor name, datatype, shape, fp64 contents and raw
contents), numbered as in the protocol's ``grpc_predict_v2.proto``; unknown fields are kept
by protobuf, so a server's extra fields do no harm.
"""

from __future__ import annotations

from bench.descriptors import Field, Table, message_classes

METHOD = "/inference.GRPCInferenceService/ModelInfer"

_F = Field
_MESSAGES: Table = {
    # name: [(field, number, type, label, type_name)]
    "InferTensorContents": [("fp64_contents", 7, _F.TYPE_DOUBLE, _F.LABEL_REPEATED, "")],
    "InferInputTensor": [
        ("name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
        ("datatype", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
        ("shape", 3, _F.TYPE_INT64, _F.LABEL_REPEATED, ""),
        ("contents", 5, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, ".inference.InferTensorContents"),
    ],
    "ModelInferRequest": [
        ("model_name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
        ("inputs", 5, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".inference.InferInputTensor"),
        ("raw_input_contents", 7, _F.TYPE_BYTES, _F.LABEL_REPEATED, ""),
    ],
    "ModelInferResponse": [
        ("model_name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
        ("outputs", 5, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".inference.InferInputTensor"),
        ("raw_output_contents", 6, _F.TYPE_BYTES, _F.LABEL_REPEATED, ""),
    ],
}


_CLASSES = message_classes("bench_v2.proto", "inference", _MESSAGES)
ModelInferRequest = _CLASSES["ModelInferRequest"]
ModelInferResponse = _CLASSES["ModelInferResponse"]
