"""A wheel of the modelserve that is running, to install it into a bundle.

It is made from the imported package's own files and its installed distribution's
metadata (name, version, dependencies, console scripts), so it works the same from an
installed wheel, an editable install or a source tree, needs no build backend and no
network, and installs exactly the code the build runs with.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib import metadata
from pathlib import Path

import modelserve
from modelserve.build import BuildError

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same code gives the same wheel


def package_files(package_dir: Path) -> list[Path]:
    files = []
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            if path.suffix in (".so", ".pyd"):
                raise BuildError(f"{path}: a compiled module cannot go into a py3-none-any wheel")
            files.append(path)
    return files


def write_wheel(directory: Path) -> Path:
    """Write ``modelserve-VERSION-py3-none-any.whl`` into ``directory``; its path."""
    try:
        distribution = metadata.distribution("modelserve")
    except metadata.PackageNotFoundError:
        raise BuildError("modelserve is imported from a folder but not installed: pip install it first") from None
    version = distribution.version
    info = f"modelserve-{version}.dist-info"
    package_dir = Path(modelserve.__file__).parent
    entries: list[tuple[str, bytes, int]] = []
    for path in package_files(package_dir):
        arcname = "modelserve/" + path.relative_to(package_dir).as_posix()
        entries.append((arcname, path.read_bytes(), path.stat().st_mode & 0o777))
    wheel_text = "Wheel-Version: 1.0\nGenerator: modelserve build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    core = distribution.read_text("METADATA") or distribution.read_text("PKG-INFO")  # PKG-INFO: an egg-info
    if not core:
        raise BuildError("the installed modelserve has no METADATA: reinstall it")
    entries.append((f"{info}/METADATA", core.encode(), 0o644))
    entry_points = distribution.read_text("entry_points.txt")
    if entry_points:
        entries.append((f"{info}/entry_points.txt", entry_points.encode(), 0o644))
    entries.append((f"{info}/WHEEL", wheel_text.encode(), 0o644))
    entries.append((f"{info}/top_level.txt", b"modelserve\n", 0o644))
    record = "".join(f"{name},{_digest(data)},{len(data)}\n" for name, data, _ in entries) + f"{info}/RECORD,,\n"
    entries.append((f"{info}/RECORD", record.encode(), 0o644))
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"modelserve-{version}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data, mode in entries:
            entry = zipfile.ZipInfo(name, _EPOCH)
            entry.external_attr = (0o100000 | mode) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
    return target


def _digest(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"
