"""Narrow terminals: the sidebar collapses below 100 columns, ctrl+b shows it over the chat, panels open over it."""

from __future__ import annotations

import pytest

from tui_agents.tui.layout import MIN_COMPOSER

from .conftest import ready, wait_until

NARROW = (80, 24)
pytestmark = pytest.mark.timeout(90)


async def _steady(pilot) -> None:
    await ready(pilot)
    pilot.app.composer.cursor_blink = False
    await pilot.pause(0.1)


async def _open_seeded_thread(app) -> str:
    """A thread with a short exchange, opened in the chat pane."""
    session = app.session
    thread = await session.new_thread("ollama", "fake-model-small", title="Planning the garden")
    await session.messages.add(thread["id"], "user", "Which vegetables grow well in shade?")
    await session.messages.add(thread["id"], "assistant", "Lettuce, spinach and kale grow well in partial shade.")
    await app.screen_main.threads.reload_threads()
    await app.screen_main.threads.open_thread(thread["id"])
    return thread["id"]


def _shown(widget) -> bool:
    return widget.region.width > 0


def test_chat_with_the_sidebar_collapsed_at_80_columns(snap_compare, make_app, ollama_env):
    app = make_app()

    async def run_before(pilot) -> None:
        await _steady(pilot)
        await _open_seeded_thread(app)
        app.composer.focus()
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


def test_sidebar_overlay_open_at_80_columns(snap_compare, make_app, ollama_env):
    app = make_app()

    async def run_before(pilot) -> None:
        await _steady(pilot)
        await _open_seeded_thread(app)
        app.composer.focus()
        await pilot.press("ctrl+b")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=NARROW, run_before=run_before)


async def test_resizing_collapses_and_restores_the_sidebar_and_panels_go_over_the_chat(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread_id = await _open_seeded_thread(app)
        sidebar, composer = app.sidebar, app.composer
        assert _shown(sidebar) and sidebar.region.x == 0 and composer.region.x >= sidebar.region.width

        await pilot.resize_terminal(*NARROW)
        await wait_until(pilot, lambda: not _shown(sidebar), what="the sidebar collapsing")
        assert composer.region.width == NARROW[0]

        # ctrl+b shows the sidebar over the chat (the chat keeps its width); escape hides it again
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: _shown(sidebar), what="the overlay")
        assert app.focused is sidebar.tree
        assert composer.region.width == NARROW[0]
        await pilot.press("escape")
        await wait_until(pilot, lambda: not _shown(sidebar), what="escape hiding the overlay")
        assert app.focused is composer

        # choosing a thread in the overlay hides it too
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: _shown(sidebar), what="the overlay again")
        sidebar.tree.select_thread(thread_id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not _shown(sidebar), what="choosing a thread hiding the overlay")

        # a side panel opens over the chat, above the composer, which keeps the full width
        await pilot.press("ctrl+t")
        panel = app.screen.query_one("#right-panel")
        await wait_until(pilot, lambda: _shown(panel) and panel.region.bottom <= composer.region.y,
                         what="the inspector above the composer")
        assert composer.region.width == NARROW[0] and panel.region.right == NARROW[0]
        composer.focus()
        composer.load_text("one\ntwo\nthree\nfour")  # the composer grows: the panel stays above it
        await wait_until(pilot, lambda: composer.region.height > 3 and panel.region.bottom <= composer.region.y,
                         what="the panel above the grown composer")
        await app.hide_panel()
        composer.load_text("")

        # back above 100 columns: the normal layout returns
        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: _shown(sidebar), what="the sidebar back")
        assert sidebar.region.x == 0 and composer.region.x >= sidebar.region.width
        assert not app.screen.has_class("-narrow")


async def test_the_composer_keeps_40_columns_beside_an_open_panel(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(110, 30)) as pilot:
        await ready(pilot)
        assert _shown(app.sidebar)  # 110 columns: not narrow
        await pilot.press("ctrl+t")
        panel = app.screen.query_one("#right-panel")
        await wait_until(pilot, lambda: _shown(panel), what="the inspector")
        await wait_until(pilot, lambda: not panel.region.overlaps(app.composer.region), what="the composer clear")
        assert app.composer.region.width >= MIN_COMPOSER
        await app.hide_panel()
        await pilot.resize_terminal(160, 40)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: _shown(panel), what="the inspector, wide")
        # wide enough: the panel sits beside the chat, which ends where the panel begins
        assert app.composer.region.right <= panel.region.x
