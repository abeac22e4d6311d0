"""The bounded windows: the chat pane's messages (scrolled up and back down) and the sidebar's pages;
labels of untitled threads; a streamed reply looks like the same reply reopened."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.tui.widgets import chat_pane as chat_pane_module
from tui_agents.tui.widgets import thread_tree as tree_module

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(90)


async def _thread_with_messages(app, count: int, title: str | None = None) -> str:
    session = app.session
    thread = await session.new_thread("ollama", "fake-model-small", title=title)
    for i in range(count):
        role = "user" if i % 2 == 0 else "assistant"
        await session.messages.add(thread["id"], role, f"message {i} of the long thread")
    return thread["id"]


async def _open_long_thread_scrolled_up(pilot):
    """Open a 150-message thread and scroll up until its newest messages left the window."""
    await pilot.app.screen_main.threads.open_thread(await _thread_with_messages(pilot.app, 150))
    pane = await _scroll_up_until_trimmed(pilot)
    assert pane.has_newer
    return pane


async def _scroll_up_until_trimmed(pilot):
    """Press home in the chat until the window has dropped its newest messages; returns the pane."""
    pane = pilot.app.chat_pane
    pane.focus()
    for _ in range(30):
        if pane.has_newer:
            break
        await pilot.press("home")
        await pilot.pause(0.2)
    return pane


def _contents(app) -> list[str]:
    return [v.record.get("content") or "" for v in app.chat_pane.views]


async def test_scrolling_back_down_after_older_messages_were_loaded_shows_the_newest_again(
        ollama_env, make_app, monkeypatch):
    monkeypatch.setattr(chat_pane_module, "MAX_VIEWS", 40)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread_id = await _thread_with_messages(app, 150)
        await app.screen_main.threads.open_thread(thread_id)
        newest = "message 149 of the long thread"
        await wait_until(pilot, lambda: newest in screen_text(app), what="the newest message")
        pane = await _scroll_up_until_trimmed(pilot)
        assert pane.has_newer, "the window never dropped its newest messages"
        bound = 40 + chat_pane_module.OLDER_PAGE  # the far end is pruned, a screen or so from the view
        await wait_until(pilot, lambda: len(pane.views) <= bound, what="a bounded window")
        assert newest not in _contents(app)
        # and back down: the newest message is shown again, the window stays bounded
        for _ in range(30):
            if newest in screen_text(app):
                break
            await pilot.press("pagedown")
            await pilot.pause(0.2)
        assert newest in screen_text(app)
        assert not pane.has_newer
        assert len(pane.views) <= bound
        positions = [v.record["position"] for v in pane.views]
        assert positions == sorted(positions) and positions == list(range(positions[0], positions[-1] + 1))


async def test_end_jumps_to_the_newest_message_from_far_up_the_thread(ollama_env, make_app, monkeypatch):
    monkeypatch.setattr(chat_pane_module, "MAX_VIEWS", 40)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        pane = await _open_long_thread_scrolled_up(pilot)
        await pilot.press("end")
        await wait_until(pilot, lambda: "message 149 of the long thread" in screen_text(app), what="the newest message")
        assert not pane.has_newer


async def test_sending_while_scrolled_far_up_shows_the_end_of_the_thread_with_the_reply(
        ollama_env, make_app, monkeypatch):
    monkeypatch.setattr(chat_pane_module, "MAX_VIEWS", 40)
    ollama_env.script(Reply(text="fresh answer at the end"))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _open_long_thread_scrolled_up(pilot)
        await send(pilot, "a new question")
        await wait_until(pilot, lambda: "fresh answer" in rendered_text(last_reply(app)), what="the reply")
        await wait_until(pilot, lambda: "fresh answer at the end" in screen_text(app), what="the reply on screen")
        contents = _contents(app)
        assert contents[-2] == "a new question"
        assert "message 149 of the long thread" in contents


async def test_untitled_threads_are_labelled_with_their_first_words_after_a_restart(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        session = app.session
        thread = await session.new_thread("ollama", "fake-model-small")
        await session.messages.add(thread["id"], "user", "Planning a trip to Lisbon next spring with friends")
        await session.messages.add(thread["id"], "assistant", "Sounds lovely.")
        named = await session.new_thread("ollama", "fake-model-small", title="Named one")
        await session.messages.add(named["id"], "user", "this text is not the label")
    app2 = make_app()
    async with app2.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: "Planning a trip to Lisbon" in screen_text(app2), what="the first words")
        text = screen_text(app2)
        assert "Named one" in text
        assert "this text is not the label" not in text
        labels = [str(node.label) for node in app2.sidebar.tree.root.children]
        assert "New chat" not in labels
        app2.sidebar.tree.focus()
        app2.sidebar.tree.select_thread(thread["id"])
        await pilot.press("enter")
        await wait_until(pilot, lambda: app2.current_thread_id == thread["id"])
        title_bar = app2.screen.query_one("#title-bar")
        assert "Planning a trip to Lisbon" in str(title_bar.render())


async def test_the_sidebar_draws_a_page_of_threads_and_more_as_the_cursor_moves_down(
        ollama_env, make_app, monkeypatch):
    monkeypatch.setattr(tree_module, "SIDEBAR_PAGE", 20)  # the tree's module (thread_tree.py) pages
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        first = await _thread_with_messages(app, 2, title="Oldest thread of all")
        for i in range(59):
            await app.session.new_thread("ollama", "fake-model-small", title=f"Thread number {i}")
        await app.screen_main.threads.reload_threads()
        tree = app.sidebar.tree
        assert tree.shown_count == 20
        assert len(tree.thread_ids()) == 60
        tree.focus()
        for _ in range(80):
            if "Oldest thread of all" in screen_text(app):
                break
            await pilot.press("end")
            await pilot.pause(0.05)
        assert "Oldest thread of all" in screen_text(app)
        assert tree.selected_thread()["id"] == first
        await pilot.press("enter")
        await wait_until(pilot, lambda: "message 1 of the long thread" in screen_text(app), what="the oldest thread")


async def test_a_streamed_reply_looks_the_same_when_the_thread_is_reopened(ollama_env, make_app):
    text = ("# Plan\n\nFirst paragraph with **bold** text.\n\n- one\n- two\n\n"
            + "".join(f"Paragraph {i} says something about the garden.\n\n" for i in range(8))
            + "```python\ndef add(a, b):\n    return a + b\n```\n")
    ollama_env.script(Reply(text=text, chunk_chars=7))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "show me")
        await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, what="the end of the reply")
        await pilot.pause(0.3)
        streamed = _chat_lines(app)
        await app.screen_main.threads.open_thread(app.current_thread_id)
        await pilot.pause(0.3)
        assert _chat_lines(app) == streamed


def _chat_lines(app) -> list[list[tuple[str, object]]]:
    """Text and style of every cell run of the chat pane on screen (blank cells by what shows of them)."""
    from rich.segment import Segment
    from rich.style import Style

    def seen(segment: Segment) -> Segment:
        style = segment.style
        if style is None or segment.text.strip() or style.reverse or style.underline or style.strike:
            return segment
        return Segment(segment.text, Style(bgcolor=style.bgcolor))  # a blank cell's text colour never shows

    region = app.chat_pane.region
    strips = app.screen._compositor.render_strips()
    lines = []
    for strip in strips[region.y:region.bottom]:
        cropped = Segment.simplify(seen(segment) for segment in strip.crop(region.x, region.right))
        lines.append([(segment.text, segment.style) for segment in cropped])
    return lines


async def test_a_new_chat_and_a_thread_with_new_activity_move_one_row_to_the_top(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        old = await _thread_with_messages(app, 2, title="Old thread")
        for i in range(5):
            await app.session.new_thread("ollama", "fake-model-small", title=f"Thread number {i}")
        await app.screen_main.threads.reload_threads()
        tree = app.sidebar.tree
        kept = tree._by_id[tree.thread_ids()[0]]  # the rows below the new one stay as they are
        await send(pilot, "a new chat")
        await wait_until(pilot, lambda: len(tree.thread_ids()) == 7, what="the new chat in the list")
        new = app.current_thread_id
        assert tree.thread_ids()[0] == new
        assert [str(n.label) for n in tree.root.children][:2] == ["a new chat", "Thread number 4"]
        assert tree._by_id[tree.thread_ids()[1]] is kept
        await wait_until(pilot, lambda: not app.turns[new].running)
        await app.session.messages.add(old, "user", "new activity")  # an old thread gets a message
        await app.screen_main.threads.reload_threads()
        assert tree.thread_ids()[0] == old and tree.thread_ids()[1] == new
        assert [str(n.label) for n in tree.root.children] == ["Old thread", "a new chat"] + [
            f"Thread number {i}" for i in range(4, -1, -1)]
        assert tree.selected_thread()["id"] == new  # the cursor stays on the open thread
