from pathlib import Path

import pytest

from modelserve.build import BuildError
from modelserve.build.dependencies import detect


def test_first_file_wins_as_in_s2i(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "environment.yml").write_text("dependencies: []\n")
    found = detect(tmp_path, "3.11")
    assert found.kind == "project" and found.path == tmp_path / "setup.py"
    assert found.notes == ["environment.yml is not used: setup.py comes first, as in s2i"]
    (tmp_path / "requirements.txt").write_text("numpy\n")
    found = detect(tmp_path, "3.11")
    assert found.kind == "requirements.txt" and found.requirements == ["-r", "requirements.txt"]
    assert len(found.notes) == 2


def test_a_pyproject_without_a_project_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    assert detect(tmp_path, "3.11").kind == "none"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "m"\nversion = "1"\n')
    assert detect(tmp_path, "3.11").kind == "project"
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(BuildError, match=r"pyproject\.toml: "):
        detect(tmp_path, "3.11")


def test_environment_yml_without_conda_keeps_the_pip_part_and_says_what_it_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-conda-here"))
    path = tmp_path / "environment.yml"
    path.write_text(
        "name: m\nchannels:\n  - defaults\ndependencies:\n  - python=3.6\n  - scikit-learn=0.19.1\n  - pip\n"
        "  - pip:\n    - packaging>=20\n    - -r extra.txt\n"
    )
    found = detect(tmp_path, "3.11")
    assert found.kind == "environment.yml" and found.conda is None
    assert found.requirements == ["packaging>=20", "-r", "extra.txt"]
    assert found.warnings == [
        f"{path}:5: asks for python 3.6; without conda the venv has the build's Python (--python), here 3.11",
        f"{path}: no conda, mamba or micromamba on PATH, so only its pip: part is installed, into a venv; "
        "left out: scikit-learn=0.19.1 (line 6)",
    ]


def test_bad_environment_yml(tmp_path: Path) -> None:
    (tmp_path / "environment.yml").write_text("dependencies:\n  - a\n - b: [\n")
    with pytest.raises(BuildError, match=r"environment\.yml:3: not valid YAML"):
        detect(tmp_path, "3.11")
