"""A Merlin user's UPI client: caraml-upi-protos' generated stubs, grpcio's health and
reflection stubs.  Run by tests/merlin with the python of .venvs/upi (``make
upi-client-venv``), against a server started by the test:

    python upi_client.py CHECK PORT

prints one JSON object (what the server answered) on success; exit status 1 on a failure.
"""

from __future__ import annotations

import json
import os
import sys

import grpc
from caraml.upi.v1 import table_pb2, type_pb2, upi_pb2, upi_pb2_grpc, variable_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


def iris_request() -> upi_pb2.PredictValuesRequest:
    columns = [table_pb2.Column(name=n, type=type_pb2.TYPE_DOUBLE) for n in ("sl", "sw", "pl", "pw")]
    rows = [
        table_pb2.Row(row_id=rid, values=[table_pb2.Value(double_value=v) for v in values])
        for rid, values in (("setosa", (5.1, 3.5, 1.4, 0.2)), ("virginica", (6.7, 3.0, 5.2, 2.3)))
    ]
    return upi_pb2.PredictValuesRequest(
        prediction_table=table_pb2.Table(name="iris", columns=columns, rows=rows),
        target_name="class",
        prediction_context=[variable_pb2.Variable(name="ctx", type=type_pb2.TYPE_STRING, string_value="v")],
        metadata=upi_pb2.RequestMetadata(prediction_id="p-1"),
    )


def table(response: upi_pb2.PredictValuesResponse) -> list[list]:
    return [
        [row.row_id, *[v.integer_value or v.double_value for v in row.values]]
        for row in response.prediction_result_table.rows
    ]


def main() -> int:
    check, port = sys.argv[1], int(sys.argv[2])
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = upi_pb2_grpc.UniversalPredictionServiceStub(channel)
    out: dict = {}
    if check == "iris":
        response = stub.PredictValues(iris_request(), timeout=30)
        out = {"rows": table(response), "target_name": response.target_name}
    elif check == "echo":
        response = stub.PredictValues(iris_request(), timeout=30, metadata=[("x-trace", "t1")])
        out = {
            "rows": table(response),
            "target_name": response.target_name,
            "context": [v.string_value for v in response.prediction_context],
            "prediction_id": response.metadata.prediction_id,
        }
    elif check == "errors":
        for target in ("value_error", "abort_invalid", "set_code", "return_none", "ok"):
            try:
                answer = stub.PredictValues(upi_pb2.PredictValuesRequest(target_name=target), timeout=30)
                out[target] = ["OK", answer.target_name]
            except grpc.RpcError as error:
                out[target] = [error.code().name, error.details()]
    elif check == "health":
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "caraml.upi.v1.UniversalPredictionService", "nope"):
            try:
                out[service] = health_pb2.HealthCheckResponse.ServingStatus.Name(
                    health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status
                )
            except grpc.RpcError as error:
                out[service] = error.code().name
    elif check == "reflection":
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="caraml.upi.v1.UniversalPredictionService"),
        ]
        answers = list(reflection.ServerReflectionInfo(iter(requests), timeout=30))
        from google.protobuf import descriptor_pb2

        out = {
            "services": sorted(s.name for s in answers[0].list_services_response.service),
            "files": sorted(
                descriptor_pb2.FileDescriptorProto.FromString(b).name
                for b in answers[1].file_descriptor_response.file_descriptor_proto
            ),
        }
    elif check == "pids":
        pids = set()
        for _ in range(int(os.environ.get("CALLS", "20"))):
            fresh = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
            answer = upi_pb2_grpc.UniversalPredictionServiceStub(fresh).PredictValues(
                upi_pb2.PredictValuesRequest(), timeout=30
            )
            pids.add(answer.target_name)
            fresh.close()
        out = {"pids": sorted(pids)}
    else:
        print(f"unknown check {check}", file=sys.stderr)
        return 2
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
