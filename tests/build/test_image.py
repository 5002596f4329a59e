"""One real image: the transformer app built with buildah (on a Debian base made from packages, cached
under ~/.cache/modelserve), then its server run inside the image and asked over HTTP."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from modelserve.build.bundle import Bundle
from modelserve.build.image import base_image, cache_dir
from modelserve.build.progress import Progress
from tests.build.conftest import IMAGE_TAG
from tests.conftest import wait_for

BUILDAH = ["buildah", "--storage-driver=vfs"]


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found |= {int(child)} | descendants(int(child))
    return found


@pytest.mark.slow
def test_the_image_runs_the_server(transformer_build, serve_bundle) -> None:  # type: ignore[no-untyped-def]
    _, result = transformer_build
    assert f"image {IMAGE_TAG} (" in result.stdout
    # the Debian base's root file system is cached as a tar file, nothing half-written beside it
    cached = list(cache_dir().iterdir())
    assert cached and all(path.is_file() and path.name.startswith("base-") for path in cached), cached
    inspected = subprocess.run([*BUILDAH, "inspect", "--type=image", IMAGE_TAG], capture_output=True, text=True)
    config = json.loads(inspected.stdout)["OCIv1"]["config"]
    assert config["User"] == "8888" and config["Cmd"] == ["/app/run"] and config["WorkingDir"] == "/app/src"
    assert config["Labels"]["io.modelserve.service-type"] == "TRANSFORMER"
    assert set(config["ExposedPorts"]) == {"9000/tcp", "5000/tcp", "6000/tcp"}
    container = subprocess.run([*BUILDAH, "from", IMAGE_TAG], capture_output=True, text=True, check=True).stdout.strip()
    try:

        def inside(ports: dict[str, str]) -> list[str]:
            flags = [f"--env={key}={value}" for key, value in ports.items()]
            return [*BUILDAH, "run", "--isolation=chroot", *flags, container, "--", "/app/run"]

        server = serve_bundle(inside)
        answer = httpx.post(server.url + "/transform-input", json={"data": {"ndarray": [[10.5, 20]]}})
        assert answer.json()["data"]["ndarray"] == [[0.5, 10]]
        processes = descendants(server.proc.pid)
        assert len(processes) >= 4  # buildah's child and the server's supervisor and workers
        server.stop()
        # the server drains and exits with buildah: nothing of it is left running
        assert wait_for(lambda: not [pid for pid in processes if Path(f"/proc/{pid}").exists()], timeout=40)
    finally:
        subprocess.run([*BUILDAH, "rm", container], capture_output=True)


@pytest.mark.slow
def test_the_s2i_scripts_assemble_and_run_a_bundle(model_bundle, serve_bundle) -> None:  # type: ignore[no-untyped-def]
    """What `s2i build BUNDLE BUILDER NAME` does: the source in /tmp/src, assemble, then run."""
    bundle, _ = model_bundle
    base = base_image(Bundle.read(bundle).python_version, Progress(verbose=False))
    container = subprocess.run([*BUILDAH, "from", base], capture_output=True, text=True, check=True).stdout.strip()
    try:
        subprocess.run([*BUILDAH, "copy", container, str(bundle), "/tmp/src"], capture_output=True, check=True)
        assembled = subprocess.run(
            [*BUILDAH, "run", "--isolation=chroot", container, "--", "/tmp/src/.s2i/bin/assemble"],
            capture_output=True,
            text=True,
        )
        assert assembled.returncode == 0, assembled.stdout + assembled.stderr
        assert "---> Installing the modelserve bundle into /app" in assembled.stdout
        usage = subprocess.run(
            [*BUILDAH, "run", "--isolation=chroot", container, "--", "/tmp/src/.s2i/bin/usage"],
            capture_output=True,
            text=True,
        )
        assert "This folder is a modelserve bundle" in usage.stdout

        def s2i_run(ports: dict[str, str]) -> list[str]:
            flags = [f"--env={key}={value}" for key, value in ports.items()]
            run = [*BUILDAH, "run", "--isolation=chroot", "--user=8888", *flags, container, "--"]
            return [*run, "/tmp/src/.s2i/bin/run"]

        server = serve_bundle(s2i_run)
        answer = httpx.post(server.url + "/api/v1.0/predictions", json={"data": {"ndarray": [[1, 2]]}})
        assert answer.json()["data"]["ndarray"] == [[2, 4]]
    finally:
        subprocess.run([*BUILDAH, "rm", container], capture_output=True)
