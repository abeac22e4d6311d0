"""Issue 13 item 8: the built-in assistant has the safe tools on; tools toggle per agent in two keys."""

from __future__ import annotations

from textual.widgets import SelectionList

from tests.fakes.llm_server import Reply
from tests.tui.conftest import last_reply, ready, rendered_text, screen_text, send, wait_until
from tui_agents.session import DEFAULT_AGENT_NAME, DEFAULT_SYSTEM_PROMPT
from tui_agents.store import AgentStore, connect

SAFE = ["calculate", "current_time", "search_documents"]


async def test_a_new_database_offers_the_safe_tools_to_the_model(ollama_env, make_app):
    ollama_env.script(Reply(text="hi"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        agent = await app.session.agents.get(await app.session.default_agent_id())
        assert agent["tools"] == SAFE  # remember stays off until the user turns it on
        await send(pilot, "what time is it")
        await wait_until(pilot, lambda: last_reply(app) is not None and "hi" in rendered_text(last_reply(app)))
    offered = sorted(t["function"]["name"] for t in ollama_env.requests[-1].body.get("tools") or [])
    assert offered == SAFE


async def test_an_untouched_old_default_agent_gets_the_tools_and_an_edited_one_keeps_its_choice(tmp_path, ollama_env,
                                                                                             make_app):
    conn = await connect(tmp_path / "db.sqlite")
    agent = await AgentStore(conn).create(DEFAULT_AGENT_NAME, DEFAULT_SYSTEM_PROMPT)  # as older versions made it
    await conn.close()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert await app.session.default_agent_id() == agent["id"]  # what the first chat does
        assert (await app.session.agents.get(agent["id"]))["tools"] == SAFE
        await app.session.agents.update(agent["id"], tools=[])  # the user turns every tool off
    again = make_app()
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await again.session.default_agent_id()
        assert (await again.session.agents.get(agent["id"]))["tools"] == []


async def test_ctrl_t_reaches_the_tool_toggles_and_escape_asks_before_dropping_the_edit(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "AgentsScreen" and app.screen.loaded,
                         what="the agents screen")
        screen = app.screen
        await pilot.press("ctrl+t")
        tools = screen.query_one("#agent-tools", SelectionList)
        assert app.focused is tools
        tools.highlighted = [tools.get_option_at_index(i).value for i in range(tools.option_count)].index("remember")
        await pilot.press("space")
        assert "remember" in tools.selected
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="the discard question")
        assert "unsaved changes" in screen_text(app) and "y: Discard" in screen_text(app)
        await pilot.press("enter")  # enter keeps editing
        await wait_until(pilot, lambda: app.screen is screen, what="back in the form")
        await pilot.press("ctrl+s")
        agent_id = await app.session.default_agent_id()
        await wait_until(pilot, lambda: not screen.dirty, what="saved")
        assert (await app.session.agents.get(agent_id))["tools"] == [*SAFE, "remember"]
        await pilot.press("escape")  # nothing unsaved: closes at once
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen", what="back in the chat")
