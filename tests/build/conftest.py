"""Builds of the apps under apps/, and their servers started with the bundle's own run script."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import SERVER_VARIABLES, ServerProcess, free_port

APPS = Path(__file__).parent / "apps"
IMAGE_TAG = f"localhost/modelserve-test-transformer:{os.getpid()}"
# what decides how pip and the build behave: the tests set their own
BUILD_VARIABLES = ("CI", "MODEL_NAME", "SERVICE_TYPE")


def build_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_VARIABLES) and k not in BUILD_VARIABLES}
    env.update(extra)
    return env


def run_build(
    *args: str, env: dict[str, str] | None = None, python: str = sys.executable, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "modelserve", "build", *args]
    return subprocess.run(command, env=env or build_env(), cwd=cwd, capture_output=True, text=True, timeout=900)


def built(app: str, output: Path, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    result = run_build(str(APPS / app), "--output", str(output), *args, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


class BundleServer(ServerProcess):
    """``BUNDLE/run`` (or any command that starts one) on free ports of 127.0.0.1."""

    ready_timeout = 60.0
    stop_grace = 30.0

    def __init__(self, command: Callable[[dict[str, str]], list[str]], env: dict[str, str] | None, log: Path):
        self.http_port = free_port()
        ports = {
            "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(self.http_port),
            "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(free_port()),
            "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(free_port()),
            "MODELSERVE_HOST": "127.0.0.1",
        }
        self.start(command(ports), build_env(**ports, **(env or {})), log)


@pytest.fixture
def serve_bundle(tmp_path: Path) -> Iterator:
    """serve_bundle(bundle, env=...) -> a ready BundleServer, stopped after the test; instead of a bundle, a
    function of the server's variables (ports) to the command that starts it."""
    started: list[BundleServer] = []

    def start(what: Path | Callable[[dict[str, str]], list[str]], env: dict[str, str] | None = None) -> BundleServer:
        command = (lambda ports: [str(what / "run")]) if isinstance(what, Path) else what
        server = BundleServer(command, env, tmp_path / f"server-{len(started)}.log")
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bundles")


@pytest.fixture(scope="session")
def model_bundle(bundles: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    output = bundles / "model"
    return output, built("model", output)


@pytest.fixture(scope="session")
def transformer_build(bundles: Path) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    """The transformer app as a bundle and as an image, in one build, shown as on a terminal (-v)."""
    output = bundles / "transformer"
    (output).mkdir()
    (output / "stale").write_text("replaced by --force")
    result = built("transformer", output, "--force", "--image", IMAGE_TAG, "-v")
    yield output, result
    subprocess.run(["buildah", "--storage-driver=vfs", "rmi", IMAGE_TAG], capture_output=True)
