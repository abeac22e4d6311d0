"""The turn's request leaves while its views mount: what arrives meanwhile is shown in order, and a stop still stops."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.tui.widgets.working import WorkingLine

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


async def test_a_reply_arriving_at_once_is_shown_whole_with_its_saved_ids(ollama_env, make_app):
    text = "All of it at once. " * 40 + "THE END"
    ollama_env.script(Reply(text=text, chunk_chars=len(text)))  # one chunk, no delay: before the views are there
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.warm_up()  # the engine warm: the request leaves at once
        await send(pilot, "quick one")
        thread_id = app.current_thread_id
        await wait_until(pilot, lambda: not app.turns[thread_id].running, what="the turn's end")
        await pilot.pause(0.1)
        assert rendered_text(last_reply(app)) == text
        records = await app.session.messages.list(thread_id)
        users = [v for v in app.chat_pane.views if v.role == "user"]
        assert [v.message_id for v in users] == [records[0]["id"]]  # the user's view knows its saved message
        assert last_reply(app).message_id == records[1]["id"]
        assert records[1]["status"] == "complete"
        assert not app.query(WorkingLine)  # the working line went with the turn's end


async def test_escape_right_after_enter_stops_the_turn_and_leaves_no_working_line(ollama_env, make_app):
    ollama_env.script(Reply(text="too late", first_delay=5))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.warm_up()
        app.composer.focus()
        app.composer.load_text("stop me")
        await pilot.press("enter", "escape")
        thread_id = app.current_thread_id
        await wait_until(pilot, lambda: not app.turns[thread_id].running, what="the stop")
        await wait_until(pilot, lambda: "interrupted" in screen_text(app), what="the interrupted mark")
        assert not app.query(WorkingLine)
        records = await app.session.messages.list(thread_id)
        assert records[0]["role"] == "user"  # the user's message was saved before the request
        assert records[0]["content"] == "stop me"
