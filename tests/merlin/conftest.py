"""merlin-pyfunc-server processes on free ports of 127.0.0.1, serving the MLflow models of
tests/models/pyfunc (saved by the ``pyfunc_models`` fixture)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, ServerProcess, free_port

MERLIN = Path(sys.executable).with_name("merlin-pyfunc-server")
UPI_PYTHON = REPO / ".venvs" / "upi" / "bin" / "python"
UPI_CLIENT = Path(__file__).parent / "upi_client.py"
# the caller's variables that would change how the server behaves
SERVER_VARIABLES = ("CARAML_", "GRPC_", "PUSHGATEWAY_", "WORKERS", "LOG_LEVEL", "PROMETHEUS_MULTIPROC_DIR")


class MerlinServer(ServerProcess):
    """``merlin-pyfunc-server --model_dir DIR`` with Merlin's variables."""

    ready_timeout = 60.0
    stop_grace = 15.0

    def __init__(self, model_dir: Path, protocol: str = "HTTP_JSON", *args: str, env: dict[str, str] | None = None):
        self.http_port, self.grpc_port = free_port(), free_port()
        self.protocol = protocol
        name = model_dir.name
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_VARIABLES)}
        full_env.update(
            CARAML_PROTOCOL=protocol,
            CARAML_HTTP_PORT=str(self.http_port),
            CARAML_GRPC_PORT=str(self.grpc_port),
            CARAML_MODEL_NAME=name,
            CARAML_MODEL_VERSION="1",
            CARAML_MODEL_FULL_NAME=f"{name}-1",
        )
        full_env.update(env or {})
        self.full_name = full_env["CARAML_MODEL_FULL_NAME"]
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"merlin-test-{self.http_port}.log"
        self.start([str(MERLIN), "--model_dir", str(model_dir), "--host", "127.0.0.1", *args], full_env, log)

    @property
    def predict_url(self) -> str:
        return f"{self.url}/v1/models/{self.full_name}:predict"

    def answers(self) -> bool:
        try:
            if self.protocol == "UPI_V1":
                socket.create_connection(("127.0.0.1", self.grpc_port), timeout=1).close()
                path = "/metrics"
            else:
                path = "/"
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=1)
            conn.request("GET", path)
            return conn.getresponse().status == 200
        except OSError:
            return False

    def upi(self, check: str, env: dict[str, str] | None = None) -> str:
        """Run a check of upi_client.py (caraml-upi-protos' stubs, in .venvs/upi); its JSON output."""
        assert UPI_PYTHON.exists(), f"{UPI_PYTHON} is missing: run make upi-client-venv"
        done = subprocess.run(
            [str(UPI_PYTHON), str(UPI_CLIENT), check, str(self.grpc_port)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **(env or {})},
        )
        assert done.returncode == 0, f"{check}: {done.stdout}\n{done.stderr}\nserver log:\n{self.output()[-3000:]}"
        return done.stdout


@pytest.fixture
def merlin_server(pyfunc_models: dict[str, Path]) -> Iterator:
    """merlin_server(model name, protocol, *flags, env=...) -> a ready MerlinServer, stopped after the test."""
    started: list[MerlinServer] = []

    def start(model: str, protocol: str = "HTTP_JSON", *args: str, env: dict[str, str] | None = None) -> MerlinServer:
        server = MerlinServer(pyfunc_models[model], protocol, *args, env=env)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        server.stop()
