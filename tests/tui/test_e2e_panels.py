"""The panels in the real app, end to end against the fake server: inspector, memory, agents, import/export, themes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.fakes.llm_server import Reply, ToolCallSpec
from tui_agents.config import AppConfig, load_config

from .conftest import ready, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(90)

TOOL_REPLIES = (Reply(tool_calls=[ToolCallSpec("calculate", {"expression": "6*7"})]),)


def _system_prompt(request) -> str:
    """The system prompt of an Ollama chat request (the first message, role system)."""
    messages = request.body["messages"]
    return messages[0]["content"] if messages and messages[0]["role"] == "system" else ""


def _dump(db_path: Path) -> list[str]:
    """Every row of the database as SQL text, through a second connection."""
    with sqlite3.connect(db_path) as db:
        return list(db.iterdump())


async def _use_new_agent(pilot, **fields) -> str:
    """Create an agent and make it the one new chats start from, as the agents screen's "use" does."""
    from tui_agents.tui.screens.agents import AgentSelected

    app = pilot.app
    agent = await app.session.agents.create(**fields)
    app.post_message(AgentSelected(agent["id"], agent["name"]))
    await wait_until(pilot, lambda: app.session.agent_id == agent["id"], what="the agent selection")
    return agent["id"]


def _notices(app) -> str:
    """The text of the notifications shown so far."""
    return "\n".join(n.message for n in app._notifications)


def _inspector(app):
    from tui_agents.tui.screens.inspector import ToolInspector

    return app.panel if isinstance(app.panel, ToolInspector) else None


def _calculate_row(app):
    inspector = _inspector(app)
    entries = list(inspector.entries.values()) if inspector is not None else []
    return next((e for e in entries if e.name == "calculate" and e.status == "ok"), None)


async def test_a_tool_call_fills_the_inspector_live_and_again_after_a_restart(ollama_env, make_app, tmp_path):
    ollama_env.script(*TOOL_REPLIES, Reply(text="It is 42.", first_delay=1.5))
    app = make_app(config_path=tmp_path / "config.toml")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _use_new_agent(pilot, name="maths", system_prompt="You do sums.", tools=["calculate"])
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: _inspector(app) is not None and _inspector(app).loaded, what="the inspector")
        await send(pilot, "what is 6*7?")
        await wait_until(pilot, lambda: _calculate_row(app) is not None, what="the live tool call")
        thread_id = app.current_thread_id
        assert app.turns[thread_id].running, "the row must appear while the turn is still answering"
        row = _calculate_row(app)
        assert dict(row.arguments) == {"expression": "6*7"} and row.result == "42"
        tools = ollama_env.chat_requests()[0].body.get("tools") or []
        assert [t["function"]["name"] for t in tools] == ["calculate"]
        await wait_until(pilot, lambda: not app.turns[thread_id].running, what="the end of the turn")
        assert "calculate" in screen_text(app)

    app2 = make_app(config_path=tmp_path / "config.toml")
    async with app2.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app2.screen_main.threads.open_thread(thread_id)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: _calculate_row(app2) is not None, what="the stored tool call")
        row = _calculate_row(app2)
        assert dict(row.arguments) == {"expression": "6*7"} and row.duration_ms is not None
        await wait_until(pilot, lambda: "42" in screen_text(app2), what="the stored result in the detail")
        await pilot.press("ctrl+n")  # the open inspector follows the chat to a new, empty thread
        await wait_until(pilot, lambda: _inspector(app2).thread_id is None and not _inspector(app2).entries,
                         what="the inspector to follow the new chat")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: app2.panel is None, what="ctrl+t to close it")


async def test_inspect_from_the_message_menu_shows_that_turn(ollama_env, make_app):
    from tui_agents.tui.screens.dialogs import MenuScreen

    ollama_env.script(*TOOL_REPLIES, Reply(text="It is 42."), Reply(text="plain answer"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _use_new_agent(pilot, name="maths", system_prompt="You do sums.", tools=["calculate"])
        await send(pilot, "what is 6*7?")
        thread_id = app.current_thread_id
        await wait_until(pilot, lambda: app.turns[thread_id].status == "complete", what="the first turn")
        records = await app.session.messages.list(thread_id)
        asked = next(r for r in records if r["role"] == "assistant" and r["tool_calls"])
        await app.screen_main.threads.open_thread(thread_id)
        pane = app.chat_pane
        for _ in range(len(pane.views)):  # alt+up walks the message cursor up to the tool-calling reply
            await pilot.press("alt+up")
            if pane.selected() is not None and pane.selected().message_id == asked["id"]:
                break
        assert pane.selected().message_id == asked["id"]
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MenuScreen), what="the message menu")
        await pilot.press("end", "enter")  # "Inspect" is the last choice
        await wait_until(pilot, lambda: _calculate_row(app) is not None, what="the inspector at that message")
        assert _inspector(app).message_id == asked["id"]
        assert "this turn" in screen_text(app)


async def test_editing_a_fact_in_the_memory_panel_changes_the_next_system_prompt(ollama_env, make_app):
    from textual.widgets import Input

    from tui_agents.tui.screens.memory_panel import FactEditor, MemoryPanel

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.stores.facts.set(app.user_id, "city", "Paris")
        await send(pilot, "where do I live?")
        await wait_until(pilot, lambda: len(ollama_env.chat_requests()) == 1, what="the first request")
        assert "Paris" in _system_prompt(ollama_env.chat_requests()[-1])
        thread_id = app.current_thread_id
        await wait_until(pilot, lambda: not app.turns[thread_id].running, what="the first turn")

        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.panel, MemoryPanel) and app.panel.facts_loaded,
                         what="the memory panel")
        await pilot.press("down", "e")  # the first row is the category heading, the fact is below it
        await wait_until(pilot, lambda: isinstance(app.screen, FactEditor), what="the fact editor")
        app.screen.query_one("#fact-value", Input).value = "Lisbon"
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(f["value"] == "Lisbon" for f in app.panel.facts), what="the saved fact")

        await send(pilot, "and now?")
        await wait_until(pilot, lambda: len(ollama_env.chat_requests()) == 2, what="the second request")
        prompt = _system_prompt(ollama_env.chat_requests()[-1])
        assert "Lisbon" in prompt and "Paris" not in prompt


async def test_the_in_context_view_is_exactly_what_the_next_turn_sends(ollama_env, make_app, tmp_path):
    from textual.widgets import Input

    from tui_agents.tui.screens.memory_panel import MemoryPanel

    config_path = tmp_path / "config.toml"
    app = make_app(config_path=config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        for i in range(3):
            await send(pilot, f"question {i}")
            await wait_until(pilot, lambda: app.turns[app.current_thread_id].status == "complete", what=f"turn {i}")
        thread_id = app.current_thread_id

        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.panel, MemoryPanel) and app.panel.context is not None,
                         what="the in-context view")
        panel = app.panel
        assert len(panel.context.message_ids) == 6
        panel.query_one("#params", Input).value = "n=3"  # what typing in the parameters box does
        await wait_until(pilot, lambda: len(panel.context.message_ids) == 3, what="the narrower window")
        await wait_until(pilot, lambda: load_config(config_path).memory.params == {"n": 3}, what="the saved strategy")

        # A reply that fails leaves the question unanswered; the panel then shows what a retry sends.
        ollama_env.script(Reply(status=400, error_message="no"))
        await send(pilot, "question 3")
        await wait_until(pilot, lambda: app.turns[thread_id].status == "error", what="the failed turn")
        await wait_until(pilot, lambda: "question 3" in [r.preview for r in panel.context.rows],
                         what="the view after the failure")
        shown = await app.session.messages.get_many(panel.context.message_ids)

        await pilot.press("f5")
        await wait_until(pilot, lambda: app.turns[thread_id].status == "complete", what="the retried turn")
        sent = [m for m in ollama_env.chat_requests()[-1].body["messages"] if m["role"] != "system"]
        assert [(m["role"], m["content"]) for m in sent] == [(r["role"], r["content"]) for r in shown]
        assert len(sent) == 3


async def test_an_agent_made_from_a_template_answers_new_chats_even_after_a_restart(ollama_env, make_app, tmp_path):
    from textual.widgets import Input

    from tui_agents.definition import AgentTemplates
    from tui_agents.tui.screens.agents import AgentsScreen

    config_path = tmp_path / "config.toml"
    app = make_app(config_path=config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, AgentsScreen) and app.screen.loaded, what="agents")
        screen = app.screen
        await pilot.press("ctrl+n")
        screen.query_one("#agent-name", Input).value = "Landlord"
        await pilot.click("#template-property_manager")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any(a["name"] == "Landlord" for a in screen.agents.values()), what="save")
        await pilot.press("ctrl+u")
        await wait_until(pilot, lambda: app.session.agent_id == screen.agent_id, what="use for new chats")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, AgentsScreen), what="back to the chat")

        await send(pilot, "the boiler is broken")
        await wait_until(pilot, lambda: len(ollama_env.chat_requests()) == 1, what="the request")
        expected = AgentTemplates.get("property_manager", name="Landlord").compile()
        assert _system_prompt(ollama_env.chat_requests()[-1]).startswith(expected)
        await wait_until(pilot, lambda: app.turns[app.current_thread_id].status == "complete", what="the reply")

    app2 = make_app(config_path=config_path)
    async with app2.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "the roof leaks")
        await wait_until(pilot, lambda: len(ollama_env.chat_requests()) == 2, what="the request after restart")
        assert _system_prompt(ollama_env.chat_requests()[-1]).startswith(expected)


async def test_export_then_import_from_the_palette_and_a_malformed_file_changes_nothing(ollama_env, make_app,
                                                                                       tmp_path):
    from textual.widgets import Input

    from tui_agents.tui.screens.dialogs import MenuScreen, TextPromptScreen

    db_path = tmp_path / "db.sqlite"
    app = make_app(db_path=db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "keep this")
        await wait_until(pilot, lambda: app.turns[app.current_thread_id].status == "complete", what="the reply")
        thread_id = app.current_thread_id

        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, MenuScreen), what="the format menu")
        await pilot.press("down", "enter")  # JSON
        await wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="the path prompt")
        target = tmp_path / "out" / "thread.json"
        app.screen.query_one("#value", Input).value = str(target)
        await pilot.press("enter")
        await wait_until(pilot, target.exists, what="the export file")
        assert json.loads(target.read_text())["thread"]["id"] == thread_id
        await wait_until(pilot, lambda: str(target) in _notices(app), what="the notice saying where")

        bad = tmp_path / "bad.json"
        bad.write_text('{"format": "aiagents-tui/thread", "version": 1, "messages": [')
        before = _dump(db_path)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="the import prompt")
        app.screen.query_one("#value", Input).value = str(bad)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "is not valid JSON" in _notices(app), what="the error notice")
        assert _dump(db_path) == before

        imported = await app.import_from(target)  # same database: new ids, same content
        assert len(imported) == 1 and imported[0] != thread_id
        await wait_until(pilot, lambda: imported[0] in app.sidebar.tree.thread_ids(), what="the imported thread")


async def test_theme_picker_switches_live_and_saves_the_choice(make_app, tmp_path):
    from tui_agents.tui.screens.dialogs import ThemePickerScreen

    config_path = tmp_path / "config.toml"
    app = make_app(config_path=config_path, config=AppConfig(theme="aiagents-dark"))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert app.theme == "aiagents-dark"
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, ThemePickerScreen), what="the theme menu")
        await pilot.press("down", "enter")  # ours come first: dark, light, high contrast
        await wait_until(pilot, lambda: app.theme == "aiagents-light", what="the light theme")
        await wait_until(pilot, lambda: config_path.exists() and load_config(config_path).theme == "aiagents-light",
                         what="the saved theme")


async def test_every_action_has_a_palette_entry_and_f1_shows_the_keys_in_effect_after_a_remap(make_app):
    from tui_agents.config import AppConfig
    from tui_agents.tui.actions import ACTIONS
    from tui_agents.tui.screens.dialogs import HelpScreen

    app = make_app(config=AppConfig(keymap={"panel.inspector": "f11", "thread.export": "f12"}))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        palette = {title: (help_text, action) for title, help_text, action in app.palette_actions()}
        assert palette["Tool-call inspector"][0].endswith("(f11)")
        assert palette["Export thread as JSON"][0].endswith("(f12)")  # reached through the export menu
        assert palette["Memory panel"][0].endswith("(ctrl+g)")
        assert palette["Fork thread"][0].endswith("(f in the sidebar)")
        assert all(a.title in palette for a in ACTIONS if a.palette)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")
        rows = {binding_id: key for key, _description, binding_id in app.screen.rows}
        always = {a.id for a in ACTIONS if a.where == "app" and a.key} - {"reply.stop"}  # only while a reply streams
        assert always <= set(rows)
        assert rows["panel.inspector"] == "f11"
        await pilot.press("escape")
        await pilot.press("f11")
        await wait_until(pilot, lambda: type(app.panel).__name__ == "ToolInspector", what="f11 opens the inspector")


async def test_a_reply_left_streaming_by_a_crash_is_interrupted_at_the_next_start(make_app, tmp_path):
    from tui_agents.store import MessageStore, ThreadStore, connect

    db_path = tmp_path / "db.sqlite"
    conn = await connect(str(db_path))
    try:
        from tui_agents.store import AgentStore

        agent = await AgentStore(conn).create("assistant", "You help.")
        thread = await ThreadStore(conn).create(agent["id"], user_id="local")
        await MessageStore(conn).add(thread["id"], "user", "hello")
        reply = await MessageStore(conn).add(thread["id"], "assistant", "half a rep", status="streaming")
        # as a version that recorded no writer process left it, idle for an hour (this test process is alive)
        await conn.execute("UPDATE messages SET updated_at = updated_at - 3600, writer = NULL WHERE id = ?",
                           (reply["id"],))
        await conn.commit()
    finally:
        await conn.close()
    app = make_app(db_path=db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        record = await app.session.messages.get(reply["id"])
        assert record["status"] == "interrupted" and record["content"] == "half a rep"
