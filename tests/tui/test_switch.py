"""Opening and switching threads of long replies: a few screens mounted, the rest on scroll, drawn from the cache."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.tui.widgets import chat_pane as chat_pane_module

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until
from .test_window import _chat_lines

pytestmark = pytest.mark.timeout(120)


def long_reply(i: int) -> str:
    """A reply of about a hundred rows at 120 columns: headings, paragraphs, a list and code."""
    words = "garden river lantern window copper meadow harbour violin pebble orchard".split()
    parts = [f"Reply {i} begins here.\n\n"]
    for section in range(6):
        parts.append(f"## Part {section} of reply {i}\n\n")
        parts.append(" ".join(words[(section + k) % len(words)] for k in range(45)) + ".\n\n")
        parts.append("".join(f"- point {section}.{k}\n" for k in range(4)) + "\n")
        parts.append(f"```python\ndef step_{section}(x):\n    return x * {section}\n```\n\n")
    parts.append(f"End of reply {i}.\n")
    return "".join(parts)


async def _long_thread(app, pairs: int, title: str = "Long replies") -> str:
    session = app.session
    thread = await session.new_thread("ollama", "fake-model-small", title=title)
    for i in range(pairs):
        await session.messages.add(thread["id"], "user", f"question {i} about the garden")
        await session.messages.add(thread["id"], "assistant", long_reply(i))
    return thread["id"]


def _mounted_rows(pane) -> int:
    return sum(view.outer_size.height for view in pane.views)


async def test_a_thread_of_long_replies_opens_at_its_end_with_few_views_and_scrolls_back_to_its_start(
        ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread_id = await _long_thread(app, 30)
        await app.screen_main.threads.open_thread(thread_id)
        await wait_until(pilot, lambda: "End of reply 29." in screen_text(app), what="the thread's end")
        pane = app.chat_pane
        await pilot.pause(0.3)
        screen = pane.scrollable_content_region.height
        # the newest messages that fill a few screens, not a page of twelve long replies
        assert len(pane.views) <= 4
        assert _mounted_rows(pane) <= (chat_pane_module.SCREENS_MOUNTED + 2) * screen
        pane.focus()
        most = 0
        for _ in range(400):
            if "question 0 about the garden" in screen_text(app):
                break
            await pilot.press("pageup")
            await pilot.pause(0.02)
            most = max(most, len(pane.views))
        assert "question 0 about the garden" in screen_text(app), "scrolling up never reached the first message"
        assert most <= 20, f"{most} message views were mounted at once"
        positions = [v.record["position"] for v in pane.views]
        assert positions == list(range(positions[0], positions[-1] + 1))
        await pilot.press("end")
        await wait_until(pilot, lambda: "End of reply 29." in screen_text(app), what="the end again")


async def test_reopening_a_thread_draws_it_from_the_cache_and_it_looks_the_same(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        long_id = await _long_thread(app, 6)
        other = await _long_thread(app, 1, title="Another thread")
        threads = app.screen_main.threads
        await threads.open_thread(long_id)
        await wait_until(pilot, lambda: "End of reply 5." in screen_text(app), what="the thread's end")
        await pilot.pause(0.3)
        first = _chat_lines(app)
        await threads.open_thread(other)
        await wait_until(pilot, lambda: "End of reply 0." in screen_text(app), what="the other thread")
        await pilot.pause(0.3)
        cache = app.chat_pane.render_cache
        entries, lines = len(cache), cache.lines
        await threads.open_thread(long_id)
        await wait_until(pilot, lambda: "End of reply 5." in screen_text(app), what="the thread again")
        await pilot.pause(0.3)
        assert _chat_lines(app) == first
        assert (len(cache), cache.lines) == (entries, lines), "the reopened thread was rendered again"


async def test_a_reopened_thread_shows_its_code_in_the_light_theme_after_switching_to_it(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread_id = await _long_thread(app, 1)
        threads = app.screen_main.threads

        def code_style():
            line = next(line for line in _chat_lines(app) if any("step_5" in text for text, _ in line))
            return next(style for text, style in line if text == "def")

        await threads.open_thread(thread_id)
        await wait_until(pilot, lambda: "step_5" in screen_text(app), what="code on screen")
        dark = code_style()
        app.theme = "textual-light"
        await threads.open_thread(thread_id)
        await wait_until(pilot, lambda: code_style() != dark, what="the code in the light theme's colours")
        assert code_style().bgcolor != dark.bgcolor


async def test_a_search_hit_in_a_thread_of_long_replies_opens_at_the_hit(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread_id = await _long_thread(app, 12)
        hit = (await app.session.messages.list(thread_id, limit=10))[0]  # five replies before the end
        assert hit["content"].startswith("question 7")
        await app.screen_main.threads.open_thread(thread_id, hit["id"])
        await wait_until(pilot, lambda: "question 7 about the garden" in screen_text(app), what="the hit on screen")
        view = app.chat_pane.find(hit["id"])
        assert view is not None and view.has_class("-selected")


async def test_replies_far_above_the_view_are_unmounted_and_come_back_on_scroll(ollama_env, make_app):
    ollama_env.script(*(Reply(text=long_reply(100 + i), chunk_chars=400) for i in range(4)))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        for i in range(4):
            await send(pilot, f"question {i} about the garden")
            await wait_until(pilot, lambda i=i: f"End of reply {100 + i}." in rendered_text(last_reply(app)),
                             timeout=30, what=f"reply {i}")
            await wait_until(pilot, lambda: not app.turns[app.current_thread_id].running, what="the turn's end")
        pane = app.chat_pane
        await pilot.pause(0.3)
        assert pane.has_older
        assert "question 0 about the garden" not in [v.record.get("content") for v in pane.views]
        pane.focus()
        for _ in range(200):
            if "question 0 about the garden" in screen_text(app):
                break
            await pilot.press("pageup")
            await pilot.pause(0.02)
        assert "question 0 about the garden" in screen_text(app)


async def test_the_message_cursor_walks_past_both_ends_of_the_mounted_window(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread_id = await _long_thread(app, 8)
        await app.screen_main.threads.open_thread(thread_id)
        await wait_until(pilot, lambda: "End of reply 7." in screen_text(app), what="the thread's end")
        pane = app.chat_pane
        for _ in range(40):
            selected = pane.selected()
            if selected is not None and selected.record.get("content") == "question 0 about the garden":
                break
            await pilot.press("alt+up")
            await pilot.pause(0.05)
        assert pane.selected().record.get("content") == "question 0 about the garden"
        assert "question 0 about the garden" in screen_text(app)
        # and back down to the newest message
        for _ in range(40):
            if pane.selected().record.get("content", "").startswith("Reply 7 "):
                break
            await pilot.press("alt+down")
            await pilot.pause(0.05)
        assert pane.selected().record.get("content", "").startswith("Reply 7 ")


async def test_switching_threads_never_paints_one_threads_draft_beside_the_other_threads_messages(ollama_env, make_app):
    """The switch is one frame: the composer's new draft and the new thread's messages appear together."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        session = app.session
        threads = {}
        for name in ("alpha", "beta"):
            thread = await session.new_thread("ollama", "fake-model-small", title=f"{name} thread")
            for i in range(6):
                await session.messages.add(thread["id"], "user", f"{name} question {i}")
                await session.messages.add(thread["id"], "assistant", f"{name} answer {i}")
            threads[name] = thread["id"]
        chat = app.screen_main.threads
        await chat.open_thread(threads["alpha"])
        await pilot.press(*"alpha draft")
        await chat.open_thread(threads["beta"])
        await pilot.press(*"beta draft")
        await pilot.pause(0.2)

        frames: list[tuple[str, str | None]] = []
        screen = app.screen
        paint = screen._compositor_refresh  # Textual's one place where a frame goes to the terminal

        def recording() -> None:
            frames.append((app.composer.text, app.chat_pane.thread_id))
            paint()

        screen._compositor_refresh = recording
        try:
            for name in ("alpha", "beta", "alpha"):
                await chat.open_thread(threads[name])
                await wait_until(pilot, lambda name=name: frames and frames[-1] == (f"{name} draft", threads[name]),
                                 what=f"the {name} thread painted")
        finally:
            screen._compositor_refresh = paint
        owner = {f"{name} draft": thread_id for name, thread_id in threads.items()}
        mixed = [frame for frame in frames if owner.get(frame[0]) != frame[1]]
        assert not mixed, f"frames painted with one thread's draft beside another's messages: {mixed}"
