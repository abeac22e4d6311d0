"""Issue 13 item 10: confirmations that say their keys, replaced documents, snippets, jobs, footers."""

from __future__ import annotations

from textual.widgets import Input

from tests.data.pilot import PanelHost, wait_until
from tests.tui.conftest import ready, screen_text
from tui_agents.store import DocumentStore, connect
from tui_agents.tui.screens.dialogs import ConfirmScreen
from tui_agents.tui.screens.documents import DocumentsScreen
from tui_agents.tui.widgets.virtual_table import VirtualTable


async def test_enter_moves_a_thread_to_the_trash_and_the_dialog_says_so(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        thread = await app.session.new_thread("ollama", "fake-model-small", title="doomed")
        await app.screen.threads.reload_threads()
        tree = app.sidebar.tree
        await wait_until(pilot, lambda: thread["id"] in tree.thread_ids(), what="the thread listed")
        tree.focus()
        tree.select_thread(thread["id"])
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "enter or y: Move to trash" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the dialog closed")
        await wait_until(pilot, lambda: thread["id"] not in tree.thread_ids(), what="the thread trashed")
        assert (await app.session.threads.get(thread["id"]))["trashed_at"] is not None


async def test_a_document_added_again_is_reported_as_replaced_and_enter_keeps_a_document(tmp_path):
    db = tmp_path / "d.db"
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "wifi.md").write_text("# Wifi\n\nThe password is on the fridge.\n")
    conn = await connect(db)
    from tui_agents.documents import ingest_paths
    await ingest_paths(DocumentStore(conn), [kb / "wifi.md"])
    await conn.close()
    (kb / "wifi.md").write_text("# Wifi\n\nThe password is under the router.\n")
    (kb / "bins.txt").write_text("Bins go out on Monday.\n")
    app = PanelHost(db, lambda app: DocumentsScreen(app.stores.documents), screen=True)
    async with app.run_test(size=(110, 24)) as pilot:
        await wait_until(pilot, lambda: app.panel is not None and app.panel.loaded, what="documents listed")
        screen = app.panel
        await pilot.press("a")
        await wait_until(pilot, lambda: app.screen is not screen)
        app.screen.query_one(Input).value = str(kb)
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("replaced" in n.message for n in app._notifications), what="the report")
        assert any(n.message == "Added 1 document(s), replaced 1." for n in app._notifications)
        table = screen.query_one("#documents-table", VirtualTable)
        await wait_until(pilot, lambda: len(table.keys) == 2, what="two documents")
        screen.query_one("#documents-table").focus()
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("enter")  # deleting a document cannot be undone: enter keeps it
        await wait_until(pilot, lambda: app.screen is screen, what="back on the list")
        assert len(await DocumentStore(app.conn).list()) == 2


async def test_the_theme_picker_starts_on_the_current_theme_previews_live_and_escape_puts_it_back(
        ollama_env, make_app, tmp_path):
    from tui_agents.config import AppConfig, load_config
    from tui_agents.tui.screens.dialogs import ThemePickerScreen

    config_path = tmp_path / "config.toml"
    app = make_app(config_path=config_path, config=AppConfig(theme="aiagents-light"))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, ThemePickerScreen), what="the theme picker")
        menu = app.screen.query_one("#menu")
        assert menu.get_option_at_index(menu.highlighted).id == "aiagents-light"
        await pilot.press("down")
        await wait_until(pilot, lambda: app.theme == "aiagents-high-contrast", what="the live preview")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ThemePickerScreen), what="closed")
        assert app.theme == "aiagents-light"
        await pilot.pause(0.1)
    assert not config_path.exists() or load_config(config_path).theme == "aiagents-light"


async def test_a_fresh_install_uses_the_projects_own_theme_and_a_saved_choice_stays(ollama_env, make_app, tmp_path):
    config_path = tmp_path / "config.toml"
    app = make_app(config_path=config_path, config=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert app.theme == "aiagents-dark"
    config_path.write_text('theme = "textual-dark"\n')
    again = make_app(config_path=config_path, config=None)
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert again.theme == "textual-dark"


async def test_search_snippets_highlight_the_match_without_markers_and_count_one_hit(ollama_env, make_app):
    from tests.fakes.llm_server import Reply
    from tests.tui.conftest import last_reply, rendered_text, send

    ollama_env.script(Reply(text="The **indigo** shade is `#4B0082`."))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "a colour please")
        await wait_until(pilot, lambda: last_reply(app) is not None and "indigo" in rendered_text(last_reply(app)))
        await pilot.press("ctrl+f", *"indigo")
        await wait_until(pilot, lambda: app.sidebar.has_class("-searching") and app.sidebar.results.option_count,
                         what="the hit")
        await wait_until(pilot, lambda: "1 hit ·" in screen_text(app), what="one hit, not '1 hits'")
        prompt = app.sidebar.results.get_option_at_index(0).prompt
        snippet = prompt.plain.split("\n", 1)[1]
        assert "indigo" in snippet and "**" not in snippet and "[[" not in snippet and "`" not in snippet
        start = snippet.index("indigo") + len(prompt.plain.split("\n", 1)[0]) + 1
        assert any(span.start <= start < span.end and "reverse" in str(span.style) for span in prompt.spans)


async def test_the_status_bar_says_background_jobs_in_words(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        app.status_bar.jobs = 1  # the job watcher sets this from the queue's running count
        await pilot.pause()
        assert "1 background job" in screen_text(app) and "jobs 1" not in screen_text(app)
        app.status_bar.jobs = 2
        await pilot.pause()
        assert "2 background jobs" in screen_text(app)


async def test_the_inspector_footer_is_whole_at_120_columns(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: "No tool calls" in screen_text(app) or "copy args" in screen_text(app),
                         what="the inspector")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "c copy args · y copy result" in text and "s turn/thread · esc close" in text


async def test_ctrl_c_names_the_quit_key_in_plain_text(make_app, ollama_env):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause(0.1)
        messages = [str(n.message) for n in app._notifications]
        assert any("ctrl+q" in m.lower() and "quit" in m for m in messages), messages
        assert not any("[b]" in m for m in messages)
