"""The thread sidebar: a search box, the thread tree (forks and branches under their parent) and search hits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static, Tree
from textual.widgets.option_list import Option

from ..sanitize import highlight_snippet, sanitize

__all__ = ["Sidebar", "ThreadTree", "SearchResults", "thread_label"]

UNTITLED = "New chat"


def thread_label(thread: dict[str, Any]) -> Text:
    """The sidebar label of a thread: its title (or a placeholder), marked when forked or archived."""
    title = sanitize(thread.get("title") or "").replace("\n", " ").strip() or UNTITLED
    label = Text(no_wrap=True, overflow="ellipsis")
    kind = thread.get("fork_kind")
    if kind == "fork":
        label.append("⑂ ", style="dim")
    elif kind == "branch":
        label.append("↳ ", style="dim")
    label.append(title)
    if thread.get("archived_at"):
        label.append("  (archived)", style="dim")
    return label


class ThreadTree(Tree[dict]):
    """Threads, newest activity first; a fork or branch is drawn under the thread it came from."""

    HELP = ("Threads. enter opens one; f forks, r renames, a archives or unarchives, delete moves to the trash "
            "(u undoes), v shows the archived threads.")

    BINDINGS = [
        Binding("f", "app.fork_thread", "Fork", id="thread.fork"),
        Binding("r", "app.rename_thread", "Rename", id="thread.rename"),
        Binding("a", "app.archive_thread", "Archive/unarchive", id="thread.archive"),
        Binding("delete", "app.delete_thread", "Delete", id="thread.delete"),
        Binding("u", "app.undo_delete", "Undo delete", id="thread.undo_delete"),
        Binding("v", "toggle_archived", "Archived view", id="sidebar.archived"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("Threads", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.show_archived = False
        self._by_id: dict[str, Any] = {}

    def set_threads(self, nodes: Iterable[dict[str, Any]], keep: str | None = None) -> None:
        """Rebuild the tree from ``ThreadStore.tree`` nodes (drawing order, ``parent_id``, ``depth``)."""
        self.clear()
        self._by_id = {}
        for node in nodes:
            parent = self._by_id.get(node.get("parent_id") or "") or self.root
            tree_node = parent.add(thread_label(node), data=dict(node), expand=True, allow_expand=False)
            self._by_id[node["id"]] = tree_node
            if tree_node.parent is not self.root:
                tree_node.parent.allow_expand = True  # type: ignore[union-attr]
        if keep:
            self.select_thread(keep)

    def select_thread(self, thread_id: str) -> None:
        """Move the tree cursor to a thread, if it is shown."""
        node = self._by_id.get(thread_id)
        if node is not None:
            self.move_cursor(node)

    def update_thread(self, thread: dict[str, Any]) -> None:
        """Relabel a thread in place."""
        node = self._by_id.get(thread["id"])
        if node is not None:
            node.data = {**(node.data or {}), **thread}
            node.set_label(thread_label(node.data))

    def thread_ids(self) -> list[str]:
        """Thread ids in drawing order."""
        out: list[str] = []

        def walk(node: Any) -> None:
            for child in node.children:
                out.append(child.data["id"])
                walk(child)

        walk(self.root)
        return out

    def selected_thread(self) -> dict[str, Any] | None:
        node = self.cursor_node
        return node.data if node is not None and node is not self.root else None

    def action_toggle_archived(self) -> None:
        """Switch between the active and the archived threads."""
        self.show_archived = not self.show_archived
        self.post_message(Sidebar.ViewChanged(self.show_archived))


class SearchResults(OptionList):
    """Search hits: thread title and snippet; enter opens the thread at the hit."""

    HELP = "Search results. enter opens the thread scrolled to the hit; escape returns to the threads."

    BINDINGS = [Binding("escape", "app.clear_search", "Close search", id="search.close")]

    def set_hits(self, hits: list[dict[str, Any]]) -> None:
        """Show ``hits`` (from ``ThreadStore.search``)."""
        self.clear_options()
        options = []
        for i, hit in enumerate(hits):
            prompt = Text(no_wrap=True, overflow="ellipsis")
            prompt.append(sanitize(hit.get("thread_title") or UNTITLED).replace("\n", " "), style="bold")
            prompt.append("\n")
            prompt.append_text(highlight_snippet(hit.get("snippet") or ""))
            options.append(Option(prompt, id=str(i)))
        self.hits = hits
        if options:
            self.add_options(options)
        else:
            self.add_option(Option(Text("No matches"), disabled=True))


class Sidebar(Vertical):
    """Search box, mode line, thread tree and search results."""

    HELP = "Type to search titles and messages of all threads; ctrl+s switches newest first / best match."

    BINDINGS = [Binding("ctrl+s", "toggle_order", "Search order", id="search.order")]

    DEFAULT_CSS = """
    Sidebar { width: 34; border-right: vkey $primary 30%; }
    Sidebar > Input { margin: 0; border: tall $primary 30%; }
    Sidebar > #sidebar-mode { color: $text-muted; padding: 0 1; height: 1; }
    Sidebar > ThreadTree { height: 1fr; background: transparent; overflow-x: hidden; }
    Sidebar > SearchResults { height: 1fr; display: none; background: transparent; }
    Sidebar.-searching > SearchResults { display: block; }
    Sidebar.-searching > ThreadTree { display: none; }
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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order = "newest"
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        search = Input(placeholder="Search (ctrl+f)", id="search")
        yield search
        yield Static(Text("Threads"), id="sidebar-mode", markup=False)
        yield ThreadTree(id="thread-tree")
        yield SearchResults(id="search-results")

    @property
    def tree(self) -> ThreadTree:
        return self.query_one(ThreadTree)

    @property
    def results(self) -> SearchResults:
        return self.query_one(SearchResults)

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

    def show_hits(self, query: str, hits: list[dict[str, Any]]) -> None:
        self.add_class("-searching")
        self.results.set_hits(hits)
        order = "best match" if self.order == "best" else "newest first"
        self.set_mode(f"{len(hits)} hits · {order} (ctrl+s: order)")

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
