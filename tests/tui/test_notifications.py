"""Notifications never cover what the user is typing: they stack at the top right, under the title bar."""

from __future__ import annotations

import pytest
from textual.widgets._toast import Toast  # the widget Textual draws a notification with

from .conftest import ready

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_notification_leaves_the_composer_and_the_status_bar_uncovered(make_app, size):
    app = make_app()
    async with app.run_test(size=size, notifications=True) as pilot:  # Pilot leaves them out unless asked
        await ready(pilot)
        app.composer.load_text("a question I am typing " * 3)
        app.notify("Something to know, in a few words of text.", title="Note", timeout=30)
        app.notify("A second one, stacked with the first.", timeout=30)
        await pilot.pause(0.3)
        toasts = list(app.screen.query(Toast))
        assert len(toasts) == 2
        for toast in toasts:
            where = toast.region
            assert where.height > 0
            assert not where.overlaps(app.composer.region), (where, app.composer.region)
            assert not where.overlaps(app.status_bar.region), (where, app.status_bar.region)
            assert where.y >= 1, "under the title bar"
