"""Tools in the real app: the approval dialog (once, always, deny) and MCP servers from the config.

A real MCP server (``tests/mcp/server.py``, the ``mcp`` SDK) runs as a child
process; the model is the fake LLM server over loopback.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.llm_server import Reply, ToolCallSpec
from tests.mcp.conftest import pid_alive
from tui_agents.config import AppConfig, MCPServerConfig, load_config, save_config

from .conftest import ready, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
MARKUP = "[bold red]not markup[/bold red] \x1b]0;title\x07"


def _server(mode: str = "stdio") -> MCPServerConfig:
    return MCPServerConfig(command=sys.executable, args=["-m", "tests.mcp.server", mode], cwd=str(ROOT))


@pytest.fixture
def tool_app(make_app, tmp_path, ollama_env):
    """An app whose default agent may use the ``test`` MCP server's tools, with its config file in tmp_path."""

    async def build(tools: list[str], servers: dict[str, MCPServerConfig] | None = None, always: list[str] = ()):
        from tui_agents.store import AgentStore, connect

        config = AppConfig(mcp_servers=servers if servers is not None else {"test": _server()})
        config.tools.always_allow = list(always)
        path = tmp_path / "config.toml"
        save_config(config, path)
        db = tmp_path / "db.sqlite"
        conn = await connect(str(db))
        await AgentStore(conn).create("assistant", "You help.", tools=tools)
        await conn.close()
        return make_app(config=load_config(path), config_path=path, db_path=db)

    return build


def _approval(app):
    from tui_agents.tui.screens.approval import ApprovalScreen

    return app.screen if isinstance(app.screen, ApprovalScreen) else None


async def _tool_rows(app) -> list[tuple[str, str | None]]:
    """(content, meta server) of the open thread's stored tool results."""
    records = await app.session.messages.list(app.current_thread_id, limit=100)
    return [(r["content"], (r["meta"] or {}).get("server")) for r in records if r["role"] == "tool"]


def _last_reply_done(app) -> bool:
    from .conftest import last_reply

    view = last_reply(app)
    return view is not None and not any(s.running for s in app.turns.values())


async def test_allow_once_runs_the_tool_and_shows_the_arguments_literally(tool_app, fake_llm, tmp_path):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__echo", {"text": MARKUP})]), Reply(text="Echoed."))
    app = await tool_app(["test__echo"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "echo this")
        await wait_until(pilot, lambda: _approval(app) is not None, timeout=60, what="the approval dialog")
        text = screen_text(app)
        assert "Tool:   echo" in text and "Server: test" in text
        assert "[bold red]not markup[/bold red]" in text  # shown literally, the escape sequence stripped
        await pilot.press("o")
        await wait_until(pilot, lambda: _last_reply_done(app), timeout=60, what="the reply")
        assert app.focused is app.composer
        assert await _tool_rows(app) == [(MARKUP, "test")]
        await pilot.press("ctrl+t")  # the inspector shows the MCP call with its server
        await wait_until(pilot, lambda: "server   test (MCP)" in screen_text(app), what="the inspector's server")
        assert "test__echo" in screen_text(app)
    assert load_config(tmp_path / "config.toml").tools.always_allow == []


async def test_deny_tells_the_model_the_user_declined(tool_app, fake_llm, tmp_path):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__echo", {"text": "hi"})]), Reply(text="Understood."))
    app = await tool_app(["test__echo"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "echo this")
        await wait_until(pilot, lambda: _approval(app) is not None, timeout=60, what="the approval dialog")
        await pilot.press("d")
        await wait_until(pilot, lambda: _last_reply_done(app), timeout=60, what="the reply")
        assert app.focused is app.composer
        assert "declined" in (await _tool_rows(app))[0][0]
    last = fake_llm.requests[-1].body["messages"]
    tool_messages = [m["content"] for m in last if m["role"] == "tool"]
    assert tool_messages and "declined" in tool_messages[0]


async def test_allow_always_is_saved_in_the_config_file_and_not_asked_again(tool_app, fake_llm, tmp_path):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__echo", {"text": "one"})]), Reply(text="First."),
                    Reply(tool_calls=[ToolCallSpec("test__echo", {"text": "two"})]), Reply(text="Second."))
    app = await tool_app(["test__echo"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "echo one")
        await wait_until(pilot, lambda: _approval(app) is not None, timeout=60, what="the approval dialog")
        await pilot.press("a")
        await wait_until(pilot, lambda: len(fake_llm.requests) >= 2 and _last_reply_done(app), timeout=60)
        assert load_config(tmp_path / "config.toml").tools.always_allow == ["test:echo"]
        await send(pilot, "echo two")
        await wait_until(pilot, lambda: len(fake_llm.requests) >= 4 and _last_reply_done(app), timeout=60)
        assert _approval(app) is None
        assert [content for content, _ in await _tool_rows(app)] == ["one", "two"]


async def test_allow_always_keeps_a_hand_written_config_file_and_adds_only_always_allow(tool_app, fake_llm, tmp_path):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__echo", {"text": "one"})]), Reply(text="First."))
    app = await tool_app(["test__echo"])
    path = tmp_path / "config.toml"
    # the user's own file: comments, a blank line, an inline comment (the app holds the same settings)
    hand_written = "# keep me\n\n" + path.read_text(encoding="utf-8").replace("\ncwd = ", "  # my test server\ncwd = ", 1)
    path.write_text(hand_written, encoding="utf-8")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "echo one")
        await wait_until(pilot, lambda: _approval(app) is not None, timeout=60, what="the approval dialog")
        await pilot.press("a")
        await wait_until(pilot, lambda: len(fake_llm.requests) >= 2 and _last_reply_done(app), timeout=60)
    text = path.read_text(encoding="utf-8")
    assert text == hand_written + '\n[tools]\nalways_allow = ["test:echo"]\n'


async def test_a_server_that_fails_is_shown_and_the_turn_goes_on(tool_app, fake_llm):
    fake_llm.script(Reply(text="Answered without tools."))
    app = await tool_app(["broken__echo"], servers={"broken": _server("fail-start")})
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "use your tools")
        await wait_until(pilot, lambda: any("broken" in n.message for n in app._notifications), timeout=60,
                         what="the failure notice")
        notice = next(n.message for n in app._notifications if "broken" in n.message)
        assert "missing configuration, giving up" in notice  # the server's own stderr
        await wait_until(pilot, lambda: _last_reply_done(app), timeout=60, what="the reply")
        assert app.turns[app.current_thread_id].status == "complete"
        assert app.turns[app.current_thread_id].text == "Answered without tools."
        await app.run_action("retry_tool_servers")
        assert app.session.tool_servers()[0].error is None


async def test_no_tool_server_process_outlives_the_app(tool_app, fake_llm, tmp_path):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__pid", {})]), Reply(text="Got it."))
    app = await tool_app(["test__pid"], always=["test:*"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        # lazy: nothing started at start-up (the warm-up may build the runner and so the server objects)
        assert not any(server.running for server in app.session._tool_servers or ())
        await send(pilot, "your pid?")
        await wait_until(pilot, lambda: _last_reply_done(app) and len(fake_llm.requests) >= 2, timeout=60)
        assert _approval(app) is None  # "test:*" is allowed in the config
        pid = int((await _tool_rows(app))[0][0])
        assert pid_alive(pid)
    deadline = time.monotonic() + 10  # the app has quit: poll the process table, not the app
    while pid_alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not pid_alive(pid), "the MCP server process outlived the app"


async def test_the_agents_screen_lists_a_servers_tools_when_asked(tool_app, fake_llm):
    from textual.widgets import SelectionList

    app = await tool_app(["test__echo"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: app.screen.query_one("#agent-tools", SelectionList).selected, timeout=30)
        tools = app.screen.query_one("#agent-tools", SelectionList)
        values = lambda: {tools.get_option_at_index(i).value for i in range(tools.option_count)}  # noqa: E731
        assert {"test:*", "test__echo"} <= values() and "test__add" not in values()
        assert not app.session.tool_servers()[0].running  # opening the screen starts nothing
        app.screen.query_one("#server-tools-0").focus()  # as tab would reach it
        await pilot.press("enter")
        await wait_until(pilot, lambda: "test__add" in values(), timeout=60, what="the server's tools")
        tools.select("test__add")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any(n.message.startswith("Saved") for n in app._notifications))
        agent = await app.session.agents.get_by_name("assistant")
        assert set(agent["tools"]) == {"test__echo", "test__add"}


def _calls_what_it_is_told(protocol: str, body: dict) -> Reply | None:
    """The fake model: with tools, it calls ``test__<the user's word>``, then says what came back."""
    if not body.get("tools"):
        return None  # no tools offered: the echo reply
    last = body["messages"][-1]
    if last["role"] == "user":
        return Reply(tool_calls=[ToolCallSpec(f"test__{last['content']}", {})])
    return Reply(text=f"Got back: {last['content']}")


async def test_a_server_that_dies_is_shown_with_its_stderr_and_a_retry_starts_it_again(tool_app, fake_llm):
    fake_llm.responder = _calls_what_it_is_told
    app = await tool_app(["test:*"], always=["test:*"])

    async def turn(pilot, word: str) -> None:
        count = len([v for v in app.chat_pane.views if v.role == "assistant"])
        await send(pilot, word)
        await wait_until(pilot, lambda: len([v for v in app.chat_pane.views if v.role == "assistant"]) > count
                         and _last_reply_done(app), timeout=60, what=f"the reply to {word}")

    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await turn(pilot, "pid")
        first_pid = int((await _tool_rows(app))[-1][0])
        await turn(pilot, "crash")  # the server process exits mid-call
        assert "stopped" in (await _tool_rows(app))[-1][0]
        assert not pid_alive(first_pid)
        await turn(pilot, "pid")  # the next turn says so, with the server's last words, and goes on without it
        notice = next(n.message for n in app._notifications if "Tool server 'test'" in n.message)
        assert "crashing on purpose" in notice and "Retry tool servers" in notice
        assert app.turns[app.current_thread_id].text == "echo: pid"  # answered, without tools
        await app.run_action("retry_tool_servers")
        await turn(pilot, "pid")
        second_pid = int((await _tool_rows(app))[-1][0])
        assert second_pid != first_pid and pid_alive(second_pid)
    deadline = time.monotonic() + 10
    while pid_alive(second_pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not pid_alive(second_pid)


async def test_the_approval_buttons_show_at_80x24_with_a_long_argument(make_app, ollama_env):
    from textual.widgets import Button

    from tui_agents.tui.screens.approval import ApprovalScreen

    app = make_app()
    long_text = "\n".join(f"line {n} of a long file the model wants to write" for n in range(200))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        app.push_screen(ApprovalScreen("write_file", "files", {"path": "/tmp/x.md", "content": long_text},
                                       thread="Planning"))
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), what="the dialog")
        await pilot.pause(0.2)
        for button in app.screen.query(Button):
            region = button.region
            assert region.height >= 1 and region.bottom <= 24, f"{button.id} is cut off: {region}"
            widget, _ = app.screen.get_widget_at(region.x + region.width // 2, region.y + region.height // 2)
            assert widget is button, f"{button.id} is hidden"
        assert app.screen.query_one("#approval-args").max_scroll_y > 0  # the long argument scrolls in its box
