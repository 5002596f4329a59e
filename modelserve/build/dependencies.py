"""Which file describes the dependencies, and what pip (or conda) is asked to install.

The first of these wins, as in s2i: ``requirements.txt``; ``setup.py`` or a
``pyproject.toml`` project; ``environment.yml``. An ``environment.yml`` is created with
conda, mamba or micromamba when one is on PATH; otherwise its ``pip:`` part goes into a
venv and the build warns of every conda package it left out.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelserve.build import BuildError

CONDA_TOOLS = ("micromamba", "mamba", "conda")


@dataclass
class Dependencies:
    kind: str  # requirements.txt, project, environment.yml, none
    path: Path | None = None
    requirements: list[str] = field(default_factory=list)  # pip arguments naming what to install
    conda: str | None = None  # the conda tool that creates environment.yml's environment
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.path is None:
            return "no dependency file (modelserve only)"
        return self.path.name + (f" with {Path(self.conda).name}" if self.conda else "")


def detect(src: Path, python_version: str) -> Dependencies:
    found = _candidates(src)
    if not found:
        return Dependencies("none")
    chosen = found[0]
    dependencies = _read(chosen, python_version)
    dependencies.notes += [f"{path.name} is not used: {chosen.name} comes first, as in s2i" for path in found[1:]]
    return dependencies


def _candidates(src: Path) -> list[Path]:
    found = []
    if (src / "requirements.txt").is_file():
        found.append(src / "requirements.txt")
    if (src / "setup.py").is_file():
        found.append(src / "setup.py")
    elif _is_project(src / "pyproject.toml"):
        found.append(src / "pyproject.toml")
    for name in ("environment.yml", "environment.yaml"):
        if (src / name).is_file():
            found.append(src / name)
            break
    return found


def _is_project(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise BuildError(f"{path}: {error}") from None
    return "project" in data or "build-system" in data


def _read(path: Path, python_version: str) -> Dependencies:
    if path.name == "requirements.txt":
        return Dependencies("requirements.txt", path, ["-r", "requirements.txt"])
    if path.name in ("setup.py", "pyproject.toml"):
        return Dependencies("project", path)  # the project folder itself: built into a wheel
    return _environment_yml(path, python_version)


def _environment_yml(path: Path, python_version: str) -> Dependencies:
    data = _load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("dependencies", []), list):
        raise BuildError(f"{path}: expected a mapping with a 'dependencies' list")
    tool = next((found for name in CONDA_TOOLS if (found := shutil.which(name))), None)
    dependencies = Dependencies("environment.yml", path, conda=tool)
    if tool:
        return dependencies
    lines = path.read_text(encoding="utf-8").splitlines()
    skipped: list[str] = []
    for item in data.get("dependencies") or []:
        if isinstance(item, dict) and "pip" in item:
            for requirement in item["pip"] or []:
                dependencies.requirements += str(requirement).split(maxsplit=1)
        elif isinstance(item, str):
            name = re.split(r"[\s=<>!~]", item.split("::")[-1], maxsplit=1)[0]
            if name == "python":
                _check_python(path, item, lines, dependencies, python_version)
            elif name != "pip":
                skipped.append(f"{item} (line {_line_of(lines, item)})")
    if skipped:
        dependencies.warnings.append(
            f"{path}: no conda, mamba or micromamba on PATH, so only its pip: part is installed, "
            f"into a venv; left out: {', '.join(skipped)}"
        )
    return dependencies


def _check_python(path: Path, item: str, lines: list[str], dependencies: Dependencies, running: str) -> None:
    wanted = re.sub(r"^python\s*[=<>!~]*\s*", "", item).strip()
    if wanted and not (wanted == running or wanted.startswith(running + ".")):
        dependencies.warnings.append(
            f"{path}:{_line_of(lines, item)}: asks for python {wanted}; without conda the venv has the build's "
            f"Python (--python), here {running}"
        )


def _line_of(lines: list[str], text: str) -> int:
    for number, line in enumerate(lines, 1):
        if text in line:
            return number
    return 0


def _load_yaml(path: Path) -> Any:
    try:
        import yaml
    except ImportError:
        raise BuildError(f"{path}: reading it needs PyYAML: pip install 'modelserve[yaml]'") from None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise BuildError(f"{where}: not valid YAML: {getattr(error, 'problem', error)}") from None
