"""Daily use in the app (issue 13, items 4-6): regenerate in place, reopen where you left off, crash marks.

Real SQLite in tmp_path, the fake LLM server over loopback, the real app under Pilot.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]


def _done(app) -> bool:
    state = app.turns.get(app.current_thread_id or "")
    return state is not None and not state.running


async def _chat(pilot, text: str, expect: str) -> None:
    app = pilot.app
    await send(pilot, text)
    await wait_until(pilot, lambda: expect in rendered_text(last_reply(app)) and _done(app), what=expect)


# ---- item 4: regenerate in place


async def test_ctrl_r_regenerates_in_place_and_alt_arrows_choose_what_the_next_turn_sends(ollama_env, make_app):
    ollama_env.script(Reply(text="first answer"), Reply(text="second answer"), Reply(text="third answer"),
                      Reply(text="follow-up answer"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _chat(pilot, "a question", "first answer")
        thread_id = app.current_thread_id
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "second answer" in rendered_text(last_reply(app)) and _done(app))
        await wait_until(pilot, lambda: "◂ 2/2 ▸" in screen_text(app), what="the version counter")
        assert app.current_thread_id == thread_id
        assert app.sidebar.tree.thread_ids() == [thread_id]  # no branch thread in the sidebar
        assert "first answer" not in screen_text(app)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "◂ 3/3 ▸" in screen_text(app) and _done(app), what="a third version")
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: "◂ 2/3 ▸" in screen_text(app), what="alt+left")
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: "◂ 1/3 ▸" in screen_text(app) and "first answer" in screen_text(app))
        assert app.focused is app.composer
        shown = await app.session.messages.list(thread_id)
        assert [r["content"] for r in shown] == ["a question", "first answer"]
        await _chat(pilot, "and then?", "follow-up answer")
        sent = [m["content"] for m in ollama_env.requests[-1].body["messages"]]
        assert "first answer" in sent and "second answer" not in sent and "third answer" not in sent
        assert len(app.sidebar.tree.thread_ids()) == 1


async def test_a_regeneration_that_fails_at_once_shows_the_old_reply_again(ollama_env, make_app):
    ollama_env.script(Reply(text="the only answer"), Reply(status=400, error_message="bad request from the server"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _chat(pilot, "a question", "the only answer")
        thread_id = app.current_thread_id
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: app.chat_pane.last_notice() is not None and _done(app), what="the failure")
        await wait_until(pilot, lambda: "the only answer" in screen_text(app), what="the old reply back")
        assert "◂" not in screen_text(app)
        shown = await app.session.messages.list(thread_id)
        assert [r["content"] for r in shown] == ["a question", "the only answer"]


async def test_alt_right_on_a_selected_older_reply_switches_that_one(ollama_env, make_app):
    ollama_env.script(Reply(text="old one"), Reply(text="new one"), Reply(text="later reply"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _chat(pilot, "q1", "old one")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "new one" in rendered_text(last_reply(app)) and _done(app))
        await _chat(pilot, "q2", "later reply")
        await pilot.press("alt+up", "alt+up", "alt+up")  # the message cursor on the first reply
        assert app.chat_pane.selected().alternatives["index"] == 1
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: "◂ 1/2 ▸" in screen_text(app) and "old one" in screen_text(app))
        assert app.focused is app.chat_pane and app.chat_pane.selected() is not None
        assert "later reply" in screen_text(app)
        await pilot.press("alt+right")
        await wait_until(pilot, lambda: "◂ 2/2 ▸" in screen_text(app) and "new one" in screen_text(app))


async def test_a_reply_without_versions_says_how_to_make_one(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _chat(pilot, "hello", "echo: hello")
        await pilot.press("alt+left")
        await wait_until(pilot, lambda: any("ctrl+r writes one" in n.message for n in app._notifications))


async def test_forks_and_branches_say_where_they_came_from(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _chat(pilot, "the source chat", "echo: the source chat")
        source = app.current_thread_id
        await app.session.threads.rename(source, "Trip plans")
        await app.screen_main.threads.fork()
        await wait_until(pilot, lambda: app.current_thread_id != source, what="the fork")
        await wait_until(pilot, lambda: "forked from Trip plans" in screen_text(app), what="the fork's origin")
        assert "Trip plans (fork)" in screen_text(app)
        await app.screen_main.threads.open_and_type(source)
        await wait_until(pilot, lambda: "forked from" not in screen_text(app), what="an original has no origin")
        await pilot.press("alt+up", "alt+up", "enter")  # the menu of the user message
        await pilot.pause(0.2)
        await pilot.press("enter")  # "Branch from here"
        await wait_until(pilot, lambda: "branched from Trip plans at message 1" in screen_text(app))
        assert "Trip plans (branch at 1)" in screen_text(app)
        assert app.focused is app.composer


# ---- item 5: restart keeps your place


async def test_restart_reopens_the_last_thread_at_its_end_with_its_draft(ollama_env, make_app):
    ollama_env.script(*(Reply(text=f"reply number {i}\n\n" + "line\n\n" * 4) for i in range(12)))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        for i in range(12):
            await _chat(pilot, f"message {i}", f"reply number {i}")
        thread_id = app.current_thread_id
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.current_thread_id is None)
        await pilot.press(*"new chat draft")
        await app.screen_main.threads.open_and_type(thread_id)
        await pilot.press(*"half written")
        await pilot.press("ctrl+j")
        await pilot.press(*"second line")
    # quit at once (no debounce wait): the draft is written on the way out
    app2 = make_app()
    async with app2.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app2.current_thread_id == thread_id, what="the last thread reopened")
        await wait_until(pilot, lambda: app2.composer.text == "half written\nsecond line", what="the draft")
        assert app2.focused is app2.composer
        await wait_until(pilot, lambda: "reply number 11" in screen_text(app2), what="the end of the thread")
        assert app2.chat_pane.scroll_y >= app2.chat_pane.max_scroll_y - 1
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app2.composer.text == "new chat draft", what="the new chat's draft")
        await app2.screen_main.threads.open_and_type(thread_id)
        await wait_until(pilot, lambda: app2.composer.text == "half written\nsecond line")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app2.composer.text == "" and _done(app2), what="the send")
    app3 = make_app(new_chat=True)
    async with app3.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.pause(0.2)
        assert app3.current_thread_id is None  # --new
        assert app3.composer.text == "new chat draft"
        assert await app3.session.drafts().get(thread_id) == ""  # sent: the draft is gone
        await app3.screen_main.threads.open_and_type(thread_id)
        await wait_until(pilot, lambda: app3.current_thread_id == thread_id)
        assert app3.composer.text == ""


async def _first_run(make_app, draft: str = "") -> str:
    """A first run of the app: one exchange, then ``draft`` typed and left unsent; returns the thread id."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _chat(pilot, "hi", "echo: hi")
        await pilot.press(*draft)
        return app.current_thread_id


async def test_keys_typed_before_the_last_thread_opens_are_kept(ollama_env, make_app):
    thread_id = await _first_run(make_app, "saved draft")
    app2 = make_app()
    async with app2.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"typed early")  # before the database opened (start-up runs after the first frame)
        await ready(pilot)
        await wait_until(pilot, lambda: app2.current_thread_id == thread_id)
        await wait_until(pilot, lambda: "typed early" in app2.composer.text, what="the early keys")
        assert app2.composer.text == "saved draft\ntyped early"


async def test_a_deleted_last_thread_opens_a_new_chat(ollama_env, make_app):
    thread_id = await _first_run(make_app)
    app2 = make_app()
    async with app2.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app2.current_thread_id == thread_id)
        await app2.session.threads.trash(thread_id)
    app3 = make_app()
    async with app3.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.pause(0.2)
        assert app3.current_thread_id is None and app3.focused is app3.composer


# ---- item 6: crash recovery visible at once

WRITER = textwrap.dedent(
    """
    import asyncio, os, sys
    from tui_agents.store import AgentStore, MessageStore, ThreadStore, connect

    async def main(db):
        conn = await connect(db)
        agent = await AgentStore(conn).create("assistant", "You help.")
        thread = await ThreadStore(conn).create(agent["id"], user_id="local")
        await MessageStore(conn).add(thread["id"], "user", "tell me a story")
        await MessageStore(conn).add(thread["id"], "assistant", "Once upon a ti", status="streaming")
        print(thread["id"], flush=True)
        os._exit(0)  # gone mid-reply, like kill -9: nothing finishes the row

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_a_reply_cut_off_by_a_dead_process_says_the_app_closed(ollama_env, make_app, tmp_path):
    db = tmp_path / "db.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", WRITER, str(db)], env=env, capture_output=True, text=True,
                         timeout=30, check=True)
    thread_id = out.stdout.strip()
    app = make_app(db_path=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.screen_main.threads.open_and_type(thread_id)
        await wait_until(pilot, lambda: "the app closed while this reply was streaming" in screen_text(app))
        assert "ctrl+r answers again" in screen_text(app)  # and how to continue
        assert "the reply was stopped" not in screen_text(app)
        assert "Once upon a ti" in screen_text(app)


async def test_a_user_stop_keeps_its_own_wording(ollama_env, make_app):
    ollama_env.script(Reply(text="words " * 300, chunk_chars=5, delay=0.02))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "go on")
        await wait_until(pilot, lambda: "words" in rendered_text(last_reply(app)))
        await pilot.press("escape")
        await wait_until(pilot, lambda: "the reply was stopped" in screen_text(app), what="the stop mark")
        assert "the app closed" not in screen_text(app)


async def test_the_version_keys_are_in_f1_and_the_palette(ollama_env, make_app):
    from tui_agents.tui.screens.dialogs import HelpScreen

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        palette = {title: help_text for title, help_text, _action in app.palette_actions()}
        assert "(alt+left)" in palette["Previous version of the reply"]
        assert "(alt+right)" in palette["Next version of the reply"]
        assert "in place" in palette["Regenerate reply"] and "branch" not in palette["Regenerate reply"]
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")
        rows = {binding_id: key for key, _description, binding_id in app.screen.rows}
        assert "reply.previous_version" in rows and "reply.next_version" in rows


async def test_a_restart_titles_the_recent_threads_that_have_a_reply_but_no_title(ollama_env, make_app, tmp_path):
    from tui_agents.store import MessageStore, ThreadStore, connect

    db = tmp_path / "db.sqlite"
    conn = await connect(db)
    threads, messages = ThreadStore(conn), MessageStore(conn)
    lost = (await threads.create(None))["id"]  # its title job was lost (a stalled server, then a quit)
    await messages.add(lost, "user", "how do owls see at night")
    await messages.add(lost, "assistant", "With big eyes.")
    unanswered = (await threads.create(None))["id"]
    await messages.add(unanswered, "user", "no reply yet")
    await conn.close()
    ollama_env.script(Reply(text="Owls and Night Vision"))
    app = make_app(db_path=db, background_jobs=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)

        async def title(thread_id):
            return (await app.session.threads.get(thread_id))["title"]

        for _ in range(100):
            if await title(lost):
                break
            await pilot.pause(0.1)
        assert await title(lost) == "Owls and Night Vision"
        assert await title(unanswered) is None  # no reply: nothing to title yet
