"""A reply whose chunks arrive many at a time (a fast server): shown whole, followed to its end, kept if it breaks."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply

from .conftest import last_reply, ready, rendered_text, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


def _long_markdown(blocks: int) -> str:
    parts = []
    for i in range(blocks):
        if i % 5 == 3:
            parts.append(f"```python\ndef step_{i}(x):\n    return x * {i}\n```")
        elif i % 5 == 1:
            parts.append(f"- item {i} one\n- item {i} two")
        else:
            parts.append(f"Paragraph {i} with **bold** and `code`, " + "words " * 12)
    return "\n\n".join(parts) + "\n\nQZDONE"


def _chat_rows(app) -> list[list[tuple]]:
    """The chat pane's rows as drawn: each cell's character and style (not its scrollbar: the two panes below
    hold other amounts of rows above the reply)."""
    pane = app.chat_pane.scrollable_content_region
    rows = []
    for strip in app.screen._compositor.render_strips()[pane.y:pane.bottom]:  # private: the screen as drawn
        row = [_cell(char, segment.style) for segment in strip for char in segment.text]
        rows.append(row[pane.x:pane.right])
    return rows


def _cell(char: str, style) -> tuple:
    """A cell as it looks: a blank's foreground colour and attributes cannot be seen."""
    if style is None:
        return char, None
    if char == " " and not style.reverse and not style.underline and not style.strike:
        return char, style.bgcolor
    return char, (style.color, style.bgcolor, style.bold, style.dim, style.italic, style.underline, style.reverse,
                  style.strike)


def _text_of(rows: list[list[tuple]]) -> str:
    return "\n".join("".join(char for char, _ in row).rstrip() for row in rows)


async def test_a_reply_read_in_bursts_is_shown_whole_at_its_end_as_a_saved_reply_is(ollama_env, make_app):
    text = _long_markdown(60)
    ollama_env.script(Reply(text=text, chunk_chars=4, burst=150))  # ~150 chunks per network read
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "a long answer please")
        thread_id = app.current_thread_id
        await wait_until(pilot, lambda: not app.turns[thread_id].running, what="the end of the reply")
        await wait_until(pilot, lambda: "QZDONE" in screen_text(app), what="the end on screen")
        assert rendered_text(last_reply(app)) == text
        saved = (await app.session.messages.list(thread_id))[-1]
        assert (saved["status"], saved["content"]) == ("complete", text)
        await pilot.pause(0.3)  # the usage line under the reply
        streamed = _chat_rows(app)
        assert "QZDONE" in _text_of(streamed) and "def step_58(x):" in _text_of(streamed)
        # the same thread opened afresh draws the reply from the store: the streamed one must look the same
        await app.screen_main.threads.open_thread(thread_id)
        await pilot.pause(0.3)
        reopened = _chat_rows(app)
        assert _text_of(reopened) == _text_of(streamed)
        assert reopened == streamed  # styles too (code highlighted, bold, inline code)


async def test_a_stream_that_breaks_right_after_a_burst_keeps_and_shows_all_of_it(ollama_env, make_app):
    text = _long_markdown(40)
    ollama_env.script(Reply(text=text, chunk_chars=4, burst=1000, cut_after_chunks=300))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "a long answer please")
        await wait_until(pilot, lambda: app.chat_pane.last_notice() is not None, what="the error notice")
        thread_id = app.current_thread_id
        saved = (await app.session.messages.list(thread_id))[-1]
        assert (saved["status"], saved["content"]) == ("error", text[:1200])
        assert rendered_text(last_reply(app)) == text[:1200]
        shown = screen_text(app)
        assert "the reply failed before it finished" in shown and "Retry" in shown
