"""The memory panel: facts (add, edit, delete, sources) and the in-context view against strategy.select."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, Static

from tests.data.builders import USER, seed_facts, tool_thread
from tests.data.pilot import PanelHost, wait_until
from tui_agents.memory import TokenCounter, get_memory_strategy
from tui_agents.store import MessageStore, UserMemoryStore, connect
from tui_agents.tui.widgets.virtual_table import VirtualTable
from tui_agents.tui.screens.memory_panel import (
    FactEditor,
    MemoryPanel,
    StrategySwitch,
    parse_params,
)

SIZE = (110, 34)


async def _seed(path, extra_turns: int = 0) -> dict:
    conn = await connect(path)
    try:
        built = await tool_thread(conn)
        await seed_facts(conn)
        messages = MessageStore(conn)
        for i in range(extra_turns):
            await messages.add(built["thread"]["id"], "user", f"question {i}")
            await messages.add(built["thread"]["id"], "assistant", f"answer {i}")
        return built
    finally:
        await conn.close()


async def _select_ids(path, thread_id, name, **params) -> list[str]:
    conn = await connect(path)
    try:
        records = await get_memory_strategy(name, **params).select(MessageStore(conn), thread_id, TokenCounter())
        return [r["id"] for r in records]
    finally:
        await conn.close()


def _host(db, thread_id, **kw) -> PanelHost:
    kw.setdefault("strategy", "last_n")
    kw.setdefault("params", {"n": 20})
    return PanelHost(db, lambda app: MemoryPanel(app.stores, USER, thread_id, **kw))


def _ready(app) -> bool:
    panel = app.panel
    return panel is not None and panel.facts_loaded and panel.context is not None


def _fact_rows(panel: MemoryPanel) -> list[tuple[str, ...]]:
    table = panel.query_one("#facts", VirtualTable)
    return [tuple(getattr(cell, "plain", cell) for cell in table.row(k)) for k in table.keys]


async def test_facts_are_grouped_with_their_source(tmp_path):
    db = tmp_path / "m.db"
    built = await _seed(db)
    app = _host(db, built["thread"]["id"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _ready(app))
        assert _fact_rows(app.panel) == [
            ("▸ general", "", ""),
            ("name", "Ada", "you"),
            ("timezone", "Europe/Oslo", "model (auto)"),
            ("▸ preferences", "", ""),
            ("style", "concise answers", "model (tool)"),
        ]


async def test_add_edit_and_delete_change_what_the_store_returns(tmp_path):
    db = tmp_path / "m.db"
    built = await _seed(db)
    app = _host(db, built["thread"]["id"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _ready(app))
        panel = app.panel
        memory = UserMemoryStore(app.conn)
        panel.query_one("#facts", VirtualTable).focus()

        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, FactEditor))
        await pilot.press(*"pet", "tab", *"a cat called Turing", "tab")
        app.screen.query_one("#fact-category", Input).value = "home"
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(r[0] == "pet" for r in _fact_rows(panel)), what="new fact shown")
        fact = next(f for f in await memory.get_all(USER) if f["key"] == "pet")
        assert (fact["value"], fact["category"], fact["source"]) == ("a cat called Turing", "home", "user")

        # Edit the extractor's timezone: the value changes and the fact becomes the user's own.
        table = panel.query_one("#facts", VirtualTable)
        table.move_to("fact:timezone")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, FactEditor))
        app.screen.query_one("#fact-value", Input).value = "America/New_York"
        await pilot.click("#fact-save")
        await wait_until(pilot, lambda: ("timezone", "America/New_York", "you") in _fact_rows(panel))
        assert await memory.get(USER, "timezone") == "America/New_York"

        # The facts block in the context follows the edit.
        await wait_until(pilot, lambda: panel.context and "America/New_York" in next(
            r.preview for r in panel.context.rows if r.key == "facts"), what="facts block refreshed")

        table.move_to("fact:name")
        await pilot.press("d")
        await wait_until(pilot, lambda: not any(r[0] == "name" for r in _fact_rows(panel)))
        assert await memory.get(USER, "name") is None

        # Escape in the editor changes nothing.
        table.move_to("fact:style")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FactEditor))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, FactEditor))
        assert await memory.get(USER, "style") == "concise answers"


async def test_in_context_view_lists_exactly_what_select_returns(tmp_path):
    db = tmp_path / "m.db"
    built = await _seed(db, extra_turns=6)
    tid = built["thread"]["id"]
    expected = await _select_ids(db, tid, "last_n", n=5)
    app = _host(db, tid, params={"n": 5})
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _ready(app))
        panel = app.panel
        assert panel.context.message_ids == expected
        table = panel.query_one("#context", VirtualTable)
        assert table.keys == ["system", "facts", *expected]
        summary = str(panel.query_one("#context-summary", Static).render())
        assert f"{len(expected)} messages · last 5 messages" in summary
        assert "of 128,000 tokens" in summary  # gpt-4o-mini's window, from the agent record
        tokens = sum(int(table.row(k)[2].replace(",", "")) for k in table.keys)
        assert f"{tokens:,} of" in summary


async def test_changing_strategy_and_params_updates_the_view_at_once(tmp_path):
    db = tmp_path / "m.db"
    built = await _seed(db, extra_turns=6)
    tid = built["thread"]["id"]
    first_last = await _select_ids(db, tid, "first_last", first=2, last=3)
    last_3 = await _select_ids(db, tid, "last_n", n=3)
    app = _host(db, tid)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: _ready(app))
        panel = app.panel
        params = panel.query_one("#params", Input)
        params.value = "n=3"
        await wait_until(pilot, lambda: panel.context.message_ids == last_3, what="n=3 applied")
        params.value = "n=oops"
        await wait_until(pilot, lambda: "⚠" in str(panel.query_one("#context-summary", Static).render()))
        assert panel.context.message_ids == last_3  # a typo keeps the last good view

        switch = panel.query_one("#strategy", StrategySwitch)
        switch.focus()
        await pilot.press("right")  # last_n -> first_last
        await wait_until(pilot, lambda: params.value == "first=2, last=10")
        params.value = "first=2, last=3"
        await wait_until(pilot, lambda: panel.context.message_ids == first_last, what="first_last applied")
        changes = [(m.strategy, m.params) for m in app.events if isinstance(m, MemoryPanel.StrategyChanged)]
        assert changes[0] == ("last_n", {"n": 3})
        assert changes[-1] == ("first_last", {"first": 2, "last": 3})


def test_parse_params_and_key_proposals():
    assert parse_params("first=2; last = 1_000") == {"first": 2, "last": 1000}
    for bad in ("n", "n=x", "=3"):
        try:
            parse_params(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def _snapshot(snap_compare, tmp_path, keys: tuple[str, ...]) -> bool:
    db = tmp_path / "snap.db"
    built = asyncio.run(_seed(db))

    async def ready(pilot):
        await wait_until(pilot, lambda: _ready(pilot.app))
        pilot.app.panel.query_one("#facts", VirtualTable).focus()
        await pilot.press(*keys)
        await wait_until(pilot, lambda: "selecting" not in str(
            pilot.app.panel.query_one("#context-summary", Static).render()))

    return snap_compare(_host(db, built["thread"]["id"]), terminal_size=SIZE, run_before=ready)


def test_snapshot_memory_panel(snap_compare, tmp_path):
    assert _snapshot(snap_compare, tmp_path, ("down",))


def test_snapshot_memory_panel_token_window(snap_compare, tmp_path):
    """Tab to the strategy switch, pick token_window, tab to the context table."""
    assert _snapshot(snap_compare, tmp_path, ("tab", "left", "tab", "tab"))
