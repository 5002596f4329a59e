"""Finding the user's class and building it from its parameters.

Every failure here is a ``StartupError`` whose message is one line naming the culprit:
the module, the class or the parameter.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import sys
import traceback
from typing import Any

from modelserve.errors import StartupError
from modelserve.settings import parse_bool

logger = logging.getLogger(__name__)

PARAMETER_TYPES = ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL", "JSON")


def import_user_class(interface_name: str) -> type:
    """``Module`` (class ``Module`` in ``Module.py``) or ``pkg.module.Class``."""
    if not interface_name or interface_name.startswith(".") or interface_name.endswith("."):
        raise StartupError(f"invalid interface name {interface_name!r}: use Module or package.module.Class")
    if "." in interface_name:
        module_name, class_name = interface_name.rsplit(".", 1)
    else:
        module_name = class_name = interface_name
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.split(".")[0] == error.name.split(".")[0]:
            raise StartupError(
                f"cannot import module {module_name!r} for {interface_name!r}: "
                f"no {module_name.replace('.', '/')}.py in {cwd} or on the Python path"
            ) from None
        raise StartupError(f"importing module {module_name!r} failed: {_one_line(error)}") from None
    except Exception as error:
        logger.debug("import of %s failed:\n%s", module_name, traceback.format_exc())
        raise StartupError(f"importing module {module_name!r} failed: {_one_line(error)}") from None
    user_class = getattr(module, class_name, None)
    if user_class is None:
        raise StartupError(f"module {module_name!r} has no class {class_name!r}")
    if not inspect.isclass(user_class):
        raise StartupError(f"{interface_name!r} is not a class but {type(user_class).__name__}")
    return user_class


def parse_parameters(parameters: Any) -> dict[str, Any]:
    """``[{"name", "value", "type"}, ...]`` to constructor keyword arguments."""
    if isinstance(parameters, str):
        try:
            parameters = json.loads(parameters)
        except ValueError as error:
            raise StartupError(f"--parameters is not valid JSON: {error}") from None
    if not isinstance(parameters, list):
        raise StartupError("--parameters must be a JSON list of {name, value, type}")
    kwargs: dict[str, Any] = {}
    for index, parameter in enumerate(parameters):
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise StartupError(f"parameter #{index} must be an object with a string 'name': {parameter!r}")
        name = parameter["name"]
        kind = str(parameter.get("type", "STRING")).upper()
        if "value" not in parameter:
            raise StartupError(f"parameter {name!r} has no value")
        kwargs[name] = convert_parameter(name, parameter["value"], kind)
    return kwargs


def convert_parameter(name: str, value: Any, kind: str) -> Any:
    if kind not in PARAMETER_TYPES:
        raise StartupError(f"parameter {name!r} has unknown type {kind!r}: valid are {', '.join(PARAMETER_TYPES)}")
    try:
        if kind == "INT":
            return int(value)
        if kind in ("FLOAT", "DOUBLE"):
            return float(value)
        if kind == "STRING":
            return str(value)
        if kind == "BOOL":
            return value if isinstance(value, bool) else parse_bool(str(value))
        return json.loads(value) if isinstance(value, str) else value
    except (ValueError, TypeError) as error:
        raise StartupError(
            f"parameter {name!r} with value {value!r} cannot be parsed as {kind}: {_one_line(error)}"
        ) from None


def construct(user_class: type, kwargs: dict[str, Any]) -> Any:
    """Build the user's object, refusing parameters its constructor does not take."""
    unknown = _unaccepted(user_class, kwargs)
    if unknown:
        raise StartupError(f"{user_class.__name__}.__init__ takes no parameter {', '.join(map(repr, unknown))}")
    try:
        return user_class(**kwargs)
    except Exception as error:
        logger.debug("constructing %s failed:\n%s", user_class.__name__, traceback.format_exc())
        raise StartupError(f"{user_class.__name__}(...) raised {_one_line(error)}") from None


def _unaccepted(user_class: type, kwargs: dict[str, Any]) -> list[str]:
    try:
        signature = inspect.signature(user_class)
    except (TypeError, ValueError):
        return []
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return []
    accepted = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return [name for name in kwargs if name not in accepted]


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
