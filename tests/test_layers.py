"""White-box test of the import graph of src/enact: no module imports another in a loop.

Every import counts, at any level: module level, inside functions, and under
``if TYPE_CHECKING:`` (the type checker follows those too).
"""

from __future__ import annotations

import ast
import pathlib

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"

KNOWN_CYCLES: set[frozenset[str]] = set()


def module_names() -> dict[str, pathlib.Path]:
    names = {}
    for path in (SRC / "enact").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: pathlib.Path, known: set[str]) -> set[str]:
    """The modules of src/enact that `name` imports (a package's import of a submodule included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph() -> dict[str, set[str]]:
    names = module_names()
    known = set(names)
    graph = {name: imports_of(name, path, known) for name, path in names.items()}
    # A package importing its own submodules (re-exports) is not a loop: the
    # submodules are what the package is made of.
    return {
        name: {t for t in targets if not t.startswith(name + ".")}
        for name, targets in graph.items()
    }


def test_no_import_cycles() -> None:
    """No two modules of src/enact import each other, directly or through others."""
    graph = import_graph()
    for pair in KNOWN_CYCLES:
        a, b = sorted(pair)
        graph[a].discard(b)
        graph[b].discard(a)
    assert cycles(graph) == []


def test_the_checker_finds_a_cycle() -> None:
    """The cycle finder reports a loop through three modules (so the test above can fail)."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_context_imports_no_store() -> None:
    """context, below refs and stores, imports neither (the loop context -> store -> refs)."""
    graph = import_graph()
    assert not {t for t in graph["enact.context"] if t.startswith(("enact.stores", "enact.refs"))}
