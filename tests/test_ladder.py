"""The import ladder (docs/ARCHITECTURE.md): every package imports only the floors below it, and no module
imports a module that (directly or not) imports it back.  Read from the source with ``ast``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from core.settings import REPO_ROOT

# floor of each package: a package may import only packages on lower floors (and itself)
FLOORS = {
    "core": 0,
    "archive": 1,
    "retrieval": 2,
    "nlu": 3, "engine": 3,  # what the Rasa engine loads (nlu also generates training data)
    "bot": 4,
    "connectors": 5,
    "app": 6, "evaluation": 6,
    "civic": 7,
    "bench": 8,
    "tests": 9,
}


def modules() -> Iterator[tuple[str, Path]]:
    for package in FLOORS:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
            yield name.removesuffix(".__init__"), path


MODULES = {name for name, _ in modules()}


def imports(path: Path, top_level_only: bool = False) -> Iterator[str]:
    """Project modules imported by ``path`` (those under ``if TYPE_CHECKING:`` are for the type checker)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def walk(nodes: list[ast.stmt], nested: bool) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                yield from (a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import submodule` depends on the submodule; `from module import name` on module
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES]
                yield from subs or [node.module]
            if not (top_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    children = getattr(node, field, None)
                    if isinstance(children, list):
                        yield from walk([c for c in children if isinstance(c, ast.stmt)], True)

    yield from (name for name in walk(tree.body, False) if name.split(".")[0] in FLOORS)


def test_no_package_imports_a_floor_above_or_beside_it() -> None:
    wrong = []
    for module, path in modules():
        package = module.split(".")[0]
        for target in imports(path):
            other = target.split(".")[0]
            if other != package and FLOORS[other] >= FLOORS[package]:
                wrong.append(f"{module} -> {target}")
    assert sorted(set(wrong)) == []


def test_no_import_cycles_between_modules() -> None:
    known = dict(modules())
    graph = {m: {t for t in imports(p, top_level_only=True) if t in known and t != m}
             for m, p in known.items()}
    cycles: set[tuple[str, ...]] = set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in graph[node]:
            if nxt in path:
                cycle = path[path.index(nxt):]
                start = cycle.index(min(cycle))
                cycles.add(tuple(cycle[start:] + cycle[:start]))
            elif len(path) < 12:
                visit(nxt, [*path, nxt])

    for module in graph:
        visit(module, [module])
    assert sorted(cycles) == []


def test_the_ladder_test_sees_the_packages() -> None:
    """Guard against a test that passes because it reads nothing."""
    found = {m.split(".")[0] for m, _ in modules()}
    assert found >= {"core", "archive", "retrieval", "bot", "app", "connectors", "civic", "engine"}
    assert "retrieval.service" in set(imports(REPO_ROOT / "app" / "factory.py"))
