"""The chat keeps its text width when it starts to scroll: what is shown is not wrapped again when the scrollbar appears."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply

from .conftest import ready, screen_text, send, wait_until

pytestmark = pytest.mark.timeout(60)

# A word longer than a row is folded at the row's width: any change of width moves its breaks.
PARAGRAPH = "Wrapping starts here: " + "y" * 250 + " ENDPARA"


def _paragraph_rows(app) -> list[str]:
    """The drawn rows of the chat that hold PARAGRAPH, from its first row to the one with its last word."""
    pane = app.chat_pane.scrollable_content_region
    rows = ["".join(segment.text for segment in strip)[pane.x:pane.right].strip()
            for strip in app.screen._compositor.render_strips()[pane.y:pane.bottom]]  # private: the drawn screen
    start = next(i for i, row in enumerate(rows) if row.startswith("Wrapping starts here"))
    end = next(i for i, row in enumerate(rows) if "ENDPARA" in row)
    return rows[start:end + 1]


async def test_a_reply_keeps_its_line_breaks_when_a_later_one_makes_the_chat_scroll(ollama_env, make_app):
    ollama_env.script(Reply(text=PARAGRAPH), Reply(text="\n\n".join(f"Line {i} of a long reply." for i in range(60))))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "a paragraph please")
        await wait_until(pilot, lambda: "ENDPARA" in screen_text(app), what="the paragraph on screen")
        pane = app.chat_pane
        assert pane.max_scroll_y == 0, "the first reply fits: the chat does not scroll yet"
        before = _paragraph_rows(app)
        assert len(before) >= 3, before

        await send(pilot, "now a long one")
        await wait_until(pilot, lambda: "Line 59 of a long reply." in screen_text(app), what="the long reply's end")
        assert pane.max_scroll_y > 0, "the long reply makes the chat scroll"
        pane.scroll_home(animate=False)
        await wait_until(pilot, lambda: "ENDPARA" in screen_text(app), what="the paragraph scrolled back into view")
        assert _paragraph_rows(app) == before
