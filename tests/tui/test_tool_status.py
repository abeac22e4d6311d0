"""What the app says of a tool call the user stopped or declined, live and after a restart.

A real MCP server (``tests/mcp/server.py``, the ``mcp`` SDK) runs as a child
process; the model is the fake LLM server over loopback.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.llm_server import Reply, ToolCallSpec

from .conftest import ready, screen_text, send, wait_until
from .test_tools_app import _inspected, _last_reply_done, tool_app  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(120)


def _tool_lines(app):
    from tui_agents.tui.widgets.message import ToolCallLine

    return list(app.chat_pane.query(ToolCallLine))


async def _hanging_app(tool_app, fake_llm):
    """An app whose model calls the test server's ``hang`` tool (allowed in the config)."""
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("test__hang", {}, id="h1")]), Reply(text="unused"))
    return await tool_app(["test__hang"], always=["test:*"])


async def _hang_a_while(pilot) -> str:
    """Send a message whose tool never answers; return its thread once the call has run for half a second."""
    app = pilot.app
    await send(pilot, "hang")
    await wait_until(pilot, lambda: any(line.status == "running" for line in _tool_lines(app)), timeout=60,
                     what="the running call")
    await asyncio.sleep(0.5)
    return app.current_thread_id


async def test_escape_while_a_tool_runs_shows_it_cancelled_with_the_time_it_ran(tool_app, make_app, fake_llm,
                                                                                  tmp_path):
    app = await _hanging_app(tool_app, fake_llm)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+t")  # the inspector follows the call live
        thread_id = await _hang_a_while(pilot)
        await wait_until(pilot, lambda: _inspected(app) == ["running"], what="the inspector's row")
        assert app.turns[thread_id].working.line().startswith("running hang (test) · ")  # not "streaming"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.turns[thread_id].running, what="the stop")
        (line,) = _tool_lines(app)
        assert line.status == "cancelled" and line.duration_ms >= 400  # the time it ran, not 0
        assert "test__hang · cancelled" in screen_text(app)
        assert "interrupted" in screen_text(app)
        await wait_until(pilot, lambda: _inspected(app) == ["cancelled"], what="the inspector's row to end")
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


async def test_quitting_while_a_tool_runs_saves_it_cancelled_and_the_reply_as_quit(tool_app, make_app, fake_llm,
                                                                                  tmp_path):
    from tui_agents.tui.screens.dialogs import ConfirmScreen

    app = await _hanging_app(tool_app, fake_llm)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread_id = await _hang_a_while(pilot)
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


def _headers(app) -> list[str]:
    """The message headers shown in the chat pane, by role label."""
    import re

    return re.findall(r"\b(You|Assistant|Tool) · ", screen_text(app).rsplit("}", 1)[-1])


async def test_a_reopened_tool_round_is_one_reply_as_it_was_live(tool_app, make_app, fake_llm, tmp_path):
    from .test_tools_app import _calls_what_it_is_told

    fake_llm.responder = _calls_what_it_is_told
    app = await tool_app(["test:*"], always=["test:*"])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "pid")
        await wait_until(pilot, lambda: len(fake_llm.requests) >= 2 and _last_reply_done(app), timeout=60)
        await pilot.pause(0.1)
        live = _headers(app)
        thread_id = app.current_thread_id
    assert live == ["You", "Assistant"]
    again = make_app(config=app.config, config_path=tmp_path / "config.toml", db_path=tmp_path / "db.sqlite")
    async with again.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await again.screen_main.threads.open_thread(thread_id)
        await wait_until(pilot, lambda: "Got back" in screen_text(again), what="the reopened thread")
        await pilot.pause(0.1)
        assert _headers(again) == live  # no empty "Assistant" block, no "Tool" block
        text = screen_text(again)
        assert "test__pid · ok" in text and text.count("in 12 · out") == 1  # one footer: the answer's


async def test_older_messages_that_bring_a_call_into_view_join_its_results(make_app, ollama_env):
    """The page loaded above ends with the call whose result opened the window: they become one block."""
    records = [
        {"id": "msg_1", "role": "user", "content": "go", "created_at": 1.0},
        {"id": "msg_2", "role": "assistant", "content": "", "created_at": 2.0, "model": "m",
         "tool_calls": [{"id": "c1", "name": "test__pid", "arguments": {}}]},
        {"id": "msg_3", "role": "tool", "content": "42", "tool_call_id": "c1", "created_at": 3.0,
         "meta": {"name": "test__pid", "status": "ok", "duration_ms": 5.0}},
        {"id": "msg_4", "role": "assistant", "content": "It is 42.", "created_at": 4.0, "model": "m"},
    ]
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        pane = app.chat_pane
        await pane.show("thr_x", records[2:], has_older=True)
        assert [v.joined for v in pane.views] == [False, True]  # the call is not in the window yet
        await pane.prepend(records[:2], has_older=False)
        await pilot.pause(0.1)
        assert [v.message_id for v in pane.views] == ["msg_1", "msg_2", "msg_3", "msg_4"]
        assert [v.joined for v in pane.views] == [False, False, True, True]
        assert pane.views[1].has_class("-joined-below") and pane.views[2].has_class("-joined-below")
        assert _headers(app) == ["You", "Assistant"]
