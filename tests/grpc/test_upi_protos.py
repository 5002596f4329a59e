"""Our caraml/upi/v1 .proto files against the public ones: the same on the wire.

Two public sources: the Merlin conformance suite's ``protos.desc`` (compiled from the public
upi, table, variable and type files), and the ``caraml-upi-protos`` package (generated code
of every public file, header and prediction_log included), installed by the test extra.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, json_format

from modelserve.codecs import messages
from tests.grpc.test_protos import OURS_DESC, SHARED, descriptor_set, field_signature, symbols

PUBLIC_DESC = SHARED / "conformance" / "merlin" / "protos.desc"
PACKAGE = "caraml.upi.v1"
OUR_FILES = ("type", "variable", "table", "upi", "header", "prediction_log")

needs_public = pytest.mark.skipif(not PUBLIC_DESC.exists(), reason=f"no public descriptors at {PUBLIC_DESC}")


def package_descriptors() -> descriptor_pb2.FileDescriptorSet:
    """The caraml-upi-protos package's files, as a FileDescriptorSet."""
    fds = descriptor_pb2.FileDescriptorSet()
    for name in OUR_FILES:
        module = importlib.import_module(f"caraml.upi.v1.{name}_pb2")
        module.DESCRIPTOR.CopyToProto(fds.file.add())
    return fds


def assert_same_wire(theirs: dict[str, object], ours: dict[str, object]) -> None:
    assert sorted(ours) == sorted(theirs)
    for name, their in theirs.items():
        mine = ours[name]
        assert type(mine) is type(their), name
        if isinstance(their, descriptor_pb2.DescriptorProto):
            assert isinstance(mine, descriptor_pb2.DescriptorProto)
            expected = {f.number: field_signature(their, f) for f in their.field}
            assert {f.number: field_signature(mine, f) for f in mine.field} == expected, name
            assert [o.name for o in mine.oneof_decl] == [o.name for o in their.oneof_decl], name
        elif isinstance(their, descriptor_pb2.EnumDescriptorProto):
            assert isinstance(mine, descriptor_pb2.EnumDescriptorProto)
            assert [(v.name, v.number) for v in mine.value] == [(v.name, v.number) for v in their.value], name
        else:
            assert isinstance(their, descriptor_pb2.ServiceDescriptorProto)
            assert isinstance(mine, descriptor_pb2.ServiceDescriptorProto)

            def methods(service: descriptor_pb2.ServiceDescriptorProto) -> dict[str, tuple]:
                return {
                    m.name: (m.input_type, m.output_type, m.client_streaming, m.server_streaming)
                    for m in service.method
                }

            assert methods(mine) == methods(their), name


def ours_only(fds: descriptor_pb2.FileDescriptorSet, files: tuple[str, ...]) -> descriptor_pb2.FileDescriptorSet:
    wanted = {f"caraml/upi/v1/{name}.proto" for name in files}
    out = descriptor_pb2.FileDescriptorSet()
    out.file.extend(f for f in fds.file if f.name in wanted)
    return out


@needs_public
def test_same_as_the_conformance_descriptors() -> None:
    public = descriptor_set(PUBLIC_DESC)
    ours = ours_only(descriptor_set(OURS_DESC), ("type", "variable", "table", "upi"))
    assert_same_wire(symbols(public, (PACKAGE,)), symbols(ours, (PACKAGE,)))


def test_same_as_the_caraml_upi_protos_package() -> None:
    assert_same_wire(symbols(package_descriptors(), (PACKAGE,)), symbols(descriptor_set(OURS_DESC), (PACKAGE,)))


def test_same_file_names_and_imports_but_the_http_annotation() -> None:
    """Reflection clients resolve files by name: ours keep the public names."""
    theirs = {f.name: set(f.dependency) for f in package_descriptors().file}
    ours = {f.name: set(f.dependency) for f in ours_only(descriptor_set(OURS_DESC), OUR_FILES).file}
    assert set(ours) == set(theirs)
    theirs["caraml/upi/v1/upi.proto"].discard("google/api/annotations.proto")
    assert ours == theirs


SAMPLE_REQUEST = {
    "predictionTable": {
        "name": "t",
        "columns": [{"name": "x", "type": "TYPE_DOUBLE"}, {"name": "s", "type": "TYPE_STRING"}],
        "rows": [
            {"rowId": "r1", "values": [{"doubleValue": 1.5}, {"stringValue": "a"}]},
            {"rowId": "r2", "values": [{"isNull": True}, {"stringValue": "b"}]},
        ],
    },
    "transformerInput": {
        "tables": [{"name": "t2", "rows": [{"rowId": "1", "values": [{"integerValue": "-7"}]}]}],
        "variables": [{"name": "v", "type": "TYPE_INTEGER", "integerValue": "9"}],
    },
    "targetName": "score",
    "predictionContext": [{"name": "c", "type": "TYPE_STRING", "stringValue": "ctx"}],
    "metadata": {"predictionId": "p-1", "requestTimestamp": "2024-01-02T03:04:05.000006Z"},
}

SAMPLE_RESPONSE = {
    "predictionResultTable": {"name": "out", "rows": [{"rowId": "r1", "values": [{"integerValue": "2"}]}]},
    "targetName": "score",
    "metadata": {
        "predictionId": "p-1",
        "models": [{"name": "m", "version": "1"}],
        "experimentName": "e",
        "treatmentName": "t",
    },
}

SAMPLE_LOG = {
    "predictionId": "p",
    "projectName": "proj",
    "input": {"featuresTable": {"columns": ["a"]}, "headers": [{"key": "k", "value": "v"}]},
    "output": {"predictionResultsTable": {"data": [[1]]}, "status": 200, "message": "ok"},
    "tableSchemaVersion": 1,
}


@pytest.mark.parametrize(
    ("module", "name", "sample"),
    [
        ("upi_pb2", "PredictValuesRequest", SAMPLE_REQUEST),
        ("upi_pb2", "PredictValuesResponse", SAMPLE_RESPONSE),
        ("prediction_log_pb2", "PredictionLog", SAMPLE_LOG),
    ],
)
def test_bytes_cross_between_ours_and_the_package(module: str, name: str, sample: dict) -> None:
    theirs = getattr(importlib.import_module(f"caraml.upi.v1.{module}"), name)
    mine = messages.message_class(f"{PACKAGE}.{name}")
    assert mine.DESCRIPTOR.file.pool is messages.POOL
    ours_bytes = json_format.ParseDict(sample, mine()).SerializeToString(deterministic=True)
    theirs_bytes = json_format.ParseDict(sample, theirs()).SerializeToString(deterministic=True)
    assert ours_bytes == theirs_bytes
    assert json_format.MessageToDict(theirs.FromString(ours_bytes)) == sample
    assert json_format.MessageToDict(mine.FromString(theirs_bytes)) == sample


def test_the_service_is_in_our_pool() -> None:
    service = messages.POOL.FindServiceByName(f"{PACKAGE}.UniversalPredictionService")
    method = service.methods_by_name["PredictValues"]
    assert (method.input_type.full_name, method.output_type.full_name) == (
        f"{PACKAGE}.PredictValuesRequest",
        f"{PACKAGE}.PredictValuesResponse",
    )
    assert Path(OURS_DESC).exists()
