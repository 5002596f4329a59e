"""``.s2i/environment`` and ``-e KEY=VALUE``: what the build and the server get.

The file has one ``KEY=VALUE`` per line, ``#`` comments and blank lines, as s2i reads
it. Unlike s2i, which skips a line it cannot read, a bad line is an error naming the
file and line. A value may be quoted ('...' or "..."); the quotes are removed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from modelserve.build import BuildError
from modelserve.settings import OPTIONS, SettingsError, convert

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

# Read by the build only: never written into the image, where they could leak credentials.
BUILD_ONLY = ("EXTRA_INDEX_URL", "PIP_TRUSTED_HOST")
BUILD_ONLY_PREFIXES = ("PIP_",)
# Read by the original's s2i scripts and no longer meaning anything.
OBSOLETE = {"PERSISTENCE": "persistence was removed from Seldon Core", "API_TYPE": "every API is always served"}
# Prefixes of server settings: a key with one of them that modelserve does not know is likely a typo.
SETTING_PREFIXES = ("GUNICORN_", "GRPC_", "PREDICTIVE_UNIT_", "MODELSERVE_", "PUSHGATEWAY_", "SELDON_", "FLASK_")
_OPTION_OF = {variable: option for option in OPTIONS for variable in option.env}


@dataclass(frozen=True)
class Assignment:
    key: str
    value: str
    where: str  # "path:line" or "-e KEY=..."


def parse_line(text: str, where: str) -> Assignment:
    """One ``KEY=VALUE`` (an optional ``export`` before it)."""
    line = text.strip()
    if line.startswith("export "):
        line = line[len("export ") :].lstrip()
    key, equals, value = line.partition("=")
    if not equals:
        raise BuildError(f"{where}: expected KEY=VALUE, got {text.strip()!r}")
    if not _NAME.fullmatch(key):
        raise BuildError(f"{where}: {key!r} is not a variable name (letters, digits and _, no spaces around =)")
    value = value.strip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        if len(value) < 2 or not value.endswith(quote):
            raise BuildError(f"{where}: {key}: the quote {quote} is not closed on this line")
        value = value[1:-1]
    return Assignment(key, value, where)


def parse_file(path: Path) -> list[Assignment]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise BuildError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    assignments = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            assignments.append(parse_line(line, f"{path}:{number}"))
    return assignments


def parse_overrides(texts: Iterable[str]) -> list[Assignment]:
    """``-e KEY=VALUE`` given on the command line (no quotes removed: the shell did that)."""
    overrides = []
    for text in texts:
        key, equals, value = text.partition("=")
        where = f"-e {text}"
        if not equals or not _NAME.fullmatch(key):
            raise BuildError(f"{where}: expected -e KEY=VALUE")
        if "\n" in value:
            raise BuildError(f"-e {key}: a value cannot hold a line break")
        overrides.append(Assignment(key, value, where))
    return overrides


@dataclass
class BuildEnvironment:
    """The resolved variables: what the server runs with and what pip gets at build time."""

    model_name: str
    service_type: str
    runtime: dict[str, str]
    pip: dict[str, str]
    where: dict[str, str]  # key -> where its value came from
    warnings: list[str] = field(default_factory=list)


def resolve(assignments: Sequence[Assignment], environment_file: Path | None = None) -> BuildEnvironment:
    """Later assignments win (the file's, then ``-e``); check what modelserve will read."""
    values: dict[str, str] = {}
    where: dict[str, str] = {}
    for assignment in assignments:
        values[assignment.key] = assignment.value
        where[assignment.key] = assignment.where
    warnings: list[str] = []
    runtime: dict[str, str] = {}
    pip: dict[str, str] = {}
    for key, value in values.items():
        if key in OBSOLETE:
            warnings.append(f"{where[key]}: {key} is ignored ({OBSOLETE[key]})")
        elif key in BUILD_ONLY or key.startswith(BUILD_ONLY_PREFIXES):
            pip[key] = value
        else:
            _check_setting(key, value, where[key], warnings)
            runtime[key] = value
    source = f"{environment_file}" if environment_file else ".s2i/environment"
    model_name = values.get("MODEL_NAME", "").strip()
    if not model_name:
        raise BuildError(
            f"MODEL_NAME is not set: add MODEL_NAME=MyModel (the class, in MyModel.py) to {source} "
            "or pass -e MODEL_NAME=MyModel"
        )
    if not _MODEL_NAME.fullmatch(model_name):
        raise BuildError(f"{where['MODEL_NAME']}: MODEL_NAME={model_name!r} is not Module or package.module.Class")
    service_type = values.get("SERVICE_TYPE", "").strip().upper()
    if not service_type:
        service_type = "MODEL"
        warnings.append(f"SERVICE_TYPE is not set in {source}: serving as MODEL")
    runtime["MODEL_NAME"] = model_name
    runtime["SERVICE_TYPE"] = service_type
    return BuildEnvironment(model_name, service_type, runtime, pip, where, warnings)


def _check_setting(key: str, value: str, where: str, warnings: list[str]) -> None:
    option = _OPTION_OF.get(key)
    if option is not None:
        try:
            convert(option, value, source=key)
        except SettingsError as error:
            raise BuildError(f"{where}: {error}") from None
    elif key.startswith(SETTING_PREFIXES):
        close = difflib.get_close_matches(key, _OPTION_OF, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"{where}: {key} is not a modelserve setting{hint}; it is passed to the server as is")
