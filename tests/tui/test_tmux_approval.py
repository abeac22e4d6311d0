"""Asking before a tool acts, typed at as a person would: the real app in tmux, a real MCP server, the fake model.

The config names an MCP stdio server (``tests/mcp/server.py``, written with the
``mcp`` SDK) whose command line carries a marker, so the process table tells
whether it outlived the app. The model (the fake LLM server over loopback)
asks for the server's ``echo`` tool; the person answers the dialog with o, d
and a. Skipped when tmux is missing, except under CI=true, where it must run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tests.fakes.llm_server import Reply, ToolCallSpec
from tui_agents.config import AppConfig, MCPServerConfig, load_config, save_config

from .test_tmux_daily import ROOT, Terminal, _started, terminal  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(240)

DIALOG = "Allow this tool call?"
ARMED = "o allows once"


def _servers_with(marker: str) -> list[psutil.Process]:
    """Live processes whose command line carries ``marker`` (zombies have exited: they do not count)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if marker in (process.info["cmdline"] or ()) and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _no_server_left(marker: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while _servers_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _servers_with(marker)
    assert not left, f"the MCP server outlived the app: {[p.pid for p in left]}"


def _setup(tmp_path: Path, marker: str) -> Path:
    """The config file with the ``test`` MCP server, and a database whose default agent may use its echo tool."""
    from tui_agents.store import AgentStore, connect

    config = AppConfig(mcp_servers={"test": MCPServerConfig(
        command=sys.executable, args=["-m", "tests.mcp.server", "stdio", marker], cwd=str(ROOT))})
    path = tmp_path / "config.toml"
    save_config(config, path)

    async def agent() -> None:
        conn = await connect(str(tmp_path / "db.sqlite"))
        await AgentStore(conn).create("assistant", "You help.", tools=["test__echo"])
        await conn.close()

    asyncio.run(agent())
    return path


def _ask(term: Terminal, prompt: str) -> str:
    """Send ``prompt`` and wait for the approval dialog; returns the screen."""
    term.type(prompt)
    term.press("Enter")
    term.wait_text(DIALOG, timeout=90)  # the first use starts the server: seconds on a loaded machine
    return term.wait_text(ARMED, timeout=10)  # its choices work after a pause in typing


def _model(protocol: str, body: dict) -> Reply | None:
    """The fake model: asked with tools, it calls echo with the user's words, then answers what it got.

    Background jobs (titles, memory) send no tools and fall through to the echo reply, so they
    cannot take a reply meant for a turn, whenever they run.
    """
    if not body.get("tools"):
        return None
    last = body["messages"][-1]
    if last["role"] == "user":
        return Reply(tool_calls=[ToolCallSpec("test__echo", {"text": f"{last['content']} alpha beta gamma"})])
    if "The user declined" in last["content"]:
        return Reply(text="Noted the refusal.")
    return Reply(text=f"Got back: {last['content']}")


def _tool_messages(fake_llm) -> list[str]:
    """The tool results of the last chat request that carried any (Ollama wire shape; title jobs carry none)."""
    for request in reversed(fake_llm.chat_requests()):
        results = [m["content"] for m in request.body["messages"] if m["role"] == "tool"]
        if results:
            return results
    return []


def test_once_deny_and_always_as_typed_and_no_server_outlives_ctrl_q_or_sigterm(terminal: Terminal, fake_llm,
                                                                                tmp_path) -> None:
    marker = f"mcp-tmux-{uuid.uuid4().hex[:12]}"
    config_path = _setup(tmp_path, marker)
    fake_llm.responder = _model
    terminal.start()
    _started(terminal)
    assert not _servers_with(marker)  # lazy: the app's start-up started no MCP server

    screen = _ask(terminal, "first")
    assert "Tool:   echo" in screen and "Server: test" in screen
    assert '"text": "first alpha beta gamma"' in screen  # the arguments in full
    started = {p.pid for p in _servers_with(marker)}
    assert started
    terminal.press("o")
    terminal.wait_text("Got back: first alpha beta gamma")

    _ask(terminal, "second")
    terminal.press("d")
    terminal.wait_text("Noted the refusal.")
    assert "The user declined" in _tool_messages(fake_llm)[-1]

    _ask(terminal, "third")
    terminal.press("a")
    terminal.wait_text("Got back: third alpha beta gamma")
    assert load_config(config_path).tools.always_allow == ["test:echo"]  # kept in the config file
    assert {p.pid for p in _servers_with(marker)} == started  # one server, reused by every turn

    terminal.press("C-q")
    terminal.wait_exit()
    _no_server_left(marker)

    # a new run of the app: "allow always" came back from the config file, so nothing asks
    terminal.start("--new")
    _started(terminal)
    _call_without_asking(terminal, "fourth")
    assert _servers_with(marker)
    os.kill(terminal.pid(), signal.SIGTERM)  # as a shutdown or `kill` would end it
    terminal.wait_exit()
    _no_server_left(marker)


def _call_without_asking(term: Terminal, prompt: str) -> None:
    term.type(prompt)
    term.press("Enter")
    seen = term.wait_for(lambda s: f"Got back: {prompt}" in s or DIALOG in s, "the reply", timeout=90)
    assert DIALOG not in seen


@pytest.mark.parametrize("how", ["SIGINT", "SIGHUP"])
def test_no_server_outlives_an_interrupt_or_a_closed_terminal(terminal: Terminal, fake_llm, tmp_path, how) -> None:
    marker = f"mcp-tmux-{uuid.uuid4().hex[:12]}"
    config_path = _setup(tmp_path, marker)
    config = load_config(config_path)
    config.tools.always_allow = ["test:*"]
    save_config(config, config_path)
    fake_llm.responder = _model
    terminal.start()
    _started(terminal)
    _call_without_asking(terminal, "fifth")
    assert _servers_with(marker)
    if how == "SIGHUP":
        terminal.tmux("kill-session", "-t", "app")  # the terminal window closes: the app gets SIGHUP
    else:
        os.kill(terminal.pid(), signal.SIGINT)
    terminal.wait_exit()
    _no_server_left(marker)
