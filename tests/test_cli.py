"""The command line: help, and start-up failures as one line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modelserve.settings import OPTIONS
from tests.conftest import MODELS


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
