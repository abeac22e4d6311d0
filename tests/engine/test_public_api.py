"""Every public name resolves: ``__all__`` of the package and its subpackages, and the seed README's imports."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PUBLIC_MODULES = [
    "tui_agents",
    "tui_agents.errors",
    "tui_agents.types",
    "tui_agents.events",
    "tui_agents.secrets",
    "tui_agents.agent",
    "tui_agents.runner",
    "tui_agents.definition",
    "tui_agents.documents",
    "tui_agents.store.transfer",
    "tui_agents.files",
    "tui_agents.store",
    "tui_agents.providers",
    "tui_agents.memory",
    "tui_agents.tools",
    "tui_agents.guardrails",
    "tui_agents.limits",
    "tui_agents.workers",
]
SEED = Path(__file__).resolve().parents[1] / "seed_README.md"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_name_in_all_resolves(module_name):
    module = importlib.import_module(module_name)
    names = module.__all__
    assert len(names) == len(set(names)), "a name is listed twice"
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == []


def test_star_import_of_the_package_gives_every_public_name():
    namespace: dict[str, object] = {}
    exec("from tui_agents import *", namespace)  # noqa: S102 - the import statement users write
    import tui_agents

    assert set(tui_agents.__all__) <= set(namespace)
    assert set(tui_agents.__all__) <= set(dir(tui_agents))


def _seed_imports() -> list[tuple[str, str]]:
    """(module, name) for each ``from ai_agents... import name`` in the seed README's Python blocks."""
    text = SEED.read_text(encoding="utf-8")
    pairs = []
    for block in text.split("```python")[1:]:
        code = block.split("```", 1)[0]
        tree = compile(code, "<seed>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ai_agents"):
                module = "tui_agents" + node.module[len("ai_agents"):]
                pairs += [(module, alias.name) for alias in node.names]
    return pairs


def test_every_name_the_seed_readme_imports_resolves():
    pairs = _seed_imports()
    assert len(pairs) > 10  # the parse found the snippets' imports
    missing = [f"{module}.{name}" for module, name in pairs
               if not hasattr(importlib.import_module(module), name)]
    assert missing == []
