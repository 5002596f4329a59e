"""Check that the built wheel and sdist hold every file of the package.

    python scripts/check_dist.py dist/

Every file under modelserve/ (data files included: descriptors, JSON, templates, ...; not
__pycache__) must be in the wheel and in the sdist, and the wheel must hold nothing under
modelserve/ that the source tree does not have (no byte code, no stale copies). Exits 1
with the list of differences otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "modelserve"


def _is_build_litter(path: str) -> bool:
    parts = path.split("/")
    return "__pycache__" in parts or path.endswith((".pyc", ".pyo"))


def package_files(root: Path) -> set[str]:
    """Every file of the package in the source tree, as ``modelserve/...`` paths."""
    found = set()
    for path in (root / PACKAGE).rglob("*"):
        name = path.relative_to(root).as_posix()
        if path.is_file() and not _is_build_litter(name):
            found.add(name)
    return found


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if name.startswith(PACKAGE + "/") and not name.endswith("/")}


def sdist_files(sdist: Path) -> set[str]:
    with tarfile.open(sdist) as archive:
        names = set()
        for member in archive.getmembers():
            if not member.isfile():
                continue
            _, _, name = member.name.partition("/")  # drop the modelserve-VERSION/ folder
            if name.startswith(PACKAGE + "/"):
                names.add(name)
        return names


def differences(expected: set[str], wheel: set[str], sdist: set[str]) -> list[str]:
    problems = [f"missing from the wheel: {name}" for name in sorted(expected - wheel)]
    problems += [f"missing from the sdist: {name}" for name in sorted(expected - sdist)]
    problems += [f"in the wheel but not in the source tree: {name}" for name in sorted(wheel - expected)]
    return problems


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"check_dist: expected one {pattern} in {folder}, found {[p.name for p in found]}")
    return found[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dist", type=Path, help="folder holding one wheel and one sdist")
    parser.add_argument("--source", type=Path, default=REPO, help="the source tree (default: this repository)")
    args = parser.parse_args()
    wheel, sdist = only(args.dist, "*.whl"), only(args.dist, "*.tar.gz")
    expected = package_files(args.source)
    problems = differences(expected, wheel_files(wheel), sdist_files(sdist))
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if problems:
        print(
            f"check_dist: {wheel.name} / {sdist.name} do not ship the package as it is in {args.source / PACKAGE}"
            " (see [tool.setuptools.package-data] in pyproject.toml)",
            file=sys.stderr,
        )
        return 1
    print(f"check_dist: {wheel.name} and {sdist.name} hold all {len(expected)} files of {PACKAGE}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
