"""Our .proto files against the public seldon.protos / TensorFlow ones: the same on the wire.

The public definitions are read from the conformance suite's ``protos.desc`` (a
FileDescriptorSet of the public prediction.proto and TensorProto files); tests that
need it are skipped when the shared directory is not there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    empty_pb2,
    json_format,
    message_factory,
    struct_pb2,
)

from modelserve.codecs import messages

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MODELSERVE_SHARED", REPO.parent / "shared"))
PUBLIC_DESC = SHARED / "conformance" / "seldon" / "protos.desc"
OURS_DESC = REPO / "modelserve" / "codecs" / "protos.desc"
Field = descriptor_pb2.FieldDescriptorProto

needs_public = pytest.mark.skipif(not PUBLIC_DESC.exists(), reason=f"no public descriptors at {PUBLIC_DESC}")


def descriptor_set(path: Path) -> descriptor_pb2.FileDescriptorSet:
    return descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())


def symbols(fds: descriptor_pb2.FileDescriptorSet, packages: tuple[str, ...]) -> dict[str, object]:
    """Every message, enum and service of these packages by full name (nested ones too)."""
    found: dict[str, object] = {}

    def add_message(prefix: str, message: descriptor_pb2.DescriptorProto) -> None:
        name = f"{prefix}.{message.name}"
        found[name] = message
        for nested in message.nested_type:
            add_message(name, nested)
        for enum in message.enum_type:
            found[f"{name}.{enum.name}"] = enum

    for file in fds.file:
        if file.package not in packages:
            continue
        for message in file.message_type:
            add_message(file.package, message)
        for enum in file.enum_type:
            found[f"{file.package}.{enum.name}"] = enum
        for service in file.service:
            found[f"{file.package}.{service.name}"] = service
    return found


def field_signature(message: descriptor_pb2.DescriptorProto, field: descriptor_pb2.FieldDescriptorProto) -> tuple:
    oneof = message.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else None
    return (
        field.name,
        Field.Type.Name(field.type),
        Field.Label.Name(field.label),
        field.type_name,
        oneof,
        field.proto3_optional,
        field.options.packed if field.options.HasField("packed") else None,
    )


@pytest.fixture(scope="module")
def public() -> dict[str, object]:
    return symbols(descriptor_set(PUBLIC_DESC), ("seldon.protos", "tensorflow"))


@pytest.fixture(scope="module")
def ours() -> dict[str, object]:
    return symbols(descriptor_set(OURS_DESC), ("seldon.protos", "tensorflow"))


@needs_public
def test_same_symbols(public: dict[str, object], ours: dict[str, object]) -> None:
    assert sorted(ours) == sorted(public)


@needs_public
def test_messages_match_field_by_field(public: dict[str, object], ours: dict[str, object]) -> None:
    for name, theirs in public.items():
        if not isinstance(theirs, descriptor_pb2.DescriptorProto):
            continue
        mine = ours[name]
        assert isinstance(mine, descriptor_pb2.DescriptorProto)
        expected = {f.number: field_signature(theirs, f) for f in theirs.field}
        actual = {f.number: field_signature(mine, f) for f in mine.field}
        assert actual == expected, name
        assert [o.name for o in mine.oneof_decl] == [o.name for o in theirs.oneof_decl], name
        assert mine.options.map_entry == theirs.options.map_entry, name


@needs_public
def test_enums_match(public: dict[str, object], ours: dict[str, object]) -> None:
    for name, theirs in public.items():
        if isinstance(theirs, descriptor_pb2.EnumDescriptorProto):
            mine = ours[name]
            assert isinstance(mine, descriptor_pb2.EnumDescriptorProto)
            assert [(v.name, v.number) for v in mine.value] == [(v.name, v.number) for v in theirs.value], name


@needs_public
def test_services_match(public: dict[str, object], ours: dict[str, object]) -> None:
    services = [name for name, item in public.items() if isinstance(item, descriptor_pb2.ServiceDescriptorProto)]
    assert len(services) == 7
    for name in services:
        theirs, mine = public[name], ours[name]
        assert isinstance(theirs, descriptor_pb2.ServiceDescriptorProto)
        assert isinstance(mine, descriptor_pb2.ServiceDescriptorProto)

        def methods(service: descriptor_pb2.ServiceDescriptorProto) -> dict[str, tuple]:
            return {
                m.name: (m.input_type, m.output_type, m.client_streaming, m.server_streaming) for m in service.method
            }

        assert methods(mine) == methods(theirs), name


def _public_classes() -> Iterator[tuple[str, type]]:
    pool = descriptor_pool.DescriptorPool()
    for module in (any_pb2, empty_pb2, struct_pb2):  # imported by prediction.proto, not in protos.desc
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        pool.Add(proto)
    for file in descriptor_set(PUBLIC_DESC).file:
        pool.Add(file)
    for name in ("SeldonMessage", "Feedback", "SeldonMessageList", "SeldonModelMetadata"):
        yield name, message_factory.GetMessageClass(pool.FindMessageTypeByName(f"seldon.protos.{name}"))


SAMPLE = {
    "status": {"code": 3, "info": "i", "reason": "r", "status": "FAILURE"},
    "meta": {
        "puid": "p",
        "tags": {"a": 1.5, "b": "x", "c": [True, None]},
        "routing": {"r": -1},
        "requestPath": {"m": "img:1"},
        "metrics": [{"key": "k", "type": "TIMER", "value": 2.5, "tags": {"t": "v"}}],
    },
    "data": {
        "names": ["a", "b"],
        "tftensor": {
            "dtype": "DT_HALF",
            "tensorShape": {"dim": [{"size": "2", "name": "n"}], "unknownRank": True},
            "halfVal": [1, 2],
            "int64Val": ["-3"],
            "uint64Val": ["18446744073709551615"],
            "stringVal": ["YQ=="],
            "float8Val": "AQ==",
        },
    },
}


@needs_public
@pytest.mark.parametrize(
    "name, sample",
    [
        ("SeldonMessage", SAMPLE),
        ("SeldonMessage", {"data": {"tensor": {"shape": [2, -1], "values": [1.5, -2]}}}),
        ("SeldonMessage", {"data": {"ndarray": [[1, "a"], {"k": None}]}}),
        ("SeldonMessage", {"jsonData": {"k": [1, {"x": False}]}}),
        ("SeldonMessageList", {"seldonMessages": [{"strData": "s"}, {"binData": "AAE="}]}),
        ("Feedback", {"request": {"strData": "a"}, "response": SAMPLE, "reward": 0.5, "truth": {"strData": "t"}}),
        (
            "SeldonModelMetadata",
            {
                "name": "n",
                "versions": ["v"],
                "platform": "p",
                "inputs": [
                    {"messagetype": "ndarray", "schema": {"a": 1}},
                    {"name": "x", "datatype": "FP32", "shape": ["1", "-1"]},
                ],
                "custom": {"k": "v"},
            },
        ),
    ],
)
def test_bytes_cross_between_ours_and_public(name: str, sample: dict) -> None:
    theirs = dict(_public_classes())[name]
    mine = getattr(messages, name)
    ours_bytes = json_format.ParseDict(sample, mine()).SerializeToString()
    theirs_bytes = json_format.ParseDict(sample, theirs()).SerializeToString()
    assert ours_bytes == theirs_bytes
    assert json_format.MessageToDict(theirs.FromString(ours_bytes)) == json_format.MessageToDict(
        mine.FromString(theirs_bytes)
    )


def test_classes_live_in_a_private_pool() -> None:
    assert messages.SeldonMessage.DESCRIPTOR.file.pool is messages.POOL
    assert messages.POOL is not descriptor_pool.Default()
    assert sorted(messages.SERVICES) == sorted(
        f"seldon.protos.{s}"
        for s in ("Generic", "Model", "Router", "Transformer", "OutputTransformer", "Combiner", "Seldon")
    )


@needs_public
def test_default_pool_registrations_do_not_clash() -> None:
    """A model importing seldon_core registers seldon.protos in the default pool, before or after us."""
    register = (
        "from google.protobuf import descriptor_pb2, descriptor_pool, any_pb2, struct_pb2, empty_pb2\n"
        f"fds = descriptor_pb2.FileDescriptorSet.FromString(open({str(PUBLIC_DESC)!r}, 'rb').read())\n"
        "for f in fds.file: descriptor_pool.Default().Add(f)\n"
    )
    ours = "from modelserve.codecs import messages\nassert messages.SeldonMessage(strData='x').SerializeToString()\n"
    for script in (register + ours, ours + register):
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_descriptor_set_is_current() -> None:
    pytest.importorskip("grpc_tools")
    result = subprocess.run(
        [sys.executable, str(REPO / "protos" / "build.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
