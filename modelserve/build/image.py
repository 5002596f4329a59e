"""``modelserve build --image NAME``: an OCI image of a bundle, built with buildah.

No Docker daemon: ``buildah build`` runs the bundle's ``Containerfile`` with the vfs
storage driver and chroot isolation, which work as root without kernel overlay or
user-namespace support. Without ``--base``, the base is built from Debian's packages
(mmdebstrap, or debootstrap) for the bundle's Python, once: its root file system is
cached under ``~/.cache/modelserve`` and its image kept in buildah's storage.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from modelserve.build import BuildError
from modelserve.build.bundle import Bundle
from modelserve.build.progress import CommandFailed, Progress

DEBIAN_SUITES = {"3.11": "bookworm", "3.13": "trixie"}  # the Debian release whose python3 is that version
BASE_PACKAGES = ("python3", "python3-venv")
# Debian's docs, manual pages and translations are left out of the base.
_EXCLUDED = ("/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*", "/usr/share/info/*")


def buildah(*args: str) -> list[str]:
    driver = os.environ.get("MODELSERVE_BUILDAH_STORAGE_DRIVER", "vfs")
    return ["buildah", f"--storage-driver={driver}", *args]


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "modelserve"


def build_image(bundle_path: Path, name: str, base: str | None, progress: Progress) -> str:
    """Build ``name`` from the bundle at ``bundle_path``; the image's id."""
    bundle = Bundle.read(bundle_path)
    _need("buildah", "apt-get install buildah")
    if base is None:
        base = base_image(bundle.python_version, progress)
    with tempfile.TemporaryDirectory(prefix="modelserve-image-") as scratch:
        iidfile = Path(scratch) / "iid"
        with progress.step(f"building the image {name} from {base}"):
            command = buildah(
                "build",
                "--isolation=chroot",
                f"--build-arg=BASE={base}",
                f"--iidfile={iidfile}",
                f"--file={bundle_path / 'Containerfile'}",
                f"--tag={name}",
                str(bundle_path),
            )
            _run(command, f"buildah could not build {name}", progress)
        return iidfile.read_text().strip().removeprefix("sha256:")


def base_image(python_version: str, progress: Progress) -> str:
    """A Debian image with the bundle's Python and its venv module; built once."""
    suite = DEBIAN_SUITES.get(python_version)
    if suite is None:
        versions = ", ".join(f"{version} ({suite})" for version, suite in DEBIAN_SUITES.items())
        raise BuildError(
            f"the bundle is for Python {python_version}, and Debian has python3 {versions} only: "
            "give --base with an image of that Python, or build with --python of one of those"
        )
    recipe = f"{suite} {' '.join(BASE_PACKAGES)} {' '.join(_EXCLUDED)} v1"
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    name = f"localhost/modelserve-base:{suite}-{key}"
    if _exists(name):
        return name
    tarball = cache_dir() / f"base-{suite}-{key}.tar"
    if not tarball.is_file():
        with progress.step(f"building a Debian {suite} base with {', '.join(BASE_PACKAGES)} (once; cached)"):
            _bootstrap(suite, tarball, progress)
    with progress.step(f"importing the base into buildah as {name}"):
        container = _run(buildah("from", "scratch"), "buildah from scratch failed", progress)[-1].strip()
        try:
            _run(buildah("add", container, str(tarball), "/"), "buildah could not add the base", progress)
            path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            _run(buildah("config", f"--env={path}", "--cmd=/bin/sh", container), "buildah config failed", progress)
            _run(buildah("commit", "--quiet", container, name), "buildah could not commit the base", progress)
        finally:
            _run(buildah("rm", container), "buildah rm failed", progress)
    return name


def _bootstrap(suite: str, tarball: Path, progress: Progress) -> None:
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_name(f".{tarball.stem}.partial.tar")  # mmdebstrap writes a tarball for a .tar name
    mirror = os.environ.get("MODELSERVE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    _remove(partial)
    try:
        if shutil.which("mmdebstrap"):
            command = ["mmdebstrap", "--variant=apt", f"--include={','.join(BASE_PACKAGES)}"]
            command += [f"--dpkgopt=path-exclude={pattern}" for pattern in _EXCLUDED]
            _run([*command, suite, str(partial), mirror], "mmdebstrap could not build the base", progress)
        else:
            _need("debootstrap", "apt-get install mmdebstrap (or debootstrap)")
            with tempfile.TemporaryDirectory(prefix="modelserve-rootfs-") as root:
                command = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", suite, root]
                _run([*command, mirror], "debootstrap could not build the base", progress)
                for pattern in _EXCLUDED:
                    for path in Path(root).glob(pattern.lstrip("/")):
                        _remove(path)
                _run(["tar", "-C", root, "-cf", str(partial), "."], "could not archive the base", progress)
        if not partial.is_file():
            raise BuildError(f"{partial}: the base's root file system is not a tar file")
        partial.rename(tarball)
    finally:
        _remove(partial)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _exists(image: str) -> bool:
    try:
        Progress(verbose=False).run(buildah("inspect", "--type=image", "--format={{.FromImageID}}", image))
    except CommandFailed:
        return False
    return True


def _need(tool: str, install: str) -> None:
    if shutil.which(tool) is None:
        raise BuildError(f"{tool} is not installed ({install})")


def _run(command: list[str], message: str, progress: Progress) -> list[str]:
    try:
        return progress.run(command)
    except CommandFailed as failed:
        raise BuildError(f"{message}:\n" + "\n".join(failed.output[-25:])) from None
