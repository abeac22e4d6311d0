"""The tool-call inspector: from the stored record, live from events, copy, scope, untrusted text."""

from __future__ import annotations

import asyncio
import json

from textual.widgets import Static

from tests.data.builders import HOSTILE, tool_thread
from tests.data.pilot import PanelHost, fixed_time, wait_until
from tui_agents.events import GuardrailFlagged, ToolCallFinished, ToolCallStarted
from tui_agents.store import MessageStore, connect
from tui_agents.tui.screens.inspector import ToolInspector
from tui_agents.tui.widgets.virtual_table import VirtualTable

SIZE = (110, 34)


async def _seed(path, **kw) -> dict:
    conn = await connect(path)
    try:
        return await tool_thread(conn, **kw)
    finally:
        await conn.close()


def _host(db, thread_id, message_id=None) -> PanelHost:
    return PanelHost(db, lambda app: ToolInspector(app.stores.messages, thread_id, message_id, format_time=fixed_time))


def _rows(inspector: ToolInspector) -> list[tuple[str, str, str]]:
    table = inspector.query_one(VirtualTable)
    return [(k, table.row(k)[1].plain, table.row(k)[2].plain) for k in table.keys]


def _text(widget: Static) -> str:
    return str(widget.render())


async def test_inspector_shows_stored_calls_and_verdicts(tmp_path):
    db = tmp_path / "i.db"
    built = await _seed(db)
    app = _host(db, built["thread"]["id"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.panel.loaded, what="inspector loaded")
        inspector = app.panel
        guard_key = "guard:" + built["user"]["id"]
        assert _rows(inspector) == [
            (guard_key, "⚑ guardrail", "warned"),
            ("call_1", "calculator", "ok"),
            ("call_2", "weather", "timeout"),
        ]
        detail = inspector.query_one("#detail-arguments", Static)
        assert "asks to ignore rules" in _text(detail)  # first row: the verdict's reason
        inspector.query_one(VirtualTable).focus()
        await pilot.press("down", "down")
        await wait_until(pilot, lambda: '"city": "Oslo"' in _text(detail), what="weather call detail")
        assert _text(inspector.query_one("#detail-result-label", Static)) == "Error"
        assert "Weather service unreachable" in _text(inspector.query_one("#detail-result", Static))
        assert "30,000.0 ms" in _text(inspector.query_one("#detail-head", Static))


async def test_inspector_is_the_same_after_a_restart(tmp_path):
    db = tmp_path / "i.db"
    built = await _seed(db)
    seen = []
    for _ in range(2):  # two separate app runs over the same file
        app = _host(db, built["thread"]["id"])
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.panel.loaded)
            seen.append(_rows(app.panel))
    assert seen[0] == seen[1] and len(seen[0]) == 3


async def test_live_events_add_and_finish_a_call(tmp_path):
    db = tmp_path / "i.db"
    built = await _seed(db)
    tid = built["thread"]["id"]
    app = _host(db, tid)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.panel.loaded)
        inspector = app.panel
        inspector.apply_event(ToolCallStarted(tid, "msg_live", "call_9", "search_documents", {"query": "wifi"}, 1.0))
        inspector.apply_event(ToolCallStarted("thr_other", "msg_x", "call_x", "nope", {}, 1.0))  # another thread
        await pilot.pause()
        assert _rows(inspector)[-1] == ("call_9", "search_documents", "running")
        assert len(_rows(inspector)) == 4
        inspector.apply_event(ToolCallFinished(tid, "msg_live", "call_9", "search_documents", {"query": "wifi"},
                                               result="Wifi doc", error=None, duration_ms=12.0, status="ok"))
        inspector.apply_event(GuardrailFlagged(tid, "msg_u2", True, "jailbreak attempt", "blocked"))
        await pilot.pause()
        rows = _rows(inspector)
        assert rows[3] == ("call_9", "search_documents", "ok")
        assert rows[4] == ("guard:msg_u2", "⚑ guardrail", "blocked")
        assert _text(inspector.query_one("#inspector-title", Static)).endswith("5 calls")


async def test_copy_arguments_and_result(tmp_path):
    db = tmp_path / "i.db"
    built = await _seed(db)
    app = _host(db, built["thread"]["id"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.panel.loaded)
        app.panel.query_one(VirtualTable).focus()
        await pilot.press("down", "c")
        assert json.loads(app.clipboard) == {"expression": "6*7"}
        await pilot.press("y")
        assert app.clipboard == "42"
        await pilot.press("escape")
        assert app.hidden


async def test_turn_scope_and_toggle_to_whole_thread(tmp_path):
    db = tmp_path / "i.db"
    built = await _seed(db)
    tid = built["thread"]["id"]
    conn = await connect(db)
    try:  # a second turn with its own call
        messages = MessageStore(conn)
        await messages.add(tid, "user", "And 2+2?")
        second = await messages.add(tid, "assistant", "", tool_calls=[
            {"id": "call_3", "name": "calculator", "arguments": {"expression": "2+2"}}])
        await messages.add(tid, "tool", "4", tool_call_id="call_3",
                           meta={"name": "calculator", "arguments": {"expression": "2+2"}, "started_at": 5.0,
                                 "duration_ms": 1.0, "status": "ok"})
        reply = await messages.add(tid, "assistant", "4")
    finally:
        await conn.close()
    app = _host(db, tid, reply["id"])  # the final reply of the second turn
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.panel.loaded)
        assert [r[0] for r in _rows(app.panel)] == ["call_3"]
        app.panel.query_one(VirtualTable).focus()
        await pilot.press("s")
        assert [r[0] for r in _rows(app.panel)] == ["guard:" + built["user"]["id"], "call_1", "call_2", "call_3"]
    assert second["tool_calls"][0]["id"] == "call_3"


async def test_untrusted_text_is_shown_literally_without_control_characters(tmp_path):
    db = tmp_path / "i.db"
    built = await _seed(db, hostile=True)
    app = _host(db, built["thread"]["id"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.panel.loaded)
        app.panel.query_one(VirtualTable).focus()
        await pilot.press("down", "down")
        result = _text(app.panel.query_one("#detail-result", Static))
        assert "[bold]markup[/bold]" in result  # markup shown as typed, not applied
        assert "\x1b" not in result and "\x07" not in result
        assert "red" in result
        args = _text(app.panel.query_one("#detail-arguments", Static))
        assert "\\u001b" in args or "\x1b" not in args  # JSON-escaped or stripped, never raw
    assert HOSTILE.startswith("evil")


def test_snapshot_inspector(snap_compare, tmp_path):
    db = tmp_path / "snap.db"
    built = asyncio.run(_seed(db))

    async def ready(pilot):
        await wait_until(pilot, lambda: pilot.app.panel is not None and pilot.app.panel.loaded)
        pilot.app.panel.query_one(VirtualTable).focus()
        await pilot.press("down")

    assert snap_compare(_host(db, built["thread"]["id"]), terminal_size=SIZE, run_before=ready)
