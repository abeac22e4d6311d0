"""The thread sidebar: a search box, the thread tree (forks and branches under their parent) and search hits.

The tree holds every thread record but draws them a page at a time
(SIDEBAR_PAGE rows): the next page is added when the cursor or the scroll
position comes near the end. An untitled thread is labelled with the first
words of its first user message (``preview``), which the app looks up for the
rows as they are shown (``ThreadTree.RowsShown``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color, ColorParseError
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, OptionList, Static, Tree

from .. import actions
from ...sanitize import sanitize
from ..startup import SIDEBAR_PAGE

if TYPE_CHECKING:  # pragma: no cover
    from .thread_tree import SearchResults, ThreadTree

__all__ = ["Sidebar", "ThreadTree", "SearchBox", "SearchResults", "thread_label", "first_words", "page_records",
           "preview_text", "SIDEBAR_PAGE"]

from ...labels import UNTITLED, first_words  # noqa: E402 - one label for the sidebar and the CLI
#: Row marks: a reply is streaming in the thread; a reply finished there while another thread was open.
# First on the row: a long title is cut at the sidebar's edge, and the mark must stay in sight.
ACTIVITY_MARKS = {"streaming": "⋯ ", "unseen": "● "}
# The tree, its search box, mode line and search results (``thread_tree.py``) load right after the first
# frame, which draws the first page as the sidebar's own text: their classes cost ~10 M instructions.
_LATER = ("ThreadTree", "SearchBox", "SearchResults", "SidebarMode", "snippet_source")


def __getattr__(name: str) -> Any:
    if name in _LATER:
        from . import thread_tree

        return getattr(thread_tree, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def thread_label(thread: dict[str, Any]) -> Text:
    """The sidebar label of a thread: its title (or a placeholder), marked when streaming, unseen, forked or
    archived."""
    title = sanitize(thread.get("title") or thread.get("preview") or "").replace("\n", " ").strip() or UNTITLED
    label = Text(no_wrap=True, overflow="ellipsis")
    activity = thread.get("activity")
    if activity:
        label.append(ACTIVITY_MARKS.get(activity, ""), style="bold")
    kind = thread.get("fork_kind")
    if kind == "fork":
        label.append("⇉ ", style="dim")  # a fork: the whole thread copied (arrows render in every font)
    elif kind == "branch":
        label.append("↳ ", style="dim")
    label.append(title)
    if thread.get("archived_at"):
        label.append("  (archived)", style="dim")
    return label


def page_records(page: tuple[list[dict[str, Any]], dict[str, str]]) -> list[dict[str, Any]]:
    """The rows of a first page read at launch (``store.first_page``), untitled ones labelled with their first words."""
    nodes, labels = page
    return [dict(node, preview=first_words(labels[node["id"]])) if not node.get("title") and node["id"] in labels
            else node for node in nodes]


def preview_text(records: list[dict[str, Any]], rows: int, width: int, guides: str | Style = "dim") -> Text:
    """The sidebar's search box space, mode line and the first ``rows`` of ``records`` as ``ThreadTree`` draws
    them (the page ``records``: guides in the style ``guides``, fold marks), cropped to ``width`` cells.

    The first frame shows this as the sidebar's own content (``Sidebar``'s preview): the tree and its search
    box come right after that frame, with the same rows in the same places.
    """
    last_child: dict[str | None, str] = {}  # parent -> its last drawn child (drawn with └, not ├)
    for record in records:
        last_child[record.get("parent_id")] = record["id"]
    parent_of = {record["id"]: record.get("parent_id") for record in records}
    lines = [Text(), Text(), Text(), Text(" Threads", style="dim")]  # under the search box, as the mode line
    for record in records[:rows]:
        line = Text()
        ancestors: list[str] = []
        node = parent_of.get(record["id"])
        while node is not None and parent_of.get(node) is not None:  # the top-level row has no guide
            ancestors.append(node)
            node = parent_of.get(node)
        for ancestor in reversed(ancestors):
            line.append("  " if last_child.get(parent_of.get(ancestor)) == ancestor else "│ ", style=guides)
        if record.get("parent_id"):
            line.append("└ " if last_child.get(record["parent_id"]) == record["id"] else "├ ", style=guides)
        if record["id"] in last_child:  # it has children: drawn unfolded
            line.append(Tree.ICON_NODE_EXPANDED)
        line.append_text(thread_label(record))
        line.truncate(width, overflow="crop")  # as the tree crops a long label
        lines.append(line)
    return Text("\n").join(lines)


def _guide_style(app: Any) -> Style:
    """The colour ``ThreadTree`` (unfocused) draws its guides in: Textual's ``Tree`` CSS, from the theme's variables."""
    if app.ansi_color:
        name = "ansi-background"
    else:
        name = "surface-lighten-2" if app.current_theme.dark else "surface-darken-1"
    try:
        return Style(color=Color.parse(app.theme_variables[name]).rich_color)
    except (KeyError, ColorParseError):  # a theme without it: still a guide, not a label
        return Style(dim=True)


class Sidebar(Vertical):
    """Search box, mode line, thread tree and search results."""

    HELP = "Type to search titles and messages of all threads; ctrl+s switches newest first / best match."

    BINDINGS = [Binding("ctrl+s", "toggle_order", "Search order", id="search.order")]

    # Its children's rules come with the children (``_SIDEBAR_CSS``), right after the first frame: the
    # first frame's style passes match fewer rules against every node.
    DEFAULT_CSS = """
    Sidebar { width: 34; border-right: vkey $primary 30%; }
    Sidebar:focus-within { border-right: vkey $accent; }
    """

    class ThreadChosen(Message):
        """The user opened a thread (from the tree or a search hit at ``message_id``)."""

        def __init__(self, thread_id: str, message_id: str | None = None) -> None:
            super().__init__()
            self.thread_id = thread_id
            self.message_id = message_id

    class SearchRequested(Message):
        """Search text changed (debounced) or the order was toggled."""

        def __init__(self, query: str, order: str) -> None:
            super().__init__()
            self.query = query
            self.order = order

    class ViewChanged(Message):
        """Switched between active and archived threads."""

        def __init__(self, archived: bool) -> None:
            super().__init__()
            self.archived = archived

    def __init__(self, page: list[dict[str, Any]] | None = None, page_rows: int = 0, **kwargs: Any) -> None:
        """``page``: the first rows (``page_records``), drawn in the first frame as text; ``page_rows`` of them fit."""
        super().__init__(**kwargs)
        self.order = "newest"
        self._debounce: Timer | None = None
        self._filled: asyncio.Event | None = None
        self._filling = False
        self._page = page or None
        self._page_rows = page_rows
        self._hidden: list[Widget] = []

    @property
    def previewing(self) -> bool:
        """Whether the sidebar shows the first page as its own text (before the tree took its place)."""
        return self._page is not None

    def compose(self) -> ComposeResult:
        # No search box and no tree yet: they come right after the first frame, which then paints
        # about 40% sooner. The first page of threads, read at launch, is drawn as text (render).
        return iter(())

    def render(self) -> Any:
        if self._page is None:
            return super().render()
        scrolls = len(self._page) > self._page_rows  # the tree will have a scroll bar (2 cells)
        width = self.size.width - 2 * scrolls
        return preview_text(self._page, self._page_rows, width, _guide_style(self.app))  # a widget more: ~6 ms

    def on_mount(self) -> None:
        self.call_after_refresh(self.fill)

    async def fill(self) -> None:
        """Mount the search box, the mode line and the thread tree (once; the app may do it first)."""
        if self._filling:
            return await self.filled()
        self._filling = True
        from .thread_tree import SearchBox, SidebarMode, ThreadTree

        search = SearchBox(placeholder="Search (ctrl+f)", id="search")
        mode = SidebarMode(Text("Threads"), id="sidebar-mode", markup=False)
        widgets = [search, mode, ThreadTree(id="thread-tree")]  # search results: at the first search
        if self._page is not None:  # hidden until the tree has the preview's rows (end_preview)
            self._hidden = widgets
            for widget in widgets:
                widget.display = False
        await self.mount_all(widgets)
        self._filled_event().set()

    def end_preview(self) -> None:
        """Show the search box and the tree in place of the first frame's text (in the same frame)."""
        if self._page is None:
            return
        for widget in self._hidden:
            widget.display = True
        self._hidden = []
        self._page = None
        self.refresh()

    def _filled_event(self) -> asyncio.Event:
        if self._filled is None:
            self._filled = asyncio.Event()
        return self._filled

    async def filled(self) -> None:
        """Wait until the search box and the thread tree are mounted."""
        await self._filled_event().wait()

    @property
    def tree(self) -> ThreadTree:
        return self.query_one("#thread-tree", Tree)  # type: ignore[return-value]

    @property
    def results(self) -> SearchResults:
        return self.query_one("#search-results", OptionList)  # type: ignore[return-value]

    def set_mode(self, text: str) -> None:
        self.query_one("#sidebar-mode", Static).update(Text(text))

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.25, self._request_search)

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._request_search()
        if self.has_class("-searching"):
            self.results.focus()

    def _request_search(self) -> None:
        query = self.query_one("#search", Input).value.strip()
        if not query:
            self.end_search()
            return
        self.post_message(self.SearchRequested(query, self.order))

    def action_toggle_order(self) -> None:
        """Switch search order between newest first and best match."""
        self.order = "best" if self.order == "newest" else "newest"
        self._request_search()

    async def show_hits(self, query: str, hits: list[dict[str, Any]]) -> None:
        """Show search hits in place of the threads."""
        if not self.query("#search-results"):
            from .thread_tree import SearchResults

            await self.mount(SearchResults(id="search-results"))
        self.add_class("-searching")
        self.results.set_hits(hits)
        order = "best match" if self.order == "best" else "newest first"
        self.set_mode(f"{len(hits)} {'hit' if len(hits) == 1 else 'hits'} · {order} (ctrl+s)")  # fits 31 columns

    def end_search(self) -> None:
        """Leave the search results and show the threads again."""
        self.remove_class("-searching")
        self.query_one("#search", Input).value = ""
        self.set_mode("Archived threads" if self.tree.show_archived else "Threads")

    @on(Tree.NodeSelected, "#thread-tree")
    def _node_selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        if event.node.data:
            self.post_message(self.ThreadChosen(event.node.data["id"]))

    @on(OptionList.OptionSelected, "#search-results")
    def _hit_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        hits = getattr(self.results, "hits", [])
        index = int(event.option.id or -1)
        if 0 <= index < len(hits):
            hit = hits[index]
            self.post_message(self.ThreadChosen(hit["thread_id"], hit.get("message_id")))
