"""gRPC serving processes for the tests, and a client built from our private descriptor pool.

A process here is ``modelserve serve`` on free ports of 127.0.0.1 with one REST and one
gRPC worker (``debug=True``: everything in one process).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelserve.codecs import messages
from tests.conftest import RunningServer


class GrpcProcess(RunningServer):
    """A serving process started by a test; ``call`` talks to it like any grpcio client.

    Keyword settings become flags: ``service_type="ROUTER"`` is ``--service-type ROUTER``,
    ``debug=True`` is ``--debug``.
    """

    def __init__(self, model: str, env: dict[str, str] | None = None, grpc_port: int = 0, **settings: Any):
        flags: list[str] = []
        for name, value in settings.items():
            flag = "--" + name.replace("_", "-")
            flags += [flag] if value is True else [flag, str(value)]
        super().__init__(model, *flags, env=env, grpc_port=grpc_port)
        self.port = self.grpc_port
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{self.port}",
            options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
        )

    def wait_ready(self, timeout: float = 30.0) -> GrpcProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if self.health() == health_pb2.HealthCheckResponse.SERVING:
                    return self
            except grpc.RpcError:
                time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.output()}")

    def health(self, service: str = "") -> int:
        stub = health_pb2_grpc.HealthStub(self.channel)
        return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1).status

    def stub(self, service: str, method: str) -> grpc.UnaryUnaryMultiCallable:
        _, response_class = messages.SERVICES[f"seldon.protos.{service}"][method]
        return self.channel.unary_unary(
            f"/seldon.protos.{service}/{method}",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=response_class.FromString,
        )

    def call(self, service: str, method: str, request: Any = None, timeout: float = 30) -> Any:
        """The answer (a message); a dict request is parsed into the method's request type."""
        request_class, _ = messages.SERVICES[f"seldon.protos.{service}"][method]
        if request is None or isinstance(request, dict):
            request = json_format.ParseDict(request or {}, request_class())
        return self.stub(service, method)(request, timeout=timeout)

    def call_dict(self, service: str, method: str, request: Any = None) -> dict[str, Any]:
        return json_format.MessageToDict(self.call(service, method, request))

    def error(self, service: str, method: str, request: Any = None) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            self.call(service, method, request)
        return caught.value

    def stop(self) -> int | None:
        self.channel.close()
        return super().stop()


@pytest.fixture
def start_grpc() -> Iterator:
    """start_grpc(model, env=..., **settings) -> a ready GrpcProcess, stopped after the test."""
    started: list[GrpcProcess] = []

    def start(model: str, env: dict[str, str] | None = None, **settings: Any) -> GrpcProcess:
        server = GrpcProcess(model, env, **settings)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        server.stop()
