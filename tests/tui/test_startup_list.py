"""The thread list at start-up: the newest threads are in the first frame, before the store is open.

The first page of threads is read at launch (``tui/startup.py`` ``FirstPage``) and drawn in the first
frame as text (``Sidebar``'s preview); right after it the tree takes its place with the same rows in
the same places. A row chosen before the database is open opens once it is, and stays open.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from rich.console import Console

from tui_agents.store import MessageStore, StateStore, ThreadStore, connect
from tui_agents.tui import startup
from tui_agents.tui.startup import FirstPage

from .conftest import ready, screen_text, wait_until

pytestmark = pytest.mark.timeout(90)

SIDEBAR = 34  # columns of the sidebar (its border included)


async def _history(db: Path) -> list[str]:
    """Six untitled threads, a fork (with a fork) and a branch of one, the oldest as the last thread; ids, newest first."""
    conn = await connect(db)
    threads, messages = ThreadStore(conn), MessageStore(conn)
    ids = []
    for i in range(6):
        thread = await threads.create(None, user_id="local")
        first = await messages.add(thread["id"], "user", f"question number {i} about something")
        await messages.add(thread["id"], "assistant", f"answer number {i} ends here")
        ids.append(thread["id"])
        if i == 3:
            fork = await threads.fork(thread["id"], title="a fork of three")
            await threads.branch(thread["id"], first["id"], title="a branch of three")
            await threads.fork(fork["id"], title="a fork of the fork")
    await StateStore(conn).set_last_thread(ids[0], "local")
    await conn.close()
    return ids[::-1]


def _sidebar_rows(app) -> list[str]:
    """The sidebar's lines below its search box (the mode line and the thread rows), as on screen."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))  # what export_screenshot draws, as text
    lines = console.export_text().splitlines()[1:]  # under the title bar
    return [line[:SIDEBAR - 1].rstrip() for line in lines[3:]]


def _guide_colours(app) -> dict[tuple[int, int], object]:
    """The colour of every tree guide cell (├ └ │) in the sidebar, by (x, y), as on screen."""
    colours = {}
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        x = 0
        for segment in strip:
            for offset, char in enumerate(segment.text):
                if char in "├└│" and x + offset < SIDEBAR - 1 and segment.style is not None:
                    colours[x + offset, y] = segment.style.color
            x += len(segment.text)
    return colours


def _gate(monkeypatch, module, name: str) -> asyncio.Event:
    """Hold ``module.name`` (a coroutine function) until the returned event is set."""
    gate = asyncio.Event()
    original = getattr(module, name)

    async def held(*args, **kwargs):
        await gate.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    return gate


async def test_the_first_frame_shows_the_newest_threads_and_the_tree_keeps_them_in_place(
        ollama_env, make_app, tmp_path, monkeypatch):
    db = tmp_path / "db.sqlite"
    await _history(db)
    page = FirstPage(db)  # as the command line does, first thing
    page.future.result(timeout=10)
    gate = _gate(monkeypatch, startup, "run")  # everything after the first frame waits
    app = make_app(db_path=db, first_page=page)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        first = _sidebar_rows(app)
        first_guides = _guide_colours(app)
        assert app.session is None and app.sidebar.previewing
        assert first[0].strip() == "Threads"
        assert first[1].startswith("question number 5 about")  # the newest first
        assert any("a fork of three" in row for row in first) and any("a fork of the fork" in row for row in first)
        await pilot.press(*"hi")  # the composer accepts keys already
        assert app.composer.text == "hi"
        gate.set()
        await ready(pilot)
        await asyncio.wait_for(app.drafts.wait_reopened(), 15)
        assert not app.sidebar.previewing
        later = _sidebar_rows(app)
        rows = first[:1 + 9]  # the mode line and the nine threads
        assert later[:len(rows)] == rows  # the tree drew the same rows in the same places
        assert len(first_guides) >= 4 and _guide_colours(app) == first_guides  # the guides in the tree's colour
        assert app.composer.text.endswith("hi")


async def test_a_thread_chosen_before_the_store_is_open_opens_and_stays_open(
        ollama_env, make_app, tmp_path, monkeypatch):
    db = tmp_path / "db.sqlite"
    ids = await _history(db)
    gate = _gate(monkeypatch, startup, "load_config_safely")  # the store opens after the settings
    app = make_app(db_path=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.sidebar.query("#thread-tree") and app.sidebar.tree.shown_count,
                         what="the thread tree")
        assert app.session is None
        chosen = ids[1]  # "question number 4"
        tree = app.sidebar.tree
        tree.focus()
        tree.select_thread(chosen)
        await pilot.press("enter")
        gate.set()
        await ready(pilot)
        await wait_until(pilot, lambda: app.current_thread_id == chosen
                         and "answer number 4 ends here" in screen_text(app), what="the chosen thread")
        await pilot.pause(0.3)
        assert app.current_thread_id == chosen  # not replaced by the last thread of the previous session
        assert "answer number 0 ends here" not in screen_text(app)


async def test_a_sidebar_the_settings_hide_is_not_in_the_first_frame(ollama_env, make_app, tmp_path, monkeypatch):
    db = tmp_path / "db.sqlite"
    await _history(db)
    settings = tmp_path / "config.toml"
    settings.write_text('theme = "textual-dark"\nshow_sidebar = false\n', encoding="utf-8")
    monkeypatch.setenv("AIAGENTS_CONFIG", str(settings))
    page = FirstPage(db)  # as the command line does, before the settings' model is loaded
    page.future.result(timeout=10)
    gate = _gate(monkeypatch, startup, "run")  # the settings load after the first frame
    app = make_app(db_path=db, first_page=page, config=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.session is None and app._config is None  # the settings are not loaded yet
        first = screen_text(app)
        assert "question number" not in first and "Threads" not in first  # no list shown, then hidden
        assert app.composer.region.x < SIDEBAR  # the chat takes the sidebar's columns from the first frame
        await pilot.press(*"hi")
        assert app.composer.text == "hi"
        gate.set()
        await ready(pilot)
        assert app.sidebar.has_class("-hidden") and app.composer.region.x < SIDEBAR


async def test_a_settings_file_without_show_sidebar_shows_the_list_in_the_first_frame(
        ollama_env, make_app, tmp_path, monkeypatch):
    db = tmp_path / "db.sqlite"
    await _history(db)
    settings = tmp_path / "config.toml"
    settings.write_text('theme = "textual-dark"\n', encoding="utf-8")
    monkeypatch.setenv("AIAGENTS_CONFIG", str(settings))
    page = FirstPage(db)
    page.future.result(timeout=10)
    gate = _gate(monkeypatch, startup, "run")
    app = make_app(db_path=db, first_page=page, config=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert _sidebar_rows(app)[1].startswith("question number 5 about")
        gate.set()
        await ready(pilot)
        assert not app.sidebar.has_class("-hidden")


async def test_the_command_lines_app_logs_warnings_to_the_file_once_started(
        ollama_env, make_app, tmp_path, monkeypatch):
    import logging

    log_file = tmp_path / "logs" / "app.log"
    monkeypatch.setenv("AIAGENTS_LOG", str(log_file))
    logger = logging.getLogger("tui_agents")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        app = make_app()
        app.log_file = True  # as the command line sets it
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            logging.getLogger("tui_agents.tui.app").warning("a warning after start-up")
            for handler in logger.handlers:
                handler.flush()
            assert "a warning after start-up" in log_file.read_text(encoding="utf-8")
            assert not logger.propagate  # nothing reaches stderr, under the screen
    finally:
        for handler in logger.handlers:
            if handler not in saved[0]:
                handler.close()
        logger.handlers[:], logger.level, logger.propagate = saved


async def test_the_first_frame_has_the_settings_theme_and_no_missing_provider(
        ollama_env, make_app, tmp_path, monkeypatch):
    settings = tmp_path / "config.toml"
    settings.write_text('theme = "aiagents-light"\ndefault_provider = "ollama"\n'
                        '[providers.ollama]\ndefault_model = "fake-model-small"\n', encoding="utf-8")
    monkeypatch.setenv("AIAGENTS_CONFIG", str(settings))
    page = FirstPage(tmp_path / "db.sqlite")
    gate = _gate(monkeypatch, startup, "run")  # the settings load after the first frame
    app = make_app(provider=None, model=None, first_page=page, config=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app._config is None  # the settings' model is not loaded yet
        first_background = app.screen.styles.background
        assert app.theme == "aiagents-light"  # no switch of colours after the first frame
        assert "no provider" not in screen_text(app) and "no model" not in screen_text(app)
        gate.set()
        await ready(pilot)
        await wait_until(pilot, lambda: "ollama · fake-model-small" in screen_text(app), what="the status bar")
        assert app.theme == "aiagents-light" and app.screen.styles.background == first_background


async def test_the_first_frame_names_the_provider_and_model_of_the_command_line(
        ollama_env, make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("AIAGENTS_CONFIG", str(tmp_path / "none.toml"))
    gate = _gate(monkeypatch, startup, "run")
    app = make_app(provider="ollama", model="llama3.2", config=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "ollama · llama3.2" in screen_text(app)
        assert app.theme == startup.DEFAULT_THEME  # the default theme from the first frame, too
        gate.set()
        await ready(pilot)
        assert "ollama · llama3.2" in screen_text(app)


def test_the_first_frames_default_theme_is_the_settings_default():
    from tui_agents.config import AppConfig

    assert AppConfig().theme == startup.DEFAULT_THEME


async def _row_shown_after_select(shown: str) -> tuple[int, int, int]:
    """Select row 142 of a 150-row ThreadTree shown ``"before"``, ``"with"`` or ``"after"`` the select: the cursor
    line, the scroll offset and the tree's height once drawn."""
    from textual.app import App

    from tui_agents.tui.widgets.thread_tree import ThreadTree

    records = [{"id": f"thr_{i}", "title": f"thread {i}", "parent_id": None} for i in range(150)]
    app = App()
    async with app.run_test(size=(40, 20)) as pilot:
        tree = ThreadTree()
        tree.display = shown == "before"
        await app.screen.mount(tree)
        tree.set_threads(records)
        await pilot.pause()
        tree.display = shown != "after"  # at start-up the tree takes the first frame's place as it is filled
        tree.select_thread("thr_142")
        await pilot.pause()
        tree.display = True  # e.g. a sidebar the settings hid, shown
        await pilot.pause()
        await pilot.pause()
        return tree.cursor_line, round(tree.scroll_y), tree.size.height


async def test_a_thread_selected_before_the_tree_has_a_size_shows_where_a_laid_out_tree_shows_it():
    # The reopened thread is selected at start-up right as the tree takes the first frame's place (or while
    # the sidebar is hidden): the scroll must wait for the tree's size, else the row lands elsewhere.
    laid_out = await _row_shown_after_select("before")
    cursor, scroll, height = laid_out
    assert cursor == 142 and scroll <= cursor < scroll + height  # the row is on screen, under the cursor
    assert await _row_shown_after_select("with") == laid_out
    assert await _row_shown_after_select("after") == laid_out


async def test_an_old_thread_reopened_far_down_the_list_has_neighbours_labelled_from_the_start(
        ollama_env, make_app, tmp_path, monkeypatch):
    """The rows drawn around a thread reopened beyond the first page are never drawn as "New chat" first."""
    from tui_agents.labels import UNTITLED
    from tui_agents.tui.widgets import thread_tree

    db = tmp_path / "db.sqlite"
    conn = await connect(db)
    threads, messages = ThreadStore(conn), MessageStore(conn)
    ids = []
    for i in range(160):
        thread = await threads.create(None, user_id="local")
        await messages.add(thread["id"], "user", f"question number {i} about something")
        ids.append(thread["id"])
    await StateStore(conn).set_last_thread(ids[0], "local")  # the oldest: the last row of the list
    await conn.close()

    drawn: list[tuple[str, str]] = []

    def recording(record):
        label = thread_label(record)
        drawn.append((record["id"], label.plain))
        return label

    thread_label = thread_tree.thread_label
    monkeypatch.setattr(thread_tree, "thread_label", recording)
    app = make_app(db_path=db)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app.current_thread_id == ids[0], what="the last thread reopened")
        await wait_until(pilot, lambda: "question number 0" in screen_text(app), what="its row in view")
        unnamed = sorted({ids.index(thread_id) for thread_id, text in drawn if text == UNTITLED})
        assert unnamed == [], f"threads {unnamed} (by age) were drawn as {UNTITLED!r} before their first words"
