"""The ``seldon.protos`` message classes, built from ``protos.desc`` in a pool of our own.

The descriptors live in a private ``DescriptorPool``, not in protobuf's default one: a
user's model may import ``seldon_core``, whose generated code registers the same
symbols in the default pool, and two definitions of one name would clash there.
Messages of both pools are the same on the wire.

``protos.desc`` is built from ``protos/`` by ``python protos/build.py``.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FileDescriptor

PACKAGE = "seldon.protos"
PREDICTION_FILE = "seldon/protos/prediction.proto"

POOL = descriptor_pool.DescriptorPool()


def _load() -> FileDescriptor:
    data = resources.files("modelserve.codecs").joinpath("protos.desc").read_bytes()
    for file in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        POOL.Add(file)
    return POOL.FindFileByName(PREDICTION_FILE)


PREDICTION = _load()


def message_class(full_name: str) -> Any:
    """The message class of a type of our pool (``seldon.protos.Tensor``, ``google.protobuf.Value``...)."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full_name))


SeldonMessage = message_class("seldon.protos.SeldonMessage")
DefaultData = message_class("seldon.protos.DefaultData")
Tensor = message_class("seldon.protos.Tensor")
Meta = message_class("seldon.protos.Meta")
Metric = message_class("seldon.protos.Metric")
SeldonMessageList = message_class("seldon.protos.SeldonMessageList")
Status = message_class("seldon.protos.Status")
Feedback = message_class("seldon.protos.Feedback")
RequestResponse = message_class("seldon.protos.RequestResponse")
SeldonModelMetadataRequest = message_class("seldon.protos.SeldonModelMetadataRequest")
SeldonMessageMetadata = message_class("seldon.protos.SeldonMessageMetadata")
SeldonModelMetadata = message_class("seldon.protos.SeldonModelMetadata")
SeldonGraphMetadata = message_class("seldon.protos.SeldonGraphMetadata")

TensorProto = message_class("tensorflow.TensorProto")
TensorShapeProto = message_class("tensorflow.TensorShapeProto")

Value = message_class("google.protobuf.Value")
ListValue = message_class("google.protobuf.ListValue")
Struct = message_class("google.protobuf.Struct")
Any_ = message_class("google.protobuf.Any")
Empty = message_class("google.protobuf.Empty")

# The services of prediction.proto, by full name: {method name: (request class, response class)}.
SERVICES: dict[str, dict[str, tuple[Any, Any]]] = {
    service.full_name: {
        method.name: (
            message_factory.GetMessageClass(method.input_type),
            message_factory.GetMessageClass(method.output_type),
        )
        for method in service.methods
    }
    for service in PREDICTION.services_by_name.values()
}


def add_file(file: FileDescriptor) -> None:
    """Add a file of another pool (with its imports) to ours, e.g. for server reflection."""
    for dependency in file.dependencies:
        add_file(dependency)
    try:
        POOL.FindFileByName(file.name)
    except KeyError:
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        POOL.Add(proto)
