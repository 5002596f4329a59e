"""Real builds of the apps of apps/ into bundles; each bundle is started with its run script."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from modelserve.build.bundle import Bundle
from tests.build.conftest import APPS, build_env, built, run_build
from tests.conftest import REPO


def predict(url: str, rows: list[list[float]], path: str = "/api/v1.0/predictions") -> list[list[float]]:
    answer = httpx.post(url + path, json={"data": {"ndarray": rows}}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["ndarray"]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def test_the_model_app(model_bundle, serve_bundle) -> None:  # type: ignore[no-untyped-def]
    bundle, result = model_bundle
    # not on a terminal: no progress, the one warning, one line to say where the bundle is
    assert result.stdout == f"bundle {bundle}: start it with {bundle / 'run'}\n"
    warning = "PERSISTENCE is ignored (persistence was removed from Seldon Core)"
    assert result.stderr == f"warning: {APPS / 'model/.s2i/environment'}:4: {warning}\n"
    for name in ("run", "install", ".s2i/bin/assemble", ".s2i/bin/run", ".s2i/bin/usage"):
        assert os.access(bundle / name, os.X_OK), name
    assert (bundle / "environment").read_text().splitlines()[1:] == ["MODEL_NAME=MyModel", "SERVICE_TYPE=MODEL"]
    assert Bundle.read(bundle).model_name == "MyModel" and (bundle / "src" / "MyModel.py").is_file()
    assert "FROM ${BASE}" in (bundle / "Containerfile").read_text()
    assert "venv/" in (bundle / ".containerignore").read_text()
    assert not list(bundle.parent.glob(".model.*")), "the staging folder is gone"
    # the venv was built elsewhere and moved: its scripts name where it is now
    version = subprocess.run([bundle / "venv/bin/modelserve", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("modelserve ")
    assert str(bundle) in (bundle / "venv/bin/activate").read_text()
    server = serve_bundle(bundle)
    assert predict(server.url, [[1, 2.5]]) == [[2, 5.0]]
    # a variable set when the bundle starts wins over its environment file: here the constructor's
    parameters = json.dumps([{"name": "factor", "value": "5", "type": "INT"}])
    five = serve_bundle(bundle, env={"PREDICTIVE_UNIT_PARAMETERS": parameters, "MODEL_NAME": "MyModel"})
    assert predict(five.url, [[1]]) == [[5]]


def test_the_router_app(bundles: Path, serve_bundle) -> None:  # type: ignore[no-untyped-def]
    built("router", bundles / "router")
    server = serve_bundle(bundles / "router")
    for row, child in (([3.0], 0), ([-3.0], 1)):
        answer = httpx.post(server.url + "/route", json={"data": {"ndarray": [row]}}).json()
        assert answer["data"]["ndarray"] == [[child]]


def test_the_transformer_app(transformer_build, serve_bundle) -> None:  # type: ignore[no-untyped-def]
    bundle, result = transformer_build
    assert not (bundle / "stale").exists(), "--force replaced the old folder"
    # -v: the steps, pip's own output and the time taken
    for shown in ("==> reading", "==> collecting the packages", "Successfully installed", "s (total", "==> building"):
        assert shown in result.stderr, shown
    server = serve_bundle(bundle)
    assert predict(server.url, [[10.5, 20]], "/transform-input") == [[0.5, 10]]
    assert predict(server.url, [[1.4, 2.6]], "/transform-output") == [[1, 3]]
    # GUNICORN_WORKERS=2 of .s2i/environment reached the server: two REST workers and a gRPC one
    assert len(children(server.proc.pid)) == 3


def test_requirements_with_scikit_learn(bundles: Path, serve_bundle) -> None:  # type: ignore[no-untyped-def]
    built("sklearn", bundles / "sklearn")
    assert list((bundles / "sklearn" / "wheels").glob("scikit_learn-*.whl"))
    server = serve_bundle(bundles / "sklearn")
    assert predict(server.url, [[5.0, 3.4, 1.5, 0.2], [6.5, 2.8, 5.1, 2.0]]) == [0, 1]


def test_setup_py_built_by_a_modelserve_installed_from_its_wheel(tmp_path: Path, bundles: Path, serve_bundle) -> None:  # type: ignore[no-untyped-def]
    """A fresh venv with modelserve from a real wheel (no source tree): it builds a bundle of itself."""
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(REPO)]
    subprocess.run(pip_wheel, check=True, capture_output=True, cwd=tmp_path)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (wheel,) = wheels.glob("modelserve-*.whl")
    subprocess.run([venv / "bin/python", "-m", "pip", "install", "--quiet", wheel], check=True, capture_output=True)
    output = bundles / "setup_py"
    built("setup_py", output, python=str(venv / "bin/python"), cwd=tmp_path)
    assert not list((output / "src").glob("*.egg-info")) and not (output / "src" / "build").exists()
    assert list((output / "wheels").glob("scaler_model-1.0-*.whl")) and list((output / "wheels").glob("packaging-*"))
    # the bundle's modelserve is the installed one, file for file
    installed = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (bundled,) = (output / "wheels").glob("modelserve-*.whl")
    with zipfile.ZipFile(bundled) as archive:
        for name in archive.namelist():
            if name.startswith("modelserve/"):
                assert archive.read(name) == (installed / name).read_bytes(), name
        record = archive.read(next(n for n in archive.namelist() if n.endswith("RECORD"))).decode()
        for line in record.splitlines():
            name, digest, size = line.rsplit(",", 2)
            if digest:
                data = archive.read(name)
                expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert digest == f"sha256={expected}" and int(size) == len(data), name
    server = serve_bundle(output)
    assert predict(server.url, [[1, 2]]) == [[3, 6]]


TINY_WHEEL = "modelserve_test_offset-1.0-py3-none-any.whl"


def tiny_wheel(folder: Path) -> Path:
    """modelserve-test-offset 1.0 (module tinyoffset): a package on no index, only in a local folder."""
    folder.mkdir()
    path = folder / TINY_WHEEL
    info = "modelserve_test_offset-1.0.dist-info"
    files = {
        "tinyoffset/__init__.py": b"OFFSET = 7\n",
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: modelserve-test-offset\nVersion: 1.0\n",
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", record)
    return folder


def test_local_wheels_only_with_an_unreachable_index(tmp_path: Path, model_bundle, serve_bundle) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once closed
    env = build_env(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=f"http://127.0.0.1:{closed}/simple", PIP_RETRIES="0")
    for variable in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        env.pop(variable, None)
    local = tiny_wheel(tmp_path / "local")
    # modelserve's own dependencies: the wheels another bundle holds
    model_wheels = model_bundle[0] / "wheels"
    output = tmp_path / "bundle"
    built("localwheels", output, "--wheels", str(local), "--wheels", str(model_wheels), env=env)
    assert (output / "wheels" / TINY_WHEEL).is_file()
    server = serve_bundle(output)
    assert predict(server.url, [[1, 2]]) == [[8, 9]]


def nothing_left(parent: Path, name: str) -> None:
    assert not (parent / name).exists() and not [p for p in parent.iterdir() if p.name.startswith(f".{name}.")]


def test_a_bad_environment_file_is_named_by_line(tmp_path: Path) -> None:
    result = run_build(str(APPS / "bad_environment"), "-o", str(tmp_path / "out"))
    path = APPS / "bad_environment" / ".s2i" / "environment"
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        f"modelserve build: error: {path}:3: 'SERVICE TYPE' is not a variable name "
        "(letters, digits and _, no spaces around =)\n"
    )
    nothing_left(tmp_path, "out")


def app(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "src"
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return src


ENV_M = {".s2i/environment": "MODEL_NAME=M\n", "M.py": "class M:\n    pass\n"}
MISSING = {".s2i/environment": "MODEL_NAME=Missing\n"}
NOT_IN_FILE = {
    ".s2i/environment": "MODEL_NAME=pkg.models.Tree\n",
    "pkg/__init__.py": "",
    "pkg/models.py": "class Forest:\n    pass\n",
}
FAILS = {**ENV_M, "requirements.txt": "numpy\nno-such-package-for-modelserve-tests==1.0\n"}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (MISSING, "{src}/.s2i/environment:1: MODEL_NAME=Missing: there is no Missing.py in {src}"),
        (
            NOT_IN_FILE,
            "{src}/pkg/models.py: no class Tree in this file (MODEL_NAME at {src}/.s2i/environment:1); "
            "classes there: Forest (line 1)",
        ),
        (FAILS, "{src}/requirements.txt:2: pip found no distribution of no-such-package-for-modelserve-tests==1.0"),
    ],
    ids=["missing-class-file", "class-not-in-file", "failed-install"],
)
def test_errors_name_the_file(tmp_path: Path, files: dict[str, str], message: str) -> None:
    src = app(tmp_path, files)
    result = run_build(str(src), "-o", str(tmp_path / "out"), "-e", "SERVICE_TYPE=MODEL")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("modelserve build: error: " + message.format(src=src)), result.stderr
    nothing_left(tmp_path, "out")


def test_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    exists = run_build(str(APPS / "model"), "-o", str(tmp_path / "out"))
    assert exists.returncode == 1 and f"{tmp_path / 'out'} exists: give --force to replace it" in exists.stderr
    neither = run_build(str(APPS / "model"))
    assert neither.returncode == 2 and "give --output DIR, --image NAME or both" in neither.stderr
    missing = run_build(str(tmp_path / "nowhere"), "-o", str(tmp_path / "x"))
    assert missing.returncode == 1 and f"{tmp_path / 'nowhere'}: no such folder" in missing.stderr


def test_a_private_index_from_the_environment_file_is_used_and_not_kept(tmp_path: Path, serve_bundle) -> None:  # type: ignore[no-untyped-def]
    """EXTRA_INDEX_URL and PIP_TRUSTED_HOST (given with -e, as 004 recommends) reach pip, not the server."""
    from tests.conftest import free_port, wait_for

    index = tmp_path / "index"
    (index / "simple" / "modelserve-test-offset").mkdir(parents=True)
    wheel = tiny_wheel(index / "files") / TINY_WHEEL
    link = f'<a href="../../files/{wheel.name}">{wheel.name}</a>'
    (index / "simple" / "modelserve-test-offset" / "index.html").write_text(f"<html><body>{link}</body></html>\n")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(index), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: _answers(port), timeout=10)
        output = tmp_path / "bundle"
        url = f"http://127.0.0.1:{port}/simple"
        built("localwheels", output, "-e", f"EXTRA_INDEX_URL={url}", "-e", "PIP_TRUSTED_HOST=127.0.0.1")
    finally:
        server.terminate()
        server.wait(10)
    assert (output / "wheels" / wheel.name).is_file()
    for name in ("environment", ".s2i/environment", "bundle.json"):
        assert url not in (output / name).read_text(), name
    assert predict(serve_bundle(output).url, [[1]]) == [[8]]


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/simple/modelserve-test-offset/").status_code == 200
    except httpx.TransportError:
        return False
