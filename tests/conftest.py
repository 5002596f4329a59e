"""Shared fixtures: real server processes on free ports of 127.0.0.1."""

from __future__ import annotations

import http.client
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import pytest

MODELS = Path(__file__).parent / "models"
REPO = Path(__file__).parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float = 10.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``condition()`` turned true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


# Variables of the caller's environment that would change how a server under test behaves.
SERVER_VARIABLES = ("PREDICTIVE_UNIT_", "GUNICORN_", "GRPC_", "MODEL_METADATA", "TRACING", "OTEL_", "JAEGER_")


class ServerProcess:
    """A server a test starts: its own session (stopped as a group), its output in a log file,
    ready when ``answers()`` (by default: ``/health/ping`` on its HTTP port)."""

    http_port: int
    ready_timeout = 30.0
    stop_grace = 10.0

    def start(
        self, command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None, max_files: int | None = None
    ) -> None:
        self.command = command
        self.log_path = log
        self.log = open(self.log_path, "wb")

        def limit_files() -> None:  # in the child, before exec
            if max_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (max_files, max_files))

        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=limit_files if max_files is not None else None,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=1)
            conn.request("GET", "/health/ping")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float | None = None) -> Self:
        timeout = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            if self.answers():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


class RunningServer(ServerProcess):
    """A `modelserve serve` process started by a test."""

    def __init__(
        self,
        model: str,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path = MODELS,
        grpc_port: int = 0,
        max_files: int | None = None,
    ):
        self.http_port, self.grpc_port, self.metrics_port = free_port(), grpc_port or free_port(), free_port()
        command = [
            sys.executable,
            "-m",
            "modelserve",
            "serve",
            model,
            "--host",
            "127.0.0.1",
            "--http-port",
            str(self.http_port),
            "--grpc-port",
            str(self.grpc_port),
            "--metrics-port",
            str(self.metrics_port),
            *args,
        ]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_VARIABLES)}
        full_env.update(env or {})
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"modelserve-test-{self.http_port}.log"
        self.start(command, full_env, log, cwd, max_files)


@pytest.fixture
def start_server() -> Iterator:
    """start_server(model, *flags, env=...) -> a ready RunningServer, stopped after the test."""
    started: list[RunningServer] = []

    def start(model: str, *args: str, env: dict[str, str] | None = None, cwd: Path = MODELS) -> RunningServer:
        server = RunningServer(model, *args, env=env, cwd=cwd)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def pyfunc_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The MLflow models of tests/models/pyfunc, saved once a session: {name: model directory}."""
    out = tmp_path_factory.mktemp("pyfunc-models")
    script = MODELS / "pyfunc" / "save.py"
    result = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return {path.name: path for path in out.iterdir() if (path / "MLmodel").is_file()}
