"""The user's class in the source folder: its file exists and defines the class.

``MODEL_NAME`` is ``Module`` (class ``Module`` in ``Module.py``) or
``package.module.Class``, as ``modelserve serve`` reads it. The check reads the file
with ``ast`` and runs none of the user's code.
"""

from __future__ import annotations

import ast
from pathlib import Path

from modelserve.build import BuildError


def split_name(model_name: str) -> tuple[str, str]:
    """``Module`` -> (Module, Module); ``a.b.Class`` -> (a.b, Class)."""
    if "." in model_name:
        module, _, name = model_name.rpartition(".")
        return module, name
    return model_name, model_name


def module_file(src: Path, module: str) -> Path | None:
    """The file of ``module`` under ``src``, if it is there."""
    base = src.joinpath(*module.split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def check_class(path: Path, class_name: str, where: str) -> None:
    """``path`` defines (or imports) ``class_name`` at its top level."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as error:
        raise BuildError(f"{path}:{error.lineno}: {error.msg}") from None
    bound: dict[str, int] = {}
    classes: list[str] = []
    for node in _top_level(tree.body):
        if isinstance(node, ast.ClassDef):
            bound[node.name] = node.lineno
            classes.append(f"{node.name} (line {node.lineno})")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    bound[target.id] = node.lineno
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    return  # cannot tell statically: the import at start-up will
                bound[(alias.asname or alias.name).split(".")[0]] = node.lineno
    if class_name not in bound:
        there = ", ".join(classes) if classes else "none"
        raise BuildError(f"{path}: no class {class_name} in this file (MODEL_NAME at {where}); classes there: {there}")


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run at import, including those under a module-level if/try/with."""
    nodes: list[ast.stmt] = []
    for node in body:
        nodes.append(node)
        if isinstance(node, ast.If | ast.Try | ast.With):
            for part in ("body", "orelse", "finalbody"):
                nodes.extend(_top_level(getattr(node, part, [])))
            for handler in getattr(node, "handlers", []):
                nodes.extend(_top_level(handler.body))
    return nodes
