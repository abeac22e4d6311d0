"""Run the ``aiagents-tui`` console entry point as a real subprocess, against the fake LLM server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def write_mcp_config(path: Path, before: str = "") -> None:
    """A config file with ``before`` and the test MCP server as ``[mcp_servers.t]`` (stdio)."""
    path.write_text(
        f"{before}[mcp_servers.t]\n"
        f'command = "{sys.executable}"\n'
        'args = ["-m", "tests.mcp.server", "stdio"]\n'
        f'cwd = "{ROOT}"\n'
    )


@pytest.fixture
def cli(tmp_path, fake_llm):
    """``cli(*args, stdin=None, env=None)`` runs ``python -m tui_agents.cli`` with a private db and config."""
    config = tmp_path / "config.toml"
    db = tmp_path / "chat.db"

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60):
        base = {key: value for key, value in os.environ.items() if not key.endswith("_API_KEY")}
        base.update({
            "PYTHONPATH": str(ROOT), "AIAGENTS_CONFIG": str(config), "AIAGENTS_DB": str(db),
            "ANTHROPIC_BASE_URL": fake_llm.base_url, "OPENAI_BASE_URL": fake_llm.base_url + "/v1",
            "OLLAMA_HOST": fake_llm.base_url, "ANTHROPIC_API_KEY": "sk-ant-test", "OPENAI_API_KEY": "sk-test",
        })
        base.update(env or {})
        return subprocess.run([sys.executable, "-m", "tui_agents.cli", *args], input=stdin if stdin is not None else "",
                              capture_output=True, text=True, env=base, timeout=timeout, cwd=tmp_path)

    run.config = config
    run.db = db
    return run
