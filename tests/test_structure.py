"""The layout a newcomer relies on.

Small app modules, no import cycles, SQL only in the store, provider names only in the registry.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "tui_agents"
SQL_WORDS = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "CREATE TABLE")


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _runtime_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules imported at import time (module level, outside ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                else []:
            if isinstance(sub, ast.ImportFrom):
                base = sub.module or ""
                if sub.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - sub.level + 1] + ([base] if base else []))
                for alias in sub.names:
                    full = f"{base}.{alias.name}"
                    found.add(full if full in known else base)
            elif isinstance(sub, ast.Import):
                found.update(alias.name for alias in sub.names)
    return {m for m in found if m in known and m != name}


def test_no_module_is_over_600_lines_and_app_is_under_400():
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
             for p in ROOT.rglob("*.py")}
    assert {k: v for k, v in sizes.items() if v > 600} == {}
    assert sizes["tui/app.py"] < 400


def test_no_import_cycle_among_the_package_modules():
    modules = _modules()
    graph = {name: _runtime_imports(name, path, set(modules)) for name, path in modules.items()}
    # a package's __init__ importing its own submodule is not a cycle worth reporting
    graph = {n: {m for m in deps if not m.startswith(n + ".")} for n, deps in graph.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle.extend(stack[stack.index(nxt):] + [node, nxt] if nxt in stack else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, stack + [node]):
                return True
        state[node] = 2
        return False

    assert not any(visit(n, []) for n in sorted(graph) if n not in state), " -> ".join(cycle)


def test_no_sql_outside_the_store():
    offenders = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py")
                 if p.relative_to(ROOT).parts[0] != "store"
                 and any(word in p.read_text(encoding="utf-8") for word in SQL_WORDS)]
    assert offenders == []


def test_provider_names_are_string_literals_only_in_the_registry_and_the_adapters():
    from tui_agents.providers import registry

    names = set(registry.names())
    allowed = {"providers"}  # the registry and the adapter modules
    seed_default = {"agent.py"}  # Agent(provider="anthropic"): the seed API's documented default
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in allowed or rel.as_posix() in seed_default:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        offenders += [f"{rel}:{n.lineno}" for n in ast.walk(tree)
                      if isinstance(n, ast.Constant) and n.value in names and id(n) not in docstrings]
    assert offenders == []
