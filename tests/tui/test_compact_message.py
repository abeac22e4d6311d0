"""A finished message drawn as one widget (``MessageView.compact``) looks exactly like the same message
built from a header, body and footer widgets: same characters, colours and styles in every cell,
selected or not, in a dark and a light theme."""

from __future__ import annotations

import pytest

from tui_agents.tui.widgets.message import MessageView

from .conftest import ready, screen_text, wait_until

pytestmark = pytest.mark.timeout(60)

MARKDOWN = "## Plan\n\nSome **bold** and `code`, then a list:\n\n- one\n- two\n\n```python\nprint('hi')\n```\n"
USER_TEXTS = ["plain words", "\tindented  with  tabs and a veryveryveryveryveryveryveryveryveryveryveryveryveryverylongword",
              "wide 中文字符 and emoji 🙂 mixed", "  leading spaces\nand a second line", ""]


async def _thread(app) -> str:
    session = app.session
    thread = await session.new_thread("ollama", "fake-model-small", title="Compact")
    add = session.messages.add
    for text in USER_TEXTS:
        await add(thread["id"], "user", text)
    await add(thread["id"], "assistant", MARKDOWN, model="fake-model-small",
              usage={"input_tokens": 1234, "output_tokens": 56}, meta={"ttft_ms": 420, "duration_ms": 1900})
    await add(thread["id"], "system", "a system note")
    await add(thread["id"], "assistant", "cut short", model="fake-model-small", status="interrupted",
              meta={"interrupted_reason": "app_quit"})
    await add(thread["id"], "assistant", "", model="fake-model-small", status="error")
    await add(thread["id"], "assistant", "the last reply, with versions", model="fake-model-small")
    return thread["id"]


def _cells(app) -> list[list[tuple]]:
    """Every cell of the chat pane as (character, colours and attributes); a blank's foreground colour cannot be seen."""
    region = app.chat_pane.region  # not the composer: its cursor blinks
    rows = []
    for strip in app.screen._compositor.render_strips()[region.y:region.bottom]:
        row = []
        for segment in strip:
            style = segment.style
            look = None if style is None else (style.color, style.bgcolor, style.bold, style.dim, style.italic,
                                               style.underline, style.reverse, style.strike)
            for char in segment.text:
                if char == " " and style is not None and not style.reverse:
                    row.append((char, style.bgcolor))
                else:
                    row.append((char, look))
        rows.append(row[region.x:region.right])
    return rows


def _content(rows: list[list[tuple]]) -> list[list[tuple]]:
    """The rows from the first to the last with text: where the pane is scrolled to can differ by a few rows
    between two runs (a layout landing after the scroll), the look of what it shows may not."""
    def blank(row: list[tuple]) -> bool:
        return not "".join(char for char, _ in row).strip(" ▊")

    marked = [i for i, row in enumerate(rows) if not blank(row)]
    return rows[marked[0]:marked[-1] + 1] if marked else []


def _show(row: list[tuple], other: list[tuple]) -> str:
    """A row's text and its first cell that differs from ``other``'s, for the failure message."""
    x = next((i for i, (a, b) in enumerate(zip(row, other)) if a != b), min(len(row), len(other)))
    return f"{''.join(char for char, _ in row).strip()!r}, column {x}: {row[x] if x < len(row) else None}"


async def _settled(pilot) -> None:
    """Wait until the chat pane stops scrolling (selecting a message scrolls it into view over a few frames)."""
    pane = pilot.app.chat_pane
    await pilot.wait_for_scheduled_animations()
    last = None
    while last != (pane.scroll_y, pane.virtual_size):
        last = (pane.scroll_y, pane.virtual_size)
        await pilot.pause(0.1)


async def _draw(pilot, thread_id: str) -> dict[str, list]:
    """Open the thread and take the screen: as opened, with a message selected, in a light theme."""
    app = pilot.app
    app.theme = "textual-dark"
    await app.screen_main.threads.open_thread(thread_id)
    pane = app.chat_pane
    await wait_until(pilot, lambda: "the last reply, with versions" in screen_text(app), what="the thread")
    last = pane.views[-1]
    last.set_alternatives({"index": 1, "count": 3, "message_ids": ["a", last.message_id, "c"]})
    pane.scroll_end(animate=False, immediate=True)
    await _settled(pilot)
    shots = {"opened": _cells(app)}
    pane.focus()
    await pilot.press("alt+up", "alt+up")
    await _settled(pilot)
    # where selecting scrolls to may differ by a row between two runs; the look is compared at the end
    pane.scroll_end(animate=False, immediate=True)
    await _settled(pilot)
    shots["selected"] = _cells(app)
    app.theme = "textual-light"
    await _settled(pilot)
    shots["light"] = _cells(app)
    pane.action_leave()
    return shots


async def test_a_compact_message_looks_like_the_one_built_from_widgets(ollama_env, make_app, monkeypatch):
    app = make_app()
    async with app.run_test(size=(100, 60)) as pilot:
        await ready(pilot)
        thread_id = await _thread(app)
        compact = await _draw(pilot, thread_id)
        assert sum(v.compact for v in app.chat_pane.views) == len(app.chat_pane.views)  # all of them drew themselves
        assert "◂ 2/3 ▸" in screen_text(app) and "in 1,234 · out 56" in screen_text(app)
        monkeypatch.setattr(MessageView, "_fits_one_widget", lambda self: False)
        built = await _draw(pilot, thread_id)
        assert not any(v.compact for v in app.chat_pane.views)
        for name in compact:
            shown, expected = _content(compact[name]), _content(built[name])
            for y, (a, b) in enumerate(zip(shown, expected)):
                assert a == b, f"the {name} screen differs at row {y}: {_show(a, b)} / {_show(b, a)}"
            assert len(shown) == len(expected) > 20


async def test_messages_with_something_to_click_keep_their_widgets(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        session = app.session
        thread = await session.new_thread("ollama", "fake-model-small", title="Rich")
        await session.messages.add(thread["id"], "assistant", "answer", thinking="first I thought")
        await session.messages.add(thread["id"], "tool", "42", meta={"name": "calculator", "status": "ok"})
        long = "\n\n".join(f"Paragraph {i} of a long reply." for i in range(30))
        await session.messages.add(thread["id"], "assistant", long)
        await app.screen_main.threads.open_thread(thread["id"])
        await wait_until(pilot, lambda: "Paragraph 29" in screen_text(app), what="the thread")
        assert [v.compact for v in app.chat_pane.views] == [False, False, False]


async def test_the_text_of_a_compact_message_is_selected_and_copied_with_the_mouse(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        session = app.session
        thread = await session.new_thread("ollama", "fake-model-small", title="Select")
        await session.messages.add(thread["id"], "user", "select these words please")
        await session.messages.add(thread["id"], "assistant", "a reply", usage={"input_tokens": 7, "output_tokens": 3})
        await app.screen_main.threads.open_thread(thread["id"])
        await wait_until(pilot, lambda: "a reply" in screen_text(app), what="the thread")
        user, reply = app.chat_pane.views
        assert user.compact and reply.compact
        # a drag over "these words" on the user's text line (row 1: the header is row 0; column 0 is the padding)
        await pilot.mouse_down(user, offset=(8, 1))
        await pilot.hover(user, offset=(18, 1))
        await pilot.mouse_up(user, offset=(18, 1))
        assert app.screen.get_selected_text() == "these words"
        # the reply's usage line (under its Markdown) is selected too
        await pilot.mouse_down(reply, offset=(1, 2))
        await pilot.hover(reply, offset=(4, 2))
        await pilot.mouse_up(reply, offset=(4, 2))
        assert app.screen.get_selected_text() == "in 7"
