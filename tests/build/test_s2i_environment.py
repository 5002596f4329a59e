from pathlib import Path

import pytest

from modelserve.build import BuildError
from modelserve.build.s2i_environment import parse_file, parse_overrides, resolve


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "environment"
    path.write_text(text)
    return path


def test_lines_comments_quotes_and_export(tmp_path: Path) -> None:
    path = write(
        tmp_path, "# a comment\n\nMODEL_NAME=MyModel\nexport SERVICE_TYPE='ROUTER'\nNOTE=\"a b = c\"\nEMPTY=\n"
    )
    assignments = parse_file(path)
    assert [(a.key, a.value, a.where) for a in assignments] == [
        ("MODEL_NAME", "MyModel", f"{path}:3"),
        ("SERVICE_TYPE", "ROUTER", f"{path}:4"),
        ("NOTE", "a b = c", f"{path}:5"),
        ("EMPTY", "", f"{path}:6"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("SERVICE TYPE=MODEL", "'SERVICE TYPE' is not a variable name"),
        ("MODEL_NAME", "expected KEY=VALUE"),
        ("1ABC=x", "'1ABC' is not a variable name"),
        ("NOTE='open", "the quote ' is not closed"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, f"MODEL_NAME=M\n{line}\n")
    with pytest.raises(BuildError, match=f"^{path}:2: .*{message}"):
        parse_file(path)


def test_overrides_win_and_build_only_variables_stay_out_of_the_server(tmp_path: Path) -> None:
    path = write(tmp_path, "MODEL_NAME=A\nSERVICE_TYPE=MODEL\nEXTRA_INDEX_URL=https://u:p@pypi.example/simple\n")
    overrides = parse_overrides(["MODEL_NAME=B", "PIP_TRUSTED_HOST=pypi.example", "PAYLOAD_PASSTHROUGH=true"])
    environment = resolve([*parse_file(path), *overrides], path)
    assert environment.model_name == "B" and environment.where["MODEL_NAME"] == "-e MODEL_NAME=B"
    assert environment.runtime == {"MODEL_NAME": "B", "SERVICE_TYPE": "MODEL", "PAYLOAD_PASSTHROUGH": "true"}
    assert environment.pip == {"EXTRA_INDEX_URL": "https://u:p@pypi.example/simple", "PIP_TRUSTED_HOST": "pypi.example"}


def test_obsolete_and_misspelt_variables_are_warned(tmp_path: Path) -> None:
    path = write(tmp_path, "MODEL_NAME=A\nSERVICE_TYPE=model\nPERSISTENCE=0\nGUNICORN_WORKER=4\nMY_OWN=1\n")
    environment = resolve(parse_file(path), path)
    assert environment.service_type == "MODEL"
    assert "PERSISTENCE" not in environment.runtime and environment.runtime["MY_OWN"] == "1"
    assert environment.runtime["GUNICORN_WORKER"] == "4"
    assert environment.warnings == [
        f"{path}:3: PERSISTENCE is ignored (persistence was removed from Seldon Core)",
        f"{path}:4: GUNICORN_WORKER is not a modelserve setting (did you mean GUNICORN_WORKERS?); "
        "it is passed to the server as is",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("MODEL_NAME=A\nSERVICE_TYPE=PREDICTOR\n", ":2: SERVICE_TYPE='PREDICTOR': 'PREDICTOR' is not one of MODEL"),
        ("MODEL_NAME=A\nGUNICORN_WORKERS=two\n", ":2: GUNICORN_WORKERS='two'"),
        ("MODEL_NAME=my-model\n", ":1: MODEL_NAME='my-model' is not Module or package.module.Class"),
        ("SERVICE_TYPE=MODEL\n", "MODEL_NAME is not set: add MODEL_NAME=MyModel"),
    ],
)
def test_values_modelserve_reads_are_checked_at_build(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(BuildError) as raised:
        resolve(parse_file(path), path)
    assert message in str(raised.value)


def test_a_missing_service_type_serves_a_model_with_a_warning(tmp_path: Path) -> None:
    environment = resolve(parse_overrides(["MODEL_NAME=pkg.mod.Klass"]))
    assert (environment.model_name, environment.service_type) == ("pkg.mod.Klass", "MODEL")
    assert environment.warnings == ["SERVICE_TYPE is not set in .s2i/environment: serving as MODEL"]


def test_bad_overrides() -> None:
    with pytest.raises(BuildError, match="-e MODEL_NAME: expected -e KEY=VALUE"):
        parse_overrides(["MODEL_NAME"])
    with pytest.raises(BuildError, match="line break"):
        parse_overrides(["A=1\n2"])
