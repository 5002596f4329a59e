"""tritonclient (http, grpc) and the kserve client library against a real modelserve.

The clients pin an older protobuf than modelserve's, so they live in their own venv,
``.venvs/clients`` (``make clients-venv``, part of ``make unit``); each suite of
``client_checks.py`` runs there as a subprocess.  A missing venv fails, never skips.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, RunningServer

CLIENTS_PYTHON = REPO / ".venvs" / "clients" / "bin" / "python"
CHECKS = Path(__file__).parent / "client_checks.py"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = RunningServer("IdentityModel", "--model-name", "identity")
    try:
        yield running.wait_ready()
    finally:
        running.stop()


@pytest.mark.parametrize("suite", ["triton-http", "triton-grpc", "kserve-rest-v2", "kserve-v1", "kserve-grpc"])
def test_client_library(server: RunningServer, suite: str) -> None:
    assert CLIENTS_PYTHON.exists(), f"{CLIENTS_PYTHON} is missing: run make clients-venv"
    done = subprocess.run(
        [str(CLIENTS_PYTHON), str(CHECKS), suite, str(server.http_port), str(server.grpc_port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (
        f"{suite} failed:\n{done.stdout}\n{done.stderr}\nserver log:\n{server.output()[-3000:]}"
    )
    assert done.stdout.startswith("ok ")
    assert server.proc.poll() is None
