"""The command line: help, and start-up failures as one line and a non-zero exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelserve.settings import OPTIONS
from tests.conftest import MODELS, SERVER_VARIABLES, free_port, wait_for


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelserve", *args], cwd=MODELS, capture_output=True, text=True, timeout=timeout
    )


def test_help_lists_every_flag_and_variable() -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for option in OPTIONS:
        if option.flag:
            assert option.flag in text
        for variable in option.env:
            assert variable in text


@pytest.mark.parametrize(
    ("args", "culprit"),
    [
        (["NoSuchModel"], "NoSuchModel"),
        (["BrokenImportModel"], "module_that_does_not_exist"),
        (["IdentityModel.Nope"], "'Nope'"),
        (["ParamModel", "--parameters", '[{"name": "count", "value": "x", "type": "INT"}]'], "'count'"),
        (["ParamModel", "--parameters", '[{"name": "flag", "value": "maybe", "type": "BOOL"}]'], "'flag'"),
        (["ParamModel", "--parameters", '[{"name": "count", "value": "1", "type": "LONG"}]'], "LONG"),
        (["ParamModel", "--parameters", '[{"name": "config", "value": "{bad", "type": "JSON"}]'], "'config'"),
        (["ParamModel", "--parameters", '[{"name": "nope", "value": "1", "type": "INT"}]'], "'nope'"),
        (["ParamModel", "--parameters", "not json"], "--parameters"),
        (["BrokenLoadModel"], "weights file missing"),
        (["IdentityModel", "--workers", "many"], "--workers"),
        (["IdentityModel", "--service-type", "BOSS"], "--service-type"),
    ],
)
def test_startup_failures_are_one_line(args: list[str], culprit: str) -> None:
    result = run_cli("serve", *args, "--http-port", "0", "--metrics-port", "0")
    assert result.returncode != 0
    assert culprit in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_port_in_use_is_reported() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "serve", "IdentityModel", "--host", "127.0.0.1", "--http-port", str(port), "--metrics-port", "0"
        )
    assert result.returncode != 0 and f":{port}" in result.stderr and "Traceback" not in result.stderr


def test_parameters_of_every_type(start_server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    parameters = (
        '[{"name": "count", "value": "7", "type": "INT"}, {"name": "ratio", "value": "1e-3", "type": "DOUBLE"},'
        ' {"name": "label", "value": "x", "type": "STRING"}, {"name": "flag", "value": "true", "type": "BOOL"},'
        ' {"name": "config", "value": "{\\"a\\": [1, 2]}", "type": "JSON"}]'
    )
    server = start_server("ParamModel", "--parameters", parameters)
    answer = httpx.post(server.url + "/predict", json={"strData": ""}).json()
    assert answer["jsonData"] == {"count": 7, "ratio": 0.001, "label": "x", "flag": True, "config": {"a": [1, 2]}}
    from_env = start_server(
        "ParamModel", env={"PREDICTIVE_UNIT_PARAMETERS": '[{"name": "count", "value": "3", "type": "INT"}]'}
    )
    assert httpx.post(from_env.url + "/predict", json={"strData": ""}).json()["jsonData"]["count"] == 3


def test_seldon_command_name(start_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-c", "from modelserve.cli import seldon_main; seldon_main(['--help'])"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "seldon-core-microservice" in result.stdout


def test_serve_with_no_arguments_reads_model_name_and_service_type(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An s2i-style container starts ``modelserve serve`` with MODEL_NAME and SERVICE_TYPE only."""
    import os

    import httpx

    from tests.conftest import SERVER_VARIABLES, free_port, wait_for

    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_VARIABLES)}
    env.update(
        MODEL_NAME="RouterModel",
        SERVICE_TYPE="ROUTER",
        PREDICTIVE_UNIT_HTTP_SERVICE_PORT=str(http_port),
        PREDICTIVE_UNIT_GRPC_SERVICE_PORT=str(free_port()),
        PREDICTIVE_UNIT_METRICS_SERVICE_PORT=str(free_port()),
        MODELSERVE_HOST="127.0.0.1",
    )
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelserve", "serve"], cwd=MODELS, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:

        def routes() -> bool:
            try:
                return httpx.post(f"http://127.0.0.1:{http_port}/route", json={"data": {"ndarray": [[1]]}}).is_success
            except httpx.TransportError:
                return False

        assert wait_for(routes, timeout=30), (tmp_path / "server.log").read_text()
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
    missing = run_cli("serve")
    assert missing.returncode == 2 and "MODEL_NAME" in missing.stderr


# Spec 000 (Seldon's wrapper before 1.5): `INTERFACE_NAME API_TYPE --port PORT`, and
# PREDICTIVE_UNIT_SERVICE_PORT. Accepted with a deprecation warning, mapped onto today's ports.


class LegacyServer:
    """`modelserve serve` with exactly the arguments given (no port flags added)."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_VARIABLES)}
        full_env.update(env or {})
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "modelserve", "serve", *args],
            cwd=MODELS,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def answers_rest(self, port: int) -> bool:
        assert self.proc.poll() is None, self.output()
        try:
            return httpx.post(f"http://127.0.0.1:{port}/predict", json={"strData": "x"}, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def answers_grpc(self, port: int) -> bool:
        assert self.proc.poll() is None, self.output()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            try:
                status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1).status
            except grpc.RpcError:
                return False
            return bool(status == health_pb2.HealthCheckResponse.SERVING)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        self.log.close()


@pytest.fixture
def legacy() -> Iterator:
    started: list[LegacyServer] = []

    def start(*args: str, env: dict[str, str] | None = None) -> LegacyServer:
        started.append(LegacyServer(*args, env=env))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def _ports(*names: str) -> list[str]:
    flags = []
    for name in names:
        flags += [f"--{name}-port", str(free_port())]
    return flags


def test_api_type_rest_with_port_serves_rest_there(legacy) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    server = legacy("IdentityModel", "REST", "--port", str(port), "--host", "127.0.0.1", *_ports("grpc", "metrics"))
    assert wait_for(lambda: server.answers_rest(port), timeout=30), server.output()
    log = server.output()
    assert "the API type argument 'REST' is deprecated" in log
    assert f"--port is deprecated: serving on --http-port {port}" in log


def test_api_type_grpc_with_port_serves_grpc_there(legacy) -> None:  # type: ignore[no-untyped-def]
    port, http_port = free_port(), free_port()
    flags = ["--port", str(port), "--http-port", str(http_port), "--host", "127.0.0.1", *_ports("metrics")]
    server = legacy("IdentityModel", "grpc", *flags)  # as the original: any case
    assert wait_for(lambda: server.answers_grpc(port), timeout=30), server.output()
    assert server.answers_rest(http_port)  # both APIs are served, whatever the old argument says
    log = server.output()
    assert "the API type argument 'grpc' is deprecated" in log
    assert f"--port is deprecated: serving on --grpc-port {port}" in log


def test_the_old_port_variable_is_the_rest_port(legacy) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {"PREDICTIVE_UNIT_SERVICE_PORT": str(port)}
    server = legacy("IdentityModel", "--host", "127.0.0.1", *_ports("grpc", "metrics"), env=env)
    assert wait_for(lambda: server.answers_rest(port), timeout=30), server.output()
    assert f"PREDICTIVE_UNIT_SERVICE_PORT is deprecated: serving on PREDICTIVE_UNIT_HTTP_SERVICE_PORT={port}" in (
        server.output()
    )


def test_the_old_port_variable_gives_way_to_the_new_one(legacy) -> None:  # type: ignore[no-untyped-def]
    port, old = free_port(), free_port()
    env = {"PREDICTIVE_UNIT_SERVICE_PORT": str(old), "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(port)}
    server = legacy("IdentityModel", "--host", "127.0.0.1", *_ports("grpc", "metrics"), env=env)
    assert wait_for(lambda: server.answers_rest(port), timeout=30), server.output()
    assert f"PREDICTIVE_UNIT_SERVICE_PORT={old} is ignored: PREDICTIVE_UNIT_HTTP_SERVICE_PORT gives" in (
        server.output()
    )
    assert not server.answers_rest(old)


@pytest.mark.parametrize(
    ("args", "explanation"),
    [
        (["IdentityModel", "--port", "7001", "--http-port", "7002"], "--port is the old name of --http-port"),
        (["IdentityModel", "GRPC", "--port", "7001", "--grpc-port", "7002"], "--port is the old name of --grpc-port"),
        (["IdentityModel", "FBS"], "API type of Seldon's wrapper before 1.5: REST or GRPC"),
        (["IdentityModel", "REST", "extra"], "unexpected arguments after the class name: REST extra"),
        (["IdentityModel", "--no-such-flag", "1"], "unknown flag --no-such-flag (`modelserve serve --help`"),
        (["IdentityModel", "REST", "--port", "5000"], "--http-port and --grpc-port (default) are both 5000"),
    ],
)
def test_what_cannot_be_mapped_is_explained(args: list[str], explanation: str) -> None:
    result = run_cli("serve", *args)
    assert result.returncode == 2
    assert explanation in result.stderr
    assert "unrecognized arguments" not in result.stderr and "Traceback" not in result.stderr


def test_help_lists_merlins_variables() -> None:
    text = " ".join(run_cli("serve", "--help").stdout.split())
    for variable in ("CARAML_HTTP_PORT", "CARAML_GRPC_PORT", "CARAML_MODEL_NAME", "WORKERS", "LOG_LEVEL"):
        assert variable in text
    result = subprocess.run(
        [str(Path(sys.executable).parent / "merlin-pyfunc-server"), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--model_dir" in result.stdout and "CARAML_PROTOCOL" in result.stdout


def test_dry_run_loads_the_model_and_exits(pyfunc_models: dict[str, Path], tmp_path: Path) -> None:
    command = str(Path(sys.executable).parent / "merlin-pyfunc-server")
    result = subprocess.run(
        [command, "--model_dir", str(pyfunc_models["iris"]), "--dry_run"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    result = subprocess.run(
        [command, "--model_dir", str(tmp_path), "--dry_run"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "no MLmodel file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "culprit"),
    [
        (["serve"], "--model-dir"),
        (["serve", "IdentityModel", "--model-dir", "/m"], "not both"),
        (["serve", "--model-dir", "/m", "--protocol", "SOAP"], "--protocol"),
    ],
)
def test_model_dir_usage_errors(args: list[str], culprit: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2 and culprit in result.stderr and "Traceback" not in result.stderr
