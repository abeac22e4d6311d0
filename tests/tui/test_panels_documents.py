"""The documents screen: list, search, view, add a folder, delete with confirmation."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, Static

from tests.data.pilot import PanelHost, wait_until
from tui_agents.store import DocumentStore, connect
from tui_agents.tui.screens.dialogs import ConfirmScreen
from tui_agents.tui.screens.documents import DocumentsScreen
from tui_agents.tui.widgets.virtual_table import VirtualTable

SIZE = (110, 24)


async def _seed(db) -> dict[str, str]:
    conn = await connect(db)
    try:
        store = DocumentStore(conn)
        checkout = await store.add("Checkout policy", "# Checkout policy\n\nCheckout is at 11 AM. Late checkout "
                                   "[bold]costs[/bold] extra.\x1b[2J\n", source="/kb/checkout.md")
        wifi = await store.add("Wifi", "The wifi password is on the fridge.", source="/kb/wifi.txt")
        return {"checkout": checkout["id"], "wifi": wifi["id"]}
    finally:
        await conn.close()


def _host(db) -> PanelHost:
    return PanelHost(db, lambda app: DocumentsScreen(app.stores.documents), screen=True)


async def _ready(pilot) -> DocumentsScreen:
    await wait_until(pilot, lambda: pilot.app.panel is not None and pilot.app.panel.loaded
                     and pilot.app.panel.viewing is not None, what="documents listed")
    return pilot.app.panel


def _text(screen, selector) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_list_view_and_search(tmp_path):
    db = tmp_path / "d.db"
    ids = await _seed(db)
    app = _host(db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _ready(pilot)
        table = screen.query_one("#documents-table", VirtualTable)
        assert table.keys == [ids["wifi"], ids["checkout"]]  # newest first
        await pilot.press("down")
        await wait_until(pilot, lambda: screen.viewing == ids["checkout"])
        body = _text(screen, "#document-text")
        assert "[bold]costs[/bold]" in body and "\x1b" not in body  # literal markup, no escapes
        await pilot.press("slash", *"fridge")
        await wait_until(pilot, lambda: table.keys == [ids["wifi"]], what="search hits")
        assert "1 match" in _text(screen, "#documents-count")
        screen.query_one("#documents-search", Input).value = 'AND( "unbalanced'
        await wait_until(pilot, lambda: "match" in _text(screen, "#documents-count"))  # never raises
        screen.query_one("#documents-search", Input).value = ""
        await wait_until(pilot, lambda: len(table.keys) == 2)


async def test_delete_asks_first(tmp_path):
    db = tmp_path / "d.db"
    ids = await _seed(db)
    app = _host(db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _ready(pilot)
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        assert len(await DocumentStore(app.conn).list()) == 2
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        table = screen.query_one("#documents-table", VirtualTable)
        await wait_until(pilot, lambda: table.keys == [ids["checkout"]], what="deleted")
        assert [d["id"] for d in await DocumentStore(app.conn).list()] == [ids["checkout"]]


async def test_add_a_folder_from_the_screen(tmp_path):
    db = tmp_path / "d.db"
    await _seed(db)
    kb = tmp_path / "more kb"
    (kb / "sub").mkdir(parents=True)
    (kb / "parking.md").write_text("# Parking\n\nPark on the left.\n")
    (kb / "sub" / "bins.txt").write_text("Bins go out on Monday.\n")
    (kb / "photo.jpg").write_bytes(b"\xff\xd8\xff\x00binary")
    app = _host(db)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _ready(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: app.screen is not screen)
        app.screen.query_one(Input).value = f"'{kb}'"
        await pilot.press("enter")
        table = screen.query_one("#documents-table", VirtualTable)
        await wait_until(pilot, lambda: len(table.keys) == 4, what="folder added")
        assert any("Added 2 document(s); 1 skipped" in n.message for n in app._notifications)


def test_snapshot_documents_screen(snap_compare, tmp_path):
    db = tmp_path / "snap.db"
    asyncio.run(_seed(db))

    async def ready(pilot):
        await _ready(pilot)
        await pilot.press("down")
        await wait_until(pilot, lambda: "Checkout" in _text(pilot.app.panel, "#document-title"))

    assert snap_compare(_host(db), terminal_size=SIZE, run_before=ready)
