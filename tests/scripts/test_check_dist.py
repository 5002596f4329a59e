"""scripts/check_dist.py: a file of modelserve/ missing from the wheel or the sdist fails."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "check_dist.py"
_spec = importlib.util.spec_from_file_location("check_dist", SCRIPT)
assert _spec is not None and _spec.loader is not None
check_dist = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_dist)

# What pyproject.toml shipped before issue 10: the REST JSON only, not modelserve/grpc/seldon.desc.
OLD_PACKAGE_DATA = '[tool.setuptools.package-data]\n"modelserve.rest" = ["*.json"]\n'


def test_differences_name_missing_and_stray_files() -> None:
    expected = {"modelserve/__init__.py", "modelserve/grpc/seldon.desc", "modelserve/rest/x.json"}
    wheel = {"modelserve/__init__.py", "modelserve/rest/x.json", "modelserve/__pycache__/__init__.cpython-311.pyc"}
    sdist = set(expected)
    assert check_dist.differences(expected, wheel, sdist) == [
        "missing from the wheel: modelserve/grpc/seldon.desc",
        "in the wheel but not in the source tree: modelserve/__pycache__/__init__.cpython-311.pyc",
    ]
    assert check_dist.differences(expected, set(expected), set(expected)) == []


def test_package_files_skip_byte_code(tmp_path: Path) -> None:
    (tmp_path / "modelserve" / "__pycache__").mkdir(parents=True)
    (tmp_path / "modelserve" / "templates").mkdir()
    (tmp_path / "modelserve" / "__init__.py").write_text("")
    (tmp_path / "modelserve" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"")
    (tmp_path / "modelserve" / "templates" / "Dockerfile").write_text("FROM scratch\n")
    assert check_dist.package_files(tmp_path) == {"modelserve/__init__.py", "modelserve/templates/Dockerfile"}


def _build(source: Path, pyproject: str, dist: Path) -> None:
    (source / "pyproject.toml").write_text(pyproject)
    build = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)]
    result = subprocess.run(build, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def _source_copy(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    shutil.copytree(REPO / "modelserve", source / "modelserve", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "README.md", source / "README.md")
    return source


def test_fails_on_the_package_data_of_before_issue_10(tmp_path: Path) -> None:
    """The real wheel and sdist of the old package-data miss the data files, and the check says which."""
    source = _source_copy(tmp_path)
    pyproject = (REPO / "pyproject.toml").read_text()
    old, count = re.subn(
        r"\[tool\.setuptools\.package-data\]\n.*?\n\n(\[tool\.setuptools\.exclude-package-data\]\n.*?\n\n)?",
        OLD_PACKAGE_DATA + "\n",
        pyproject,
        flags=re.S,
    )
    assert count == 1
    _build(source, old, tmp_path / "dist")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "dist"), "--source", str(source)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    data_files = [
        path.relative_to(source).as_posix()
        for path in (source / "modelserve").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".json")
    ]
    assert data_files  # seldon.desc, wherever it lives
    for name in data_files:
        assert f"missing from the wheel: {name}" in result.stderr
        assert f"missing from the sdist: {name}" in result.stderr
