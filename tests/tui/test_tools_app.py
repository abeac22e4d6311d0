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


def _armed(app) -> bool:
    """The approval dialog is up and its choices work (after a pause in typing)."""
    dialog = _approval(app)
    return dialog is not None and dialog.armed


async def _tool_rows(app) -> list[tuple[str, str | None]]:
    """(content, meta server) of the open thread's stored tool results."""
    records = await app.session.messages.list(app.current_thread_id, limit=100)
    return [(r["content"], (r["meta"] or {}).get("server")) for r in records if r["role"] == "tool"]


def _inspected(app) -> list[str]:
    """The statuses of the calls in the open inspector."""
    from tui_agents.tui.screens.inspector import ToolInspector

    found = app.screen.query(ToolInspector)
    return [entry.status for entry in found.first().entries.values()] if found else []


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
        await wait_until(pilot, lambda: _armed(app), timeout=60, what="the approval dialog, its choices working")
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
        await wait_until(pilot, lambda: _armed(app), timeout=60, what="the approval dialog, its choices working")
        await pilot.press("d")
        await wait_until(pilot, lambda: _last_reply_done(app), timeout=60, what="the reply")
        assert app.focused is app.composer
        assert "declined" in (await _tool_rows(app))[0][0]
        assert "test__echo · declined" in screen_text(app)  # not "error": the user said no
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: _inspected(app) == ["declined"], what="the inspector's row")
    last = fake_llm.requests[-1].body["messages"]
    tool_messages = [m["content"] for m in last if m["role"] == "tool"]
    assert tool_messages and "declined" in tool_messages[0]


async def test_letters_typed_as_the_dialog_opens_go_on_into_the_message_and_answer_nothing(
        tool_app, fake_llm, tmp_path, monkeypatch):
    from tui_agents.tui.screens.approval import ApprovalScreen

    # a pause longer than the app's: a loaded machine may take 0.8 s between noticing the dialog and a key
    monkeypatch.setattr(ApprovalScreen, "ARM_AFTER", 3.0)
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__echo", {"text": "hi"})], first_delay=0.3),
                    Reply(text="Ran it."))
    app = await tool_app(["test__echo"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "echo this")
        await wait_until(pilot, lambda: _approval(app) is not None, timeout=60, what="the approval dialog")
        assert not _approval(app).armed
        working = app.turns[app.current_thread_id].working
        assert working.line() == "waiting for your answer: may echo (test) run?", "not blaming the model"
        for key in "great, a dog":  # still typing the next message: "a" and "d" are the dialog's keys
            await pilot.press("space" if key == " " else "comma" if key == "," else key)
            await asyncio.sleep(0.1)
        await pilot.press("backspace")
        assert _approval(app) is not None, "no letter answered the dialog"
        assert app.composer.text == "great, a do"
        await wait_until(pilot, lambda: _armed(app), timeout=10, what="the choices, after a pause")
        assert app.focused is not app.composer
        await pilot.press("o")
        await wait_until(pilot, lambda: _last_reply_done(app), timeout=60, what="the reply")
        assert app.composer.text == "great, a do", "the draft is kept"
        assert [content for content, _ in await _tool_rows(app)] == ["hi"]
    assert load_config(tmp_path / "config.toml").tools.always_allow == []


async def test_allow_always_is_saved_in_the_config_file_and_not_asked_again(tool_app, fake_llm, tmp_path):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__echo", {"text": "one"})]), Reply(text="First."),
                    Reply(tool_calls=[ToolCallSpec("test__echo", {"text": "two"})]), Reply(text="Second."))
    app = await tool_app(["test__echo"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "echo one")
        await wait_until(pilot, lambda: _armed(app), timeout=60, what="the approval dialog, its choices working")
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
        await wait_until(pilot, lambda: _armed(app), timeout=60, what="the approval dialog, its choices working")
        await pilot.press("a")
        await wait_until(pilot, lambda: len(fake_llm.requests) >= 2 and _last_reply_done(app), timeout=60)
    text = path.read_text(encoding="utf-8")
    assert text == hand_written + '\n[tools]\nalways_allow = ["test:echo"]\n'


def _toasts(app, title: str) -> list[str]:
    return [n.message for n in app._notifications if n.title == title]


@pytest.fixture
def app_log(tmp_path, monkeypatch, package_logger):
    """The app's log file (as the command line's app writes it) in tmp_path."""
    path = tmp_path / "app.log"
    monkeypatch.setenv("AIAGENTS_LOG", str(path))
    return path


async def test_a_server_that_fails_is_shown_once_and_the_turns_go_on(tool_app, fake_llm, app_log, monkeypatch):
    secret = "tok-9f8e7d6c5b4a39281706"
    monkeypatch.setenv("MCP_SECRET", secret)
    fake_llm.script(Reply(text="Answered without tools."), Reply(text="Again without."), Reply(text="Still."))
    broken = _server("fail-start")
    broken.env = {"MCP_TEST_LEAK": "${MCP_SECRET}"}
    app = await tool_app(["broken__echo"], servers={"broken": broken})
    app.log_file = True
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        for n, text in enumerate(["use your tools", "and again"], 1):
            await send(pilot, text)
            await wait_until(pilot, lambda: len(fake_llm.requests) >= n and _last_reply_done(app), timeout=60,
                             what=f"reply {n}")
        assert app.turns[app.current_thread_id].text == "Again without."
        toasts = _toasts(app, "Tool server failed")
        assert len(toasts) == 1, toasts  # told once, not on every turn while it stays failed
        assert toasts[0].splitlines() == [
            "The MCP server broken could not start: its connection closed.",
            "test server: starting (fail-start)",
            "test server: token **** refused",
            "test server: missing configuration, giving up",
            'Replies go on without its tools; ctrl+p → "Retry tool servers" starts it again.',
        ]
        await app.run_action("retry_tool_servers")
        assert app.session.tool_servers()[0].error is None
        await send(pilot, "once more")  # the retry fails too: said again, with that attempt's output only
        await wait_until(pilot, lambda: len(_toasts(app, "Tool server failed")) == 2, timeout=60,
                         what="the second failure notice")
        assert _toasts(app, "Tool server failed")[1] == toasts[0]
        await wait_until(pilot, lambda: len(fake_llm.requests) >= 3 and _last_reply_done(app), timeout=60)
    log = app_log.read_text()
    assert log.count("WARNING tui_agents.mcp: The MCP server broken could not start") == 2  # each attempt
    assert "missing configuration, giving up" in log and secret not in log


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


async def _agents_screen_tools(app, pilot):
    """Open the agents screen (f3); its tool list, once the agent's tools are ticked."""
    from textual.widgets import SelectionList

    await pilot.press("f3")
    await wait_until(pilot, lambda: app.screen.query_one("#agent-tools", SelectionList).selected, timeout=30)
    return app.screen.query_one("#agent-tools", SelectionList)


async def test_the_agents_screen_lists_a_servers_tools_when_asked(tool_app, fake_llm):
    app = await tool_app(["test__echo"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        tools = await _agents_screen_tools(app, pilot)
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


async def test_listing_a_servers_tools_shows_them_on_when_every_tool_of_it_is(tool_app, fake_llm):
    app = await tool_app(["test:*"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        tools = await _agents_screen_tools(app, pilot)
        app.screen.query_one("#server-tools-0").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "test__add" in tools.selected, timeout=60, what="the server's tools, on")
        assert {"test:*", "test__echo", "test__add"} <= set(tools.selected)


def _calls_what_it_is_told(protocol: str, body: dict) -> Reply | None:
    """The fake model: with tools, it calls ``test__<the user's word>``, then says what came back."""
    if not body.get("tools"):
        return None  # no tools offered: the echo reply
    last = body["messages"][-1]
    if last["role"] == "user":
        return Reply(tool_calls=[ToolCallSpec(f"test__{last['content']}", {})])
    return Reply(text=f"Got back: {last['content']}")


async def test_a_server_that_dies_is_shown_at_once_and_started_again_by_the_next_turn(tool_app, fake_llm):
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
        [notice] = _toasts(app, "Tool server stopped")  # in the crash turn, with the server's last words
        assert "crashing on purpose" in notice and "starts again" in notice
        await turn(pilot, "pid")  # the next turn starts it again and its tools work
        second_pid = int((await _tool_rows(app))[-1][0])
        assert second_pid != first_pid and pid_alive(second_pid)
        assert app.turns[app.current_thread_id].text == f"Got back: {second_pid}"
        assert not _toasts(app, "Tool server failed") and len(_toasts(app, "Tool server stopped")) == 1
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
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.armed, what="the dialog")
        await pilot.pause(0.2)
        assert "enter, d or escape denies" in screen_text(app)
        for button in app.screen.query(Button):
            region = button.region
            assert region.height >= 1 and region.bottom <= 24, f"{button.id} is cut off: {region}"
            widget, _ = app.screen.get_widget_at(region.x + region.width // 2, region.y + region.height // 2)
            assert widget is button, f"{button.id} is hidden"
        assert app.screen.query_one("#approval-args").max_scroll_y > 0  # the long argument scrolls in its box
