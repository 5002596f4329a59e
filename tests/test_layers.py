"""The package's layers only point down (docs/architecture.md), and no import circle exists."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "modelserve"

# Top to bottom: a module may import its own layer and the ones below, never one above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("modelserve.cli", "modelserve.__main__", "modelserve.workers", "modelserve.build", "modelserve"),
    ("modelserve.rest", "modelserve.grpc", "modelserve.tracing", "modelserve.access_log", "modelserve.pushgateway"),
    ("modelserve.handlers",),
    ("modelserve.codecs",),
    ("modelserve.dataplane",),
    ("modelserve.model",),
    (
        "modelserve.metrics",
        "modelserve.settings",
        "modelserve.errors",
        "modelserve.logs",
        "modelserve.version",
        "modelserve.datatypes",
    ),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best, depth = len(LAYERS), -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = index, len(prefix)
    return best


def imports(path: Path, modules: set[str]) -> set[str]:
    """The modelserve modules ``path`` imports at run time (not under TYPE_CHECKING)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    skipped = {id(n) for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)}
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("modelserve"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("modelserve"))
        stack.extend(ast.iter_child_nodes(node))
    return found & modules


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: imports(path, modules) - {name} for name, path in paths.items()}


def test_imports_only_point_down() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if layer_of(target) < layer_of(module) and not module.startswith(target + ".")
    ]
    assert upward == []


def test_no_import_circles() -> None:
    edges = graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if module.startswith(target + "."):
                continue  # a package's __init__ importing its own submodule is no circle
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target] if target in path else [module, target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []
