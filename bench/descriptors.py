"""Protobuf message classes from a hand-written table of fields, for the bench's gRPC loads.

The bench builds its requests without modelserve's descriptors (it measures servers that
are not modelserve); only the fields a workload uses are declared, numbered as in the
protocol's public .proto, and protobuf keeps any other field a server sends.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

Field = descriptor_pb2.FieldDescriptorProto
# {message name: [(field, number, type, label, type_name)]}
Table = dict[str, list[tuple[str, int, int, int, str]]]


def message_classes(file_name: str, package: str, messages: Table) -> dict[str, Any]:
    """The class of every message of ``messages``, in a descriptor pool of their own."""
    file = descriptor_pb2.FileDescriptorProto(name=file_name, package=package, syntax="proto3")
    for name, fields in messages.items():
        message = file.message_type.add(name=name)
        for field, number, kind, label, type_name in fields:
            message.field.add(name=field, number=number, type=kind, label=label, type_name=type_name or None)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}")) for name in messages}
