"""The layout stays as docs/architecture.md draws it: imports point down, no module
imports one that imports it back, and no module grows past the house's size."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lowest first: an app may import only itself and the apps before it.
LAYERS = [
    "conventions", "accounts", "hub", "notifications", "payments", "bookings", "chat", "privacy",
    "web",
    "config",
]  # fmt: skip
MAX_LINES = 400


def product_modules() -> dict[str, Path]:
    """Every module of ours that ships: no tests, no migrations."""
    found = {}
    for app in LAYERS:
        for path in (ROOT / app).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = product_modules()


def imports_of(name: str, path: Path, *, top_level_only: bool = False) -> set[str]:
    """Our modules that `name` imports, at the top (and inside functions, unless told)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    imported: set[str] = set()
    tree = ast.parse(path.read_text())
    nodes = _top_level(tree) if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                imported.add(target)
    return imported


def _top_level(tree: ast.Module):
    """Statements run at import time: the module's body, into `if`/`try` blocks."""
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If | ast.Try):
            pending.extend(ast.iter_child_nodes(node))


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}
# A cycle is an import-time one; an import inside a function (Django's manager
# hook into accounts.services, say) runs after both modules are loaded.
IMPORT_TIME = {name: imports_of(name, path, top_level_only=True) for name, path in MODULES.items()}


def test_imports_point_down():
    upward = [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if LAYERS.index(target.split(".")[0]) > LAYERS.index(name.split(".")[0])
    ]
    assert upward == []


def test_no_import_cycle_between_modules():
    cycles, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in IMPORT_TIME[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in IMPORT_TIME:
        if node not in index:
            visit(node)
    # A package's __init__ importing its own submodules is how packages expose them.
    cycles = [c for c in cycles if not all(m.startswith(min(c, key=len)) for m in c)]
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_past_the_house_size(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by job"
