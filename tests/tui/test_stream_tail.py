"""The open block of a streaming reply is measured at the width it is drawn at: a line that grows onto a new row shows it."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.containers import Vertical

from tui_agents.tui.widgets.message import StreamingBody

pytestmark = pytest.mark.timeout(30)


def _rows(app) -> str:
    """The screen's text, row by row, as drawn."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())  # private: the drawn screen


class _OneReply(App):
    CSS = "Vertical { width: 40; height: auto; }"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield StreamingBody()


async def test_a_line_that_grows_onto_a_second_row_is_drawn_whole_between_layouts():
    app = _OneReply()
    async with app.run_test(size=(60, 10)) as pilot:
        body = app.query_one(StreamingBody)
        body.feed("x" * 37)  # one row at the tail's 38 columns (two at 36)
        await pilot.pause(0.15)  # the first frame lays it out
        assert "x" * 37 in _rows(app)
        body.feed("y" * 5)  # 42 characters: a second row, within the same layout slot
        await pilot.pause(0.6)  # nothing more arrives: whatever is drawn now stays
        assert _rows(app).count("y") == 5, _rows(app)
