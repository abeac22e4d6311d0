"""Thread operations from the sidebar and the message menu, search, restart and first run."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


async def _chat(pilot, text: str, reply_marker: str) -> str:
    app = pilot.app
    await send(pilot, text)
    await wait_until(pilot, lambda: reply_marker in rendered_text(last_reply(app)), what=reply_marker)
    await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running)
    return app.current_thread_id


async def _tree_ids(app) -> list[str]:
    return app.sidebar.tree.thread_ids()


async def test_fork_archive_unarchive_delete_and_undo(ollama_env, make_app):
    ollama_env.script(Reply(text="reply one"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread_id = await _chat(pilot, "first question", "reply one")
        await wait_until(pilot, lambda: thread_id in app.sidebar.tree.thread_ids())
        tree = app.sidebar.tree
        tree.focus()
        tree.select_thread(thread_id)
        await pilot.press("f")
        await wait_until(pilot, lambda: app.current_thread_id != thread_id, what="the fork")
        fork_id = app.current_thread_id
        fork = await app.session.threads.get(fork_id)
        assert fork["forked_from"] == thread_id and fork["fork_kind"] == "fork"
        node = tree._by_id[fork_id]
        assert node.parent is tree._by_id[thread_id]  # drawn under its parent
        # archive, see it in the archived view, unarchive
        tree.focus()
        tree.select_thread(fork_id)
        await pilot.press("a")
        await wait_until(pilot, lambda: fork_id not in tree.thread_ids(), what="archived")
        await pilot.press("v")
        await wait_until(pilot, lambda: fork_id in tree.thread_ids(), what="archived view")
        tree.select_thread(fork_id)
        await pilot.press("a")
        await wait_until(pilot, lambda: fork_id not in tree.thread_ids(), what="unarchived, gone from view")
        await pilot.press("v")
        await wait_until(pilot, lambda: fork_id in tree.thread_ids(), what="back in the active view")
        # delete asks first, then undo restores
        tree.select_thread(fork_id)
        await pilot.press("delete")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        await pilot.click("#yes")
        await wait_until(pilot, lambda: fork_id not in tree.thread_ids(), what="trashed")
        assert (await app.session.threads.get(fork_id))["trashed_at"] is not None
        tree.focus()
        await pilot.press("u")
        await wait_until(pilot, lambda: fork_id in tree.thread_ids(), what="restored")


async def test_branch_and_edit_and_resend_from_the_message_menu(ollama_env, make_app):
    ollama_env.script(Reply(text="answer A"), Reply(text="answer B"), Reply(text="answer C"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread_id = await _chat(pilot, "question A", "answer A")
        await _chat(pilot, "question B", "answer B")
        original = [r["content"] for r in await app.session.messages.list(thread_id)]
        # select the first reply with alt+up and branch from it
        await pilot.press("alt+up", "alt+up", "alt+up")
        assert app.chat_pane.selected().record["content"] == "answer A"
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MenuScreen")
        await pilot.press("enter")  # "Branch from here" is first
        await wait_until(pilot, lambda: app.current_thread_id != thread_id, what="the branch")
        branch = app.current_thread_id
        assert [r["content"] for r in await app.session.messages.list(branch)] == ["question A", "answer A"]
        # edit and resend "question B" of the original thread: a new branch, the original untouched
        await app.screen_main.threads.open_thread(thread_id)
        await pilot.press("alt+up", "alt+up")
        assert app.chat_pane.selected().record["content"] == "question B"
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MenuScreen")
        await pilot.press("down", "enter")  # "Edit and resend"
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TextPromptScreen")
        app.screen.query_one("#value").load_text("question B, edited")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.current_thread_id not in (thread_id, branch), what="edit branch")
        edited = app.current_thread_id
        await wait_until(pilot, lambda: "answer C" in rendered_text(last_reply(app)))
        await wait_until(pilot, lambda: not app.turns[edited].running)
        contents = [r["content"] for r in await app.session.messages.list(edited)]
        assert contents == ["question A", "answer A", "question B, edited", "answer C"]
        assert [r["content"] for r in await app.session.messages.list(thread_id)] == original


async def test_search_opens_the_thread_at_the_hit(ollama_env, make_app):
    ollama_env.script(Reply(text="bananas are yellow"), Reply(text="cherries are red"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        banana = await _chat(pilot, "tell me about fruit one", "bananas")
        await pilot.press("ctrl+n")
        await _chat(pilot, "tell me about fruit two", "cherries")
        await pilot.press("ctrl+f")
        assert app.focused.id == "search"
        await pilot.press(*"bananas")
        await wait_until(pilot, lambda: app.sidebar.has_class("-searching") and app.sidebar.results.option_count,
                         what="hits")
        assert "bananas" in screen_text(app)
        app.sidebar.results.focus()
        app.sidebar.results.highlighted = 0
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_thread_id == banana, what="the hit's thread")
        view = next(v for v in app.chat_pane.views if "bananas" in (v.record.get("content") or ""))
        assert view.has_class("-selected")


async def test_restart_finds_threads_titles_and_messages(ollama_env, make_app):
    ollama_env.script(Reply(text="remembered reply"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread_id = await _chat(pilot, "something to keep", "remembered")
        await app.session.threads.rename(thread_id, "Kept thread")
    app2 = make_app()
    async with app2.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert thread_id in app2.sidebar.tree.thread_ids()
        assert "Kept thread" in screen_text(app2)
        app2.sidebar.tree.focus()
        app2.sidebar.tree.select_thread(thread_id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app2.current_thread_id == thread_id)
        await wait_until(pilot, lambda: "remembered reply" in screen_text(app2))
        assert "something to keep" in screen_text(app2)


async def test_first_run_with_nothing_configured_explains_and_still_browses(monkeypatch, make_app, tmp_path):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{dead}")
    app = make_app(provider=None, model=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app.provider_ok is False, what="the provider check")
        await wait_until(pilot, lambda: "Ollama is not reachable at" in screen_text(app))
        text = screen_text(app)
        assert "aiagents-tui keys set" in text and "OPENAI_API_KEY" in text
        assert "Traceback" not in text
        # sending is refused but the text stays in the composer
        await send(pilot, "hello?")
        await pilot.pause(0.2)
        assert app.composer.text == "hello?"
        assert app.current_thread_id is None
        # the sidebar still works
        await pilot.press("ctrl+f")
        assert app.focused.id == "search"


async def test_ollama_reachable_lists_models_and_is_ready_without_setup(ollama_env, make_app):
    ollama_env.script(Reply(text="ready reply"))
    app = make_app(provider=None, model=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app.provider_ok is True, what="the provider check")
        assert app.model_name == "fake-model-large"
        await _chat(pilot, "hello", "ready reply")
