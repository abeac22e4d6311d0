"""Focus never eats keystrokes: after every navigation the next letters typed go to the composer."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


async def _chat(pilot, text: str, reply: str) -> str:
    await send(pilot, text)
    await wait_until(pilot, lambda: last_reply(pilot.app) is not None and reply in rendered_text(last_reply(pilot.app)),
                     what=reply)
    return pilot.app.current_thread_id


async def _two_threads(pilot) -> tuple[str, str]:
    first = await _chat(pilot, "first question", "echo: first question")
    await pilot.press("ctrl+n")
    second = await _chat(pilot, "second question", "echo: second question")
    await wait_until(pilot, lambda: len(pilot.app.sidebar.tree.thread_ids()) == 2, what="both threads listed")
    return first, second


async def test_opening_a_thread_from_the_tree_leaves_typing_in_the_composer(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        first, _second = await _two_threads(pilot)
        app.sidebar.tree.focus()
        app.sidebar.tree.select_thread(first)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_thread_id == first and app.focused is app.composer,
                         what="the thread open and the composer focused")
        await pilot.press(*"hi can you")  # 'a' and 'u' are sidebar commands: they must not run
        assert app.composer.text == "hi can you"
        threads = await app.session.threads.list()
        assert all(t["archived_at"] is None for t in threads)


async def test_a_letter_that_is_no_command_in_the_tree_goes_to_the_composer(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _two_threads(pilot)
        app.sidebar.tree.focus()
        await pilot.press("h", "i")
        assert app.focused is app.composer
        assert app.composer.text == "hi"
        assert app.sidebar.has_class("-hidden") is False


async def test_escape_in_the_search_box_clears_it_and_returns_to_the_composer(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _two_threads(pilot)
        await pilot.press("ctrl+f", *"second")
        await wait_until(pilot, lambda: app.sidebar.has_class("-searching"), what="the search results")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is app.composer, what="the composer focused")
        assert app.sidebar.query_one("#search").value == ""
        assert not app.sidebar.has_class("-searching")


async def test_after_the_model_picker_closes_typing_goes_to_the_composer(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+f")  # focus elsewhere before the dialog opens
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ModelPickerScreen")
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen")
        await pilot.press(*"hello")
        assert app.composer.text == "hello"
        assert app.sidebar.query_one("#search").value == ""


async def test_after_branch_from_here_the_next_message_is_sent_in_the_branch(ollama_env, make_app):
    ollama_env.script(Reply(text="answer A"), Reply(text="in the branch"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        original = await _chat(pilot, "question A", "answer A")
        await pilot.press("alt+up", "enter")  # the reply's menu: "Branch from here" is first
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MenuScreen", what="the message menu")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.current_thread_id not in (None, original) and app.focused is app.composer,
                         what="the branch open with the composer focused")
        await send(pilot, "next")
        await wait_until(pilot, lambda: "in the branch" in rendered_text(last_reply(app)), what="the reply")
