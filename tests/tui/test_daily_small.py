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
