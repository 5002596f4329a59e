"""Smoke-test an installed modelserve: REST, gRPC and metrics of a real server.

    .venvs/wheel/bin/python -I scripts/smoke.py

Run it with the python of the venv to check (``-I``: neither the working directory nor
this script's folder is importable). It fails unless ``modelserve`` comes from that venv's
site-packages, in this process and in the server's workers, so that a file missing from
the installed package cannot be made up for by the source tree. Needs only what
modelserve itself depends on (grpcio, its health and reflection packages, protobuf).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

MODEL = """
import modelserve


class SmokeModel:
    def predict(self, X, feature_names, **kwargs):
        return X

    def tags(self):
        return {"modelserve": modelserve.__file__}
"""

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"]).resolve()


class SmokeFailure(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SmokeFailure(what)
    print(f"smoke: ok: {what}")


def installed(path: str) -> bool:
    return Path(path).resolve().is_relative_to(SITE_PACKAGES)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: object = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait(condition: Callable[[], bool], server: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SmokeFailure(f"the server exited with status {server.returncode} before {what}")
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SmokeFailure(f"no {what} after {timeout:.0f} s")


def check_rest(http_port: int) -> None:
    base = f"http://127.0.0.1:{http_port}"
    status, body = http("POST", base + "/api/v1.0/predictions", {"data": {"ndarray": [[1.5, 2.5]]}})
    check(status == 200, f"REST predict answers 200 ({status}: {body[:200]!r})")
    answer = json.loads(body)
    check(answer["data"]["ndarray"] == [[1.5, 2.5]], "REST predict echoes the data")
    where = answer["meta"]["tags"]["modelserve"]
    check(installed(where), f"the REST worker runs modelserve from {SITE_PACKAGES} ({where})")
    status, body = http("GET", base + "/seldon.json")
    check(status == 200 and "paths" in json.loads(body), "REST /seldon.json (a data file) answers")
    infer = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1.5, 2.5]}]}
    status, body = http("POST", base + "/v2/models/SmokeModel/infer", infer)
    check(status == 200 and json.loads(body)["outputs"][0]["data"] == [1.5, 2.5], "V2 REST infer answers")


def check_grpc(grpc_port: int) -> None:
    import grpc
    from google.protobuf import descriptor_pool, message_factory
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=30)
        except grpc.FutureTimeoutError:
            raise SmokeFailure(f"the gRPC port {grpc_port} did not answer within 30 s") from None
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        check(health.status == health_pb2.HealthCheckResponse.SERVING, "gRPC health says SERVING")
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        check({"seldon.protos.Model", "inference.GRPCInferenceService"} <= services, "gRPC reflection lists services")
        pool = descriptor_pool.DescriptorPool(database)
        message = message_factory.GetMessageClass(pool.FindMessageTypeByName("seldon.protos.SeldonMessage"))
        request = message()
        request.data.ndarray.extend([[1.5, 2.5]])
        predict = channel.unary_unary(
            "/seldon.protos.Model/Predict",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=message.FromString,
        )
        answer = predict(request, timeout=10)
        check(list(answer.data.ndarray[0]) == [1.5, 2.5], "gRPC Predict echoes the data")
        where = answer.meta.tags["modelserve"].string_value
        check(installed(where), f"the gRPC worker runs modelserve from {SITE_PACKAGES} ({where})")


def check_metrics(metrics_port: int) -> None:
    status, body = http("GET", f"http://127.0.0.1:{metrics_port}/metrics")
    text = body.decode()
    check(status == 200, "the metrics port answers")
    for transport in ("rest", "grpc"):
        check(f'transport="{transport}"' in text, f"the metrics count the {transport} requests")


def main() -> int:
    import modelserve

    try:
        where = modelserve.__file__
        check(installed(where), f"this python imports modelserve from {SITE_PACKAGES} ({where})")
    except SmokeFailure as failure:
        print(f"smoke: FAILED: {failure}", file=sys.stderr)
        return 1
    executable = Path(sys.executable).with_name("modelserve")
    ports = {"http": free_port(), "grpc": free_port(), "metrics": free_port()}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    with tempfile.TemporaryDirectory(prefix="modelserve-smoke-") as folder:
        Path(folder, "SmokeModel.py").write_text(MODEL)
        log = Path(folder, "server.log")
        command = [str(executable), "serve", "SmokeModel", "--host", "127.0.0.1"]
        command += [f"--{name}-port={port}" for name, port in ports.items()]
        with open(log, "wb") as output:
            server = subprocess.Popen(command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait(lambda: http("GET", f"http://127.0.0.1:{ports['http']}/health/status")[0] == 200, server, "REST")
            check_rest(ports["http"])
            check_grpc(ports["grpc"])
            check_metrics(ports["metrics"])
            server.send_signal(signal.SIGTERM)
            check(server.wait(30) == 0, "the server stops with status 0 on SIGTERM")
        except Exception as failure:  # any failure: say what, show the server's log
            print(f"smoke: FAILED: {failure}\n--- server log ---\n{log.read_text(errors='replace')}", file=sys.stderr)
            return 1
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    print(f"smoke: {executable} serves REST, gRPC and metrics")
    return 0


if __name__ == "__main__":
    sys.exit(main())
