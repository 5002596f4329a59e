"""Kubernetes-style YAML from dicts, lists and scalars, without a YAML library.

Strings that YAML could read as something else (numbers, booleans, null, anything with
special characters) are written as JSON strings, which YAML reads back unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./@-]*")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def dump_all(documents: Iterable[Any]) -> str:
    return "".join("---\n" + "\n".join(_lines(document, 0)) + "\n" for document in documents)


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)


def _is_block(value: Any) -> bool:
    return isinstance(value, dict | list) and bool(value)


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if not _is_block(item):
                lines.append(f"{pad}{scalar(key)}: {scalar(item)}")
            elif isinstance(item, dict):
                lines.append(f"{pad}{scalar(key)}:")
                lines += _lines(item, indent + 2)
            else:
                lines.append(f"{pad}{scalar(key)}:")
                lines += _lines(item, indent)  # list items under a key at the key's indent, as kubectl writes
    elif isinstance(value, list):
        for item in value:
            if not _is_block(item):
                lines.append(f"{pad}- {scalar(item)}")
            else:
                inner = _lines(item, indent + 2)
                lines.append(f"{pad}- {inner[0][indent + 2 :]}")
                lines += inner[1:]
    else:
        lines.append(pad + scalar(value))
    return lines
