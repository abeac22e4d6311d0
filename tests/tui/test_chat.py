"""Chatting in the app against the fake server: stream, stop, errors, retry, restart."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


async def _messages(app):
    return await app.session.messages.list(app.current_thread_id)


async def test_send_streams_a_reply_and_saves_it(ollama_env, make_app):
    ollama_env.script(Reply(text="Hello **there**, here is code:\n\n```python\nprint(1)\n```\n\nDONE", chunk_chars=4))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert app.focused is app.composer
        assert "aiagents-tui" in screen_text(app)
        await send(pilot, "hi there")
        await wait_until(pilot, lambda: "DONE" in rendered_text(last_reply(app)), what="the reply")
        assert app.composer.text == ""
        records = await _messages(app)
        assert [r["role"] for r in records] == ["user", "assistant"]
        assert records[1]["status"] == "complete"
        assert records[1]["content"].endswith("DONE")
        assert "print(1)" in screen_text(app)


async def test_escape_stops_the_reply_and_the_partial_text_survives_a_restart(ollama_env, make_app):
    ollama_env.script(Reply(text="partial words " * 200, chunk_chars=5, delay=0.02))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "tell me a long story")
        await wait_until(pilot, lambda: "partial" in rendered_text(last_reply(app)), what="first words")
        thread_id = app.current_thread_id
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.turns[thread_id].running, what="the stop")
        await wait_until(pilot, lambda: "interrupted" in screen_text(app), what="the interrupted mark")
        assert "ctrl+r answers again" in screen_text(app)
    app2 = make_app()
    async with app2.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        records = await app2.session.messages.list(thread_id)
        assert records[-1]["status"] == "interrupted"
        assert records[-1]["content"].startswith("partial words")
        await app2.screen_main.threads.open_thread(thread_id)
        await wait_until(pilot, lambda: "interrupted" in screen_text(app2), what="the mark after restart")
        assert "ctrl+r answers again" in screen_text(app2)


async def test_a_connection_lost_mid_stream_shows_a_notice_and_retry_answers(ollama_env, make_app):
    ollama_env.script(Reply(text="first part of a reply that breaks", chunk_chars=4, cut_after_chunks=3),
                      Reply(text="second try works"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "question")
        await wait_until(pilot, lambda: app.chat_pane.last_notice() is not None, what="the error notice")
        thread_id = app.current_thread_id
        records = await _messages(app)
        assert records[0]["role"] == "user" and records[0]["content"] == "question"
        assert "Retry" in screen_text(app)
        await pilot.press("f5")
        await wait_until(pilot, lambda: "second try works" in rendered_text(last_reply(app)), what="the retry")
        records = await app.session.messages.list(thread_id)
        assert records[-1]["content"] == "second try works"
        assert [r["content"] for r in records if r["role"] == "user"] == ["question"]


async def test_hostile_model_text_is_shown_literally(ollama_env, make_app):
    hostile = "A \x1b]0;pwned\x07 B \x1b[2J C [/bold] D [@click=app.quit]quit[/] E \x9b31m F"
    ollama_env.script(Reply(text=hostile, chunk_chars=3))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "be nasty")
        await wait_until(pilot, lambda: "F" in rendered_text(last_reply(app)), what="the reply")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "[/bold]" in text and "[@click=app.quit]" in text
        assert "\x1b" not in rendered_text(last_reply(app)) and "\x9b" not in rendered_text(last_reply(app))
        await pilot.click(type(last_reply(app)))
        await pilot.pause(0.2)
        assert app.is_running


async def test_switching_threads_while_streaming_keeps_saving_into_the_right_thread(ollama_env, make_app):
    ollama_env.script(Reply(text="first " * 150 + "END1", chunk_chars=6, delay=0.01))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "one")
        await wait_until(pilot, lambda: "first" in rendered_text(last_reply(app)), what="streaming")
        streaming_thread = app.current_thread_id
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.current_thread_id is None)
        await send(pilot, "two")
        await wait_until(pilot, lambda: app.current_thread_id not in (None, streaming_thread))
        other = app.current_thread_id
        await wait_until(pilot, lambda: not app.turns[streaming_thread].running, timeout=20, what="first turn")
        first = await app.session.messages.list(streaming_thread)
        assert first[-1]["content"].endswith("END1") and first[-1]["status"] == "complete"
        await wait_until(pilot, lambda: not app.turns[other].running, what="second turn")
        second = await app.session.messages.list(other)
        assert [r["role"] for r in second] == ["user", "assistant"]
        assert "END1" not in second[-1]["content"]


async def test_clicking_and_scrolling_during_a_stream_never_crashes(ollama_env, make_app):
    ollama_env.script(Reply(text="## Title\n\n" + "- item line\n" * 120 + "\n```\ncode\n```\nLAST", chunk_chars=7,
                            delay=0.005))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "list please")
        await wait_until(pilot, lambda: "item" in rendered_text(last_reply(app)))
        for _ in range(15):
            await pilot.click("#chat", offset=(10, 5))
            await pilot.mouse_down("#chat", offset=(20, 8))
            await pilot.mouse_up("#chat", offset=(20, 8))
            app.chat_pane.scroll_up(animate=False)
            await pilot.pause(0.02)
        await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, timeout=20)
        assert app.is_running
        assert "LAST" in rendered_text(last_reply(app))


async def test_retrying_a_reply_that_failed_before_any_text_shows_one_notice_not_a_pile(ollama_env, make_app):
    from tui_agents.tui.widgets.message import MessageView

    # the server drops every connection before a byte (the provider retries each attempt a few times itself)
    ollama_env.script(*[Reply(text="never sent", cut_after_chunks=0) for _ in range(30)])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "question")
        thread_id = app.current_thread_id
        for attempt in range(3):
            await wait_until(pilot, lambda: app.current_thread_id in app.turns
                             and not app.turns[app.current_thread_id].running
                             and app.chat_pane.last_notice() is not None, what=f"failure {attempt}")
            views = [v for v in app.chat_pane.query(MessageView) if v.role == "assistant"]
            assert views == [], "an empty failed reply block was left in the view"
            assert "the reply failed before it finished" not in screen_text(app)
            assert len(list(app.chat_pane.query("Notice"))) == 1
            if attempt < 2:
                await pilot.press("f5")
                await wait_until(pilot, lambda: app.turns[thread_id].running or app.chat_pane.last_notice() is None,
                                 what="the retry")
        assert [r["role"] for r in await app.session.messages.list(thread_id)] == ["user"]
    ollama_env.reset()


async def test_a_context_count_cancelled_before_it_starts_leaves_no_unawaited_coroutine(ollama_env, make_app):
    # at shutdown (or a second count in the same group) a worker is cancelled before it runs; a coroutine
    # created for it was never awaited: "RuntimeWarning: coroutine 'TurnController.count_context' ..."
    import gc
    import warnings

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, what="the reply")
        await wait_until(pilot, lambda: app.engine_ready, what="the engine")
        thread = await app.session.threads.get(app.current_thread_id)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(5):  # each cancels the one before, before it has started
                app.screen_main.turns.show_context_of(thread)
            await pilot.pause(0.2)
            gc.collect()
        assert not [w for w in caught if "never awaited" in str(w.message)]
