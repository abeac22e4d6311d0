"""The agents screen: templates, live preview, save, edit, delete, and picking the agent for new chats."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, SelectionList, Static, TextArea

from tests.data.builders import make_agent
from tests.data.pilot import PanelHost, wait_until
from tui_agents.definition import AgentTemplates
from tui_agents.store import AgentStore, ThreadStore, connect
from tui_agents.tui.screens.agents import (
    AgentSelected,
    AgentsScreen,
    definition_from_form,
    parse_examples,
    parse_personality,
)

SIZE = (120, 44)


def _host(db, **kw) -> PanelHost:
    return PanelHost(db, lambda app: AgentsScreen(app.stores.agents, **kw), screen=True)


async def _ready(pilot) -> AgentsScreen:
    await wait_until(pilot, lambda: pilot.app.panel is not None and pilot.app.panel.loaded, what="agents loaded")
    return pilot.app.panel


def _preview(screen: AgentsScreen) -> str:
    return str(screen.query_one("#agent-preview", Static).render())


async def test_agent_from_a_template_is_saved_with_its_compiled_prompt(tmp_path):
    db = tmp_path / "a.db"
    app = _host(db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _ready(pilot)
        await pilot.click("#template-property_manager")
        expected = AgentTemplates.property_manager()
        await wait_until(pilot, lambda: screen.compiled == expected.compile())
        assert "## Examples" in _preview(screen)
        screen.query_one("#agent-tools", SelectionList).select("search_documents")
        await pilot.press("ctrl+s")
        store = AgentStore(app.conn)
        await wait_until(pilot, lambda: screen.agent_id is not None, what="saved")
        record = await store.get(screen.agent_id)
        assert record["name"] == "Hostomatic"
        assert record["system_prompt"] == expected.compile()
        assert record["definition"] == expected.to_dict()
        assert record["tools"] == ["search_documents"]


async def test_editing_updates_the_preview_live_and_saves(tmp_path):
    db = tmp_path / "a.db"
    conn = await connect(db)
    agent = await make_agent(conn)
    await conn.close()
    app = _host(db, selected_agent_id=agent["id"])
    async with app.run_test(size=SIZE) as pilot:
        screen = await _ready(pilot)
        assert screen.query_one("#agent-role", TextArea).text == "You help."  # a raw prompt becomes the role
        screen.query_one("#agent-goal", Input).value = "Answer maths questions"
        screen.query_one("#agent-constraints", TextArea).load_text("Show your working\n\nBe brief")
        await wait_until(pilot, lambda: "## Goal\nAnswer maths questions" in _preview(screen))
        assert "- Show your working\n- Be brief" in _preview(screen)
        screen.query_one("#agent-memory-params", Input).value = "n=8"
        screen.query_one("#agent-memory").value = "last_n"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any(n.message == "Saved helper." for n in app._notifications))
        record = await AgentStore(app.conn).get(agent["id"])
        assert record["definition"]["goal"] == "Answer maths questions"
        assert record["definition"]["constraints"] == ["Show your working", "Be brief"]
        assert record["system_prompt"] == screen.compiled
        assert (record["memory_strategy"], record["memory_params"]) == ("last_n", {"n": 8})
        assert record["tools"] == []  # "calculator" is not a registered tool, so the form does not offer it


async def test_an_invalid_form_is_not_saved(tmp_path):
    db = tmp_path / "a.db"
    app = _host(db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _ready(pilot)
        screen.query_one("#agent-name", Input).value = "blank"
        screen.query_one("#agent-examples", TextArea).load_text("User: only a question")
        await wait_until(pilot, lambda: "⚠" in str(screen.query_one("#agent-error", Static).render()))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert await AgentStore(app.conn).list() == []


async def test_delete_is_refused_while_a_thread_uses_the_agent(tmp_path):
    db = tmp_path / "a.db"
    conn = await connect(db)
    used = await make_agent(conn, "used")
    unused = await make_agent(conn, "unused")
    await ThreadStore(conn).create(used["id"], title="keeps it")
    await conn.close()
    app = _host(db, selected_agent_id=used["id"])
    async with app.run_test(size=SIZE) as pilot:
        screen = await _ready(pilot)
        await pilot.press("ctrl+d")
        await pilot.pause()
        store = AgentStore(app.conn)
        assert {a["name"] for a in await store.list()} == {"used", "unused"}
        assert any("used by 1 thread" in n.message for n in app._notifications)
        screen.agent_id = unused["id"]
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: unused["id"] not in screen.agents, what="list reloaded")
        assert [a["name"] for a in await store.list()] == ["used"]


async def test_use_for_new_chats_posts_agent_selected(tmp_path):
    db = tmp_path / "a.db"
    conn = await connect(db)
    agent = await make_agent(conn)
    await conn.close()
    app = _host(db, selected_agent_id=agent["id"])
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("ctrl+u")
        await wait_until(pilot, lambda: any(isinstance(m, AgentSelected) for m in app.events))
        chosen = next(m for m in app.events if isinstance(m, AgentSelected))
        assert (chosen.agent_id, chosen.name) == (agent["id"], "helper")


def test_form_parsers():
    assert parse_personality("tone: warm\n\nplayful") == {"tone": "warm", "trait": "playful"}
    assert parse_examples("User: hi\nAssistant: hello\nthere\n\nUser: bye\nAssistant: ciao") == [
        {"user": "hi", "assistant": "hello\nthere"}, {"user": "bye", "assistant": "ciao"}]
    definition = definition_from_form("Bot", "You are a bot.", "", "", "", "")
    assert definition.compile() == "You are a bot.\nYour name is Bot."


def test_snapshot_agents_screen(snap_compare, tmp_path, monkeypatch):
    from tui_agents.tools.builtin import BUILTIN_TOOLS
    from tui_agents.tools.registry import default_registry

    # The screen lists every registered tool; other test modules register theirs at import time.
    monkeypatch.setattr(default_registry, "_tools", {tool.name: tool for tool in BUILTIN_TOOLS})
    db = tmp_path / "snap.db"

    async def seed():
        conn = await connect(db)
        await make_agent(conn)
        await conn.close()

    asyncio.run(seed())

    async def ready(pilot):
        screen = await _ready(pilot)
        screen.action_new()
        screen.apply_template("rag_assistant")
        await pilot.pause()

    assert snap_compare(_host(db), terminal_size=SIZE, run_before=ready)
