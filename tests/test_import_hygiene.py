"""The engine must never load Textual: only tui_agents.tui may."""

import subprocess
import sys

ENGINE_MODULES = [
    "tui_agents",
    "tui_agents.errors",
    "tui_agents.types",
    "tui_agents.events",
    "tui_agents.providers",
    "tui_agents.store",
    "tui_agents.tools",
    "tui_agents.guardrails",
    "tui_agents.definition",
    "tui_agents.memory",
    "tui_agents.limits",
    "tui_agents.runner",
    "tui_agents.agent",
    "tui_agents.cli",
]


def _loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_engine_modules_do_not_import_textual():
    for module in ENGINE_MODULES:
        loaded = _loaded_after_import(module)
        assert not any(m == "textual" or m.startswith("textual.") for m in loaded), module


def test_engine_sources_never_mention_textual_imports():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "tui_agents"
    offenders = []
    for path in root.rglob("*.py"):
        if "tui" in path.relative_to(root).parts[:1]:
            continue
        text = path.read_text()
        if "import textual" in text or "from textual" in text:
            offenders.append(str(path))
    assert offenders == []
