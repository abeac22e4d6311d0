"""The documents screen: list, search, view, add and delete the documents ``search_documents`` uses.

``DocumentsScreen(documents)``. Typing in the search box runs a full-text search
(the store makes any text safe); an empty box lists every document. The
selected document is shown as plain text. ``a`` adds files or folders (as
``aiagents-tui docs add``), ``delete`` removes the selected document after a
confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from ...sanitize import highlight_snippet
from ..widgets.text import one_line, plain
from ..widgets.virtual_table import VirtualTable

__all__ = ["DocumentsScreen", "MAX_VIEW_CHARS", "added_summary"]

MAX_VIEW_CHARS = 100_000  # the viewer shows the start of a huge document


def added_summary(stored: int, replaced: int) -> str:
    """"Added 2 document(s), replaced 1": a file stored in place of an older copy counts as replaced."""
    new = stored - replaced
    if not replaced:
        return f"Added {new} document(s)"
    return f"Added {new} document(s), replaced {replaced}" if new else f"Replaced {replaced} document(s)"


class DocumentsScreen(Screen[None]):
    """Documents for the ``search_documents`` tool."""

    CSS_PATH = "documents.tcss"
    HELP = ("Documents. Type to search; up/down pick one and its text shows on the right. "
            "a adds files or folders, delete removes the selected document, / searches, escape goes back.")
    BINDINGS = [
        Binding("escape", "close", "Back", id="documents.close"),
        Binding("slash", "focus_search", "Search", id="documents.search"),
        Binding("a", "add", "Add files", id="documents.add"),
        Binding("delete", "delete", "Delete", id="documents.delete"),
    ]

    def __init__(self, documents: Any) -> None:
        super().__init__()
        self.store = documents
        self.documents: dict[str, Mapping[str, Any]] = {}
        self.query_text = ""
        self.loaded = False
        self.viewing: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="documents-left"):
            yield Input(placeholder="search documents (empty: all)", id="documents-search")
            yield Static("", id="documents-count", markup=False)
            yield VirtualTable([("Title", 26), ("Source / match", None)], id="documents-table")
        with Vertical(id="documents-right"):
            yield Static("", id="document-title", markup=False)
            with VerticalScroll(id="document-scroll"):
                yield Static("", id="document-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_list()
        self.query_one("#documents-table", VirtualTable).focus()

    # ---- list and search

    @on(Input.Changed, "#documents-search")
    def _search_typed(self, event: Input.Changed) -> None:
        self.query_text = event.value.strip()
        self.refresh_list()

    @on(Input.Submitted, "#documents-search")
    def _search_done(self) -> None:
        self.query_one("#documents-table", VirtualTable).focus()

    @work(exclusive=True, group="documents-list")
    async def refresh_list(self) -> None:
        """List every document, or the search hits of the box's text."""
        store = self.store
        table = self.query_one("#documents-table", VirtualTable)
        if self.query_text:
            hits = await store.search(self.query_text, limit=100)
            rows = [(h["document_id"], (plain(h["title"]), highlight_snippet(h["snippet"]))) for h in hits]
            count = f"{len(hits)} match{'es' if len(hits) != 1 else ''}"
        else:
            docs = await store.list()
            self.documents = {d["id"]: d for d in docs}
            rows = [(d["id"], (plain(d["title"]), one_line(d.get("source") or "", 60))) for d in docs]
            count = f"{len(docs)} document{'s' if len(docs) != 1 else ''}"
        table.set_rows(rows)
        self.query_one("#documents-count", Static).update(Text(count, style="italic"))
        self.loaded = True
        if not rows:
            self._show(None)

    @on(VirtualTable.Highlighted, "#documents-table")
    def _highlighted(self, event: VirtualTable.Highlighted) -> None:
        self.view_document(event.key)

    @work(exclusive=True, group="documents-view")
    async def view_document(self, doc_id: str | None) -> None:
        """Show one document's text."""
        from tui_agents.errors import NotFoundError
        if doc_id is None:
            self._show(None)
            return
        try:
            self._show(await self.store.get(doc_id))
        except NotFoundError:
            self._show(None)

    def _show(self, doc: Mapping[str, Any] | None) -> None:
        self.viewing = doc["id"] if doc else None
        title = self.query_one("#document-title", Static)
        body = self.query_one("#document-text", Static)
        if doc is None:
            title.update(Text("No document selected", style="italic"))
            body.update("")
            return
        head = plain(doc["title"], style="bold")
        if doc.get("source"):
            head.append("\n")
            head.append_text(plain(doc["source"], style="italic"))
        title.update(head)
        text = doc["text"]
        if len(text) > MAX_VIEW_CHARS:
            text = f"{text[:MAX_VIEW_CHARS]}\n… ({len(doc['text']) - MAX_VIEW_CHARS:,} more characters)"
        body.update(plain(text))
        self.query_one("#document-scroll", VerticalScroll).scroll_home(animate=False)

    # ---- actions

    def action_focus_search(self) -> None:
        """Focus the search box."""
        self.query_one("#documents-search", Input).focus()

    def action_add(self) -> None:
        """Ask for files or folders and add them."""
        from .dialogs import TextPromptScreen

        self.app.push_screen(TextPromptScreen("Add documents: paths of files or folders (space separated)"),
                             self._add_paths)

    def _add_paths(self, text: str | None) -> None:
        import shlex

        if not text or not text.strip():
            return
        try:
            paths = shlex.split(text)
        except ValueError:
            paths = text.split()
        self.add_paths(paths)

    @work(group="documents-add")
    async def add_paths(self, paths: list[str]) -> None:
        """Ingest files and folders, then say what was added and skipped."""
        from tui_agents.documents import ingest_paths
        report = await ingest_paths(self.store, paths)
        skipped = f"; {len(report.skipped)} skipped ({one_line(report.skipped[0][1], 40)}…)" if report.skipped else ""
        self.notify(f"{added_summary(len(report.added), len(report.replacing))}{skipped}.", markup=False,
                    severity="warning" if report.skipped and not report.added else "information")
        self.refresh_list()

    def action_delete(self) -> None:
        """Delete the selected document after a confirmation."""
        from .dialogs import ConfirmScreen

        doc_id = self.query_one("#documents-table", VirtualTable).cursor_key
        if doc_id is None or self.focused is self.query_one("#documents-search", Input):
            return
        title = self.documents.get(doc_id, {}).get("title") or doc_id
        self.app.push_screen(ConfirmScreen(f"Delete the document {one_line(title, 60)!r}? This cannot be undone.",
                                           yes="Delete", enter_confirms=False),
                             lambda yes: self._delete(doc_id) if yes else None)

    @work(group="documents-delete")
    async def _delete(self, doc_id: str) -> None:
        from tui_agents.errors import NotFoundError
        try:
            await self.store.delete(doc_id)
        except NotFoundError:
            pass  # already gone: the list refresh shows it
        self.notify("Document deleted.", markup=False)
        self.refresh_list()

    def action_close(self) -> None:
        """Go back."""
        self.dismiss(None)
