"""Replies stream in the background: two threads at once, sidebar marks, and quitting while they stream."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(120)

TEXT_A = " ".join(f"alpha{i}" for i in range(60))
TEXT_B = " ".join(f"beta{i}" for i in range(60))


def _activity(app, thread_id: str) -> str | None:
    return app.sidebar.tree._record_of.get(thread_id, {}).get("activity")


def _sidebar_row(app, words: str) -> str:
    """The sidebar's row that shows ``words``, as drawn (cut at the sidebar's edge)."""
    right = app.sidebar.region.right
    rows = [line[:right] for line in screen_text(app).splitlines()]
    return next(row for row in rows if words in row)


async def _records(app, thread_id: str) -> list[dict]:
    return await app.session.messages.list(thread_id, limit=50)


async def test_two_threads_stream_at_once_and_both_replies_are_saved(make_app, ollama_env):
    # A ~4 s (60 pieces 60 ms apart), B ~2 s: both are on the wire together, and A is still streaming when the
    # test has been back to it and on to B again, however slow the machine is at that moment
    ollama_env.script(Reply(text=TEXT_A, chunk_chars=8, delay=0.06), Reply(text=TEXT_B, chunk_chars=8, delay=0.03))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "first question, long enough that its row is cut at the sidebar's edge")
        await wait_until(pilot, lambda: app.current_thread_id and "alpha3" in app.turns[app.current_thread_id].text)
        thread_a = app.current_thread_id
        await pilot.press("ctrl+n")  # a new chat while A still streams
        await send(pilot, "second question")
        await wait_until(pilot, lambda: app.current_thread_id != thread_a and app.current_thread_id in app.turns)
        thread_b = app.current_thread_id
        assert app.turns[thread_a].running and app.turns[thread_b].running  # two at once
        await wait_until(pilot, lambda: _activity(app, thread_a) == "streaming", what="A marked streaming")
        assert _sidebar_row(app, "first question").strip().startswith("⋯ first question")

        # back to A while it streams: its reply is shown live again, and keeps growing
        await app.screen_main.threads.open_thread(thread_a)
        shown = len(rendered_text(last_reply(app)))
        if app.turns[thread_a].running:
            await wait_until(pilot, lambda: len(rendered_text(last_reply(app))) > shown, what="A live again")
        await app.screen_main.threads.open_thread(thread_b)

        await wait_until(pilot, lambda: not app.turns[thread_a].running and not app.turns[thread_b].running,
                         timeout=60, what="both replies")
        assert _activity(app, thread_a) == "unseen"  # finished while B was open
        assert _activity(app, thread_b) is None
        assert _sidebar_row(app, "first question").strip().startswith("● first question")
        await app.screen_main.threads.open_thread(thread_a)
        await wait_until(pilot, lambda: _activity(app, thread_a) is None, what="A seen")
        assert rendered_text(last_reply(app)).strip() == TEXT_A

        replies_a = [r for r in await _records(app, thread_a) if r["role"] == "assistant"]
        replies_b = [r for r in await _records(app, thread_b) if r["role"] == "assistant"]
        assert [(r["content"], r["status"]) for r in replies_a] == [(TEXT_A, "complete")]
        assert [(r["content"], r["status"]) for r in replies_b] == [(TEXT_B, "complete")]


async def test_quitting_while_replies_stream_asks_and_saves_them_as_interrupted(make_app, ollama_env, tmp_path):
    from tui_agents.store import MessageStore, connect
    from tui_agents.tui.screens.dialogs import ConfirmScreen

    ollama_env.script(Reply(text=TEXT_A, chunk_chars=8, stall_after_chunks=3),
                      Reply(text=TEXT_B, chunk_chars=8, stall_after_chunks=3))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "first")
        await wait_until(pilot, lambda: app.current_thread_id and app.turns[app.current_thread_id].text)
        thread_a = app.current_thread_id
        await pilot.press("ctrl+n")
        await send(pilot, "second")
        await wait_until(pilot, lambda: app.current_thread_id != thread_a and app.current_thread_id in app.turns
                         and app.turns[app.current_thread_id].text)
        thread_b = app.current_thread_id
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the quit question")
        assert "2 replies are still streaming" in screen_text(app)
        await pilot.press("escape")  # no: nothing stops
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert app.turns[thread_a].running and app.turns[thread_b].running
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the quit question")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, what="the app to quit")
    conn = await connect(str(tmp_path / "db.sqlite"))
    try:
        for thread_id in (thread_a, thread_b):
            replies = [r for r in await MessageStore(conn).list(thread_id) if r["role"] == "assistant"]
            assert [r["status"] for r in replies] == ["interrupted"] and replies[0]["content"]
            assert replies[0]["meta"]["interrupted_reason"] == "app_quit"  # not the wording of a user's stop
    finally:
        await conn.close()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await app.screen_main.threads.open_and_type(thread_a)
        await wait_until(pilot, lambda: "you quit while this reply was streaming" in screen_text(app),
                         what="the quit wording")
        assert "ctrl+r answers again" in screen_text(app) and "the reply was stopped" not in screen_text(app)
