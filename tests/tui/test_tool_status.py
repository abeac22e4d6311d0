"""What the app says of a tool call the user stopped or declined, live and after a restart.

A real MCP server (``tests/mcp/server.py``, the ``mcp`` SDK) runs as a child
process; the model is the fake LLM server over loopback.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.llm_server import Reply, ToolCallSpec

from .conftest import last_reply, ready, screen_text, send, wait_until
from .test_tools_app import _approval, _last_reply_done, tool_app  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(120)


def _tool_lines(app):
    from tui_agents.tui.widgets.message import ToolCallLine

    return list(app.chat_pane.query(ToolCallLine))


async def test_escape_while_a_tool_runs_shows_it_cancelled_with_the_time_it_ran(tool_app, make_app, fake_llm,
                                                                                  tmp_path):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__hang", {}, id="h1")]), Reply(text="unused"))
    app = await tool_app(["test__hang"], always=["test:*"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+t")  # the inspector follows the call live
        await send(pilot, "hang")
        await wait_until(pilot, lambda: any(line.status == "running" for line in _tool_lines(app)), timeout=60,
                         what="the running call")
        await wait_until(pilot, lambda: "running" in screen_text(app), what="the inspector's running row")
        thread_id = app.current_thread_id
        await asyncio.sleep(0.5)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.turns[thread_id].running, what="the stop")
        (line,) = _tool_lines(app)
        assert line.status == "cancelled" and line.duration_ms >= 400  # the time it ran, not 0
        assert "test__hang · cancelled" in screen_text(app)
        assert "interrupted" in screen_text(app)
        await wait_until(pilot, lambda: "running" not in screen_text(app), what="the inspector's row to end")
        records = await app.session.messages.list(thread_id)
        tool = next(r for r in records if r["role"] == "tool")
        assert tool["meta"]["status"] == "cancelled" and tool["meta"]["duration_ms"] >= 400
        assert next(r for r in records if r["role"] == "assistant")["status"] == "interrupted"
    again = make_app(config=app.config, config_path=tmp_path / "config.toml", db_path=tmp_path / "db.sqlite")
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await again.screen_main.threads.open_thread(thread_id)
        await wait_until(pilot, lambda: "cancelled" in screen_text(again), what="the call after a restart")
        text = screen_text(again)
        assert "test__hang · cancelled" in text and "· 0 ms" not in text
        assert "interrupted: the reply was stopped" in text


async def test_a_declined_call_says_declined_in_the_reply_and_the_inspector(tool_app, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__echo", {"text": "hi"})]), Reply(text="Understood."))
    app = await tool_app(["test__echo"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "echo this")
        await wait_until(pilot, lambda: _approval(app) is not None, timeout=60, what="the approval dialog")
        await pilot.press("d")
        await wait_until(pilot, lambda: _last_reply_done(app), timeout=60, what="the reply")
        assert [line.status for line in _tool_lines(app)] == ["declined"]
        assert "test__echo · declined" in screen_text(app)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: "declined" in screen_text(app).split("Tool calls", 1)[-1],
                         what="the inspector's row")
        assert last_reply(app) is not None


async def test_quitting_while_a_tool_runs_saves_it_cancelled_and_the_reply_as_quit(tool_app, make_app, fake_llm,
                                                                                  tmp_path):
    from tui_agents.tui.screens.dialogs import ConfirmScreen

    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__hang", {}, id="h1")]), Reply(text="unused"))
    app = await tool_app(["test__hang"], always=["test:*"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hang")
        await wait_until(pilot, lambda: any(line.status == "running" for line in _tool_lines(app)), timeout=60,
                         what="the running call")
        thread_id = app.current_thread_id
        await asyncio.sleep(0.5)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the quit question")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, what="the app to quit")
    again = make_app(config=app.config, config_path=tmp_path / "config.toml", db_path=tmp_path / "db.sqlite")
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        records = await again.session.messages.list(thread_id)
        tool = next(r for r in records if r["role"] == "tool")
        assert tool["meta"]["status"] == "cancelled" and tool["meta"]["duration_ms"] >= 400
        caller = next(r for r in records if r["role"] == "assistant")
        assert caller["status"] == "interrupted" and caller["meta"]["interrupted_reason"] == "app_quit"
        await again.screen_main.threads.open_thread(thread_id)
        await wait_until(pilot, lambda: "cancelled" in screen_text(again), what="the call after a restart")
        assert "interrupted: you quit while this reply was streaming" in screen_text(again)
