"""The sidebar's widgets after the first frame: the thread tree, the search box, the mode line and the search hits.

``Sidebar`` (``sidebar.py``) mounts them right after the first frame; their names are importable from
``sidebar.py`` too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, OptionList, Static, Tree
from textual.widgets.option_list import Option

from .. import actions
from ...sanitize import highlight_snippet, sanitize
from ...labels import UNTITLED
from ..startup import SIDEBAR_PAGE
from .sidebar import Sidebar, thread_label

__all__ = ["ThreadTree", "SidebarMode", "SearchBox", "SearchResults", "snippet_source"]

# Rows from the end of what is drawn at which the next page is added.
_MORE_MARGIN = 10
# What a row's label shows (thread_label).
_LABEL_FIELDS = ("title", "preview", "fork_kind", "archived_at", "activity")


class ThreadTree(Tree[dict]):
    """Threads, newest activity first; a fork or branch is drawn under the thread it came from."""

    HELP = ("Threads. enter opens one; f forks, r renames, a archives or unarchives, delete moves to the trash "
            "(u undoes), v shows the archived threads.")

    BINDINGS = actions.bindings("sidebar")  # declared once, in actions.py

    SCOPED_CSS = False
    DEFAULT_CSS = """
    Sidebar > ThreadTree { height: 1fr; background: transparent; overflow-x: hidden; }
    Sidebar.-searching > ThreadTree { display: none; }
    """

    def on_key(self, event: events.Key) -> None:
        """A letter that is no command here goes to the composer (with the focus), never to nowhere."""
        if not event.is_printable or not event.character or event.key in self._command_keys():
            return
        composer = self.screen.query_one("#composer")
        event.stop()
        event.prevent_default()
        composer.focus()
        composer.insert(event.character)

    def _command_keys(self) -> set[str]:
        overrides = self.app.config.keymap  # type: ignore[attr-defined]
        keys = {k.strip() for a in actions.ACTIONS if a.where == "sidebar"
                for k in actions.keys_in_effect(a, overrides).split(",")}
        return keys | {b.key for b in Tree.BINDINGS if isinstance(b, Binding)} | {"space"}

    class RowsShown(Message):
        """Rows were drawn for ``threads`` (records; the app adds previews of untitled ones)."""

        def __init__(self, threads: list[dict[str, Any]]) -> None:
            super().__init__()
            self.threads = threads

    def __init__(self, **kwargs: Any) -> None:
        # set first: Tree's own set-up already runs the cursor watcher
        self._by_id: dict[str, Any] = {}
        self._records: list[dict[str, Any]] = []
        self._record_of: dict[str, dict[str, Any]] = {}
        self._shown = 0
        self._more_pending = False
        self._scroll_owed = False  # the cursor moved before the tree had a size: scrolled to once it has one
        self._activity: dict[str, str] = {}
        super().__init__("Threads", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.show_archived = False

    def set_threads(self, nodes: Iterable[dict[str, Any]], keep: str | None = None) -> None:
        """Replace the threads with ``ThreadStore.tree`` nodes (drawing order, ``parent_id``, ``depth``).

        The first SIDEBAR_PAGE are drawn now, the rest as the user moves down. Rows already drawn for
        the same threads in the same places stay (relabelled if need be): cursor and scroll do not move.
        """
        records = [dict(node) for node in nodes]
        for record in records:
            record["activity"] = self._activity.get(record["id"])
        kept = self._same_rows(records) or self._move_to_top(records)
        if kept:
            self._relabel(records[:self._shown])
        else:
            self.clear()
            self._by_id = {}
            self._shown = 0
        self._records = records
        self._record_of = {record["id"]: record for record in self._records}
        if not kept:
            self._show_more(SIDEBAR_PAGE)
        if keep:
            self.select_thread(keep)

    def _same_rows(self, records: list[dict[str, Any]]) -> bool:
        """Whether ``records`` start with the drawn rows' threads, each under the same parent."""
        drawn = self._records[:self._shown]
        return bool(drawn) and len(records) >= len(drawn) and all(
            new["id"] == old["id"] and new.get("parent_id") == old.get("parent_id")
            for new, old in zip(records, drawn))

    def _move_to_top(self, records: list[dict[str, Any]]) -> bool:
        """A new chat, or a thread with new activity, on top of the drawn rows: move that one row only."""
        top = records[0] if records else None
        if top is None or top.get("parent_id") is not None or not self._shown:
            return False
        node = self._by_id.get(top["id"])
        if node is not None and node.children:
            return False  # its forks would have to move too: redraw
        rest = [r for r in self._records[:self._shown] if r["id"] != top["id"]]
        if len(records) <= len(rest) or any(new["id"] != old["id"] or new.get("parent_id") != old.get("parent_id")
                                            for new, old in zip(records[1:], rest)):
            return False
        if node is not None:
            node.remove()
        else:
            self._record_of[top["id"]] = {}  # no old label: _relabel sets one
        self._by_id[top["id"]] = self.root.add(thread_label(top), data=top, before=0, expand=True,
                                               allow_expand=False)
        self._shown = len(rest) + 1
        if not top.get("title") and not top.get("preview"):
            self.post_message(self.RowsShown([top]))
        return True

    def _relabel(self, records: list[dict[str, Any]]) -> None:
        """Give the drawn rows their new records, relabelling those whose label changed."""
        for record in records:
            old = self._record_of.get(record["id"], {})
            if not record.get("preview") and old.get("preview"):
                record["preview"] = old["preview"]
            node = self._by_id[record["id"]]
            node.data = record
            if any(record.get(k) != old.get(k) for k in _LABEL_FIELDS):
                node.set_label(thread_label(record))

    @property
    def shown_count(self) -> int:
        """How many threads have rows so far."""
        return self._shown

    def _show_more(self, count: int) -> None:
        """Draw the next ``count`` threads (a fork always comes after its parent in drawing order)."""
        batch = self._records[self._shown:self._shown + count]
        for record in batch:
            parent = self._by_id.get(record.get("parent_id") or "") or self.root
            tree_node = parent.add(thread_label(record), data=record, expand=True, allow_expand=False)
            self._by_id[record["id"]] = tree_node
            if tree_node.parent is not self.root:
                tree_node.parent.allow_expand = True  # type: ignore[union-attr]
        self._shown += len(batch)
        if batch:
            self.post_message(self.RowsShown(batch))

    def _near_end(self) -> None:
        """Draw the next page when the cursor or the view comes close to the last row."""
        self._more_pending = False
        if self._shown >= len(self._records):
            return
        if self.cursor_line >= self.last_line - _MORE_MARGIN or self.scroll_y >= self.max_scroll_y - _MORE_MARGIN:
            self._show_more(SIDEBAR_PAGE)

    def _check_near_end(self) -> None:
        # Not from inside the watchers: the tree may be rebuilding its lines right then.
        if not self._more_pending and self._shown < len(self._records):
            self._more_pending = True
            self.call_later(self._near_end)

    def watch_cursor_line(self, previous_line: int, line: int) -> None:
        super().watch_cursor_line(previous_line, line)
        self._check_near_end()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value > old_value:
            self._check_near_end()

    def select_thread(self, thread_id: str) -> None:
        """Move the tree cursor to a thread (drawing the pages up to it first)."""
        record = self._record_of.get(thread_id)
        if record is None:
            return
        if thread_id not in self._by_id:
            self._show_more(self._records.index(record) + 1 - self._shown + SIDEBAR_PAGE // 2)
        node = self._by_id.get(thread_id)
        if node is None:
            return
        self.get_node_at_line(0)  # numbers the rows anew if some were added or removed since the last paint
        if self.size.height:
            self.move_cursor(node)
            return
        # Not laid out yet (just shown at start-up, or hidden): a scroll now has no window to fit the row in
        # and would leave it elsewhere than a laid-out tree does. It scrolls once it has its size (on_resize).
        self.cursor_line = node.line
        self._scroll_owed = True

    def on_resize(self) -> None:
        if self._scroll_owed and self.size.height:
            self._scroll_owed = False
            self.scroll_to_line(self.cursor_line, animate=False)

    def update_thread(self, thread: dict[str, Any]) -> None:
        """Relabel a thread in place."""
        record = self._record_of.get(thread["id"])
        if record is None:
            return
        record.update(thread)
        node = self._by_id.get(thread["id"])
        if node is not None:
            node.set_label(thread_label(record))

    @property
    def records(self) -> list[dict[str, Any]]:
        """The listed threads in drawing order (drawn or not yet)."""
        return self._records

    def updated_times(self) -> dict[str, float]:
        """Each listed thread's last activity (``updated_at``: its newest message), by id."""
        return {record["id"]: record.get("updated_at") or 0.0 for record in self._records}

    def set_activity(self, thread_id: str, activity: str | None) -> None:
        """Mark a thread's row: ``"streaming"``, ``"unseen"`` (a finished reply not looked at yet) or None."""
        if activity:
            self._activity[thread_id] = activity
        else:
            self._activity.pop(thread_id, None)
        record = self._record_of.get(thread_id)
        if record is not None and record.get("activity") != activity:
            self.update_thread({"id": thread_id, "activity": activity})

    def set_previews(self, previews: dict[str, str]) -> None:
        """Label untitled threads with the first words of their first message."""
        for thread_id, text in previews.items():
            record = self._record_of.get(thread_id)
            if record is not None and record.get("preview") != text:
                record["preview"] = text
                node = self._by_id.get(thread_id)
                if node is not None and not record.get("title"):
                    node.set_label(thread_label(record))

    def thread_ids(self) -> list[str]:
        """Every thread's id in drawing order (drawn yet or not)."""
        return [record["id"] for record in self._records]

    def selected_thread(self) -> dict[str, Any] | None:
        node = self.cursor_node
        return node.data if node is not None and node is not self.root else None

    def action_toggle_archived(self) -> None:
        """Switch between the active and the archived threads."""
        self.show_archived = not self.show_archived
        self.post_message(Sidebar.ViewChanged(self.show_archived))


def snippet_source(snippet: str) -> str:
    """A message snippet without Markdown emphasis marks: ``**bold**`` reads as bold text, not stars."""
    return re.sub(r"\*\*|__|`", "", snippet)


class SidebarMode(Static):
    """The sidebar's mode line under the search box ("Threads", "Archived", search order)."""

    SCOPED_CSS = False  # the rules below start at the sidebar
    DEFAULT_CSS = """
    Sidebar:focus-within > #sidebar-mode { color: $accent; text-style: bold; }
    Sidebar > #sidebar-mode { color: $text-muted; padding: 0 1; height: 1; }
    """


class SearchBox(Input):
    """The sidebar's search box; escape clears it and returns to the composer."""

    SCOPED_CSS = False
    DEFAULT_CSS = "Sidebar > Input { margin: 0; border: tall $primary 30%; }"

    BINDINGS = [Binding("escape", "screen.clear_search", "Clear search", id="search.clear"),
                Binding("down", "into_list", "Into the list", show=False, id="search.down")]

    def action_into_list(self) -> None:
        """Down moves into the hits while searching, else into the thread tree."""
        sidebar = self.parent
        target = sidebar.query("#search-results" if sidebar.has_class("-searching") else "#thread-tree")
        if target:
            target.first().focus()


class SearchResults(OptionList):
    """Search hits: thread title and snippet; enter opens the thread at the hit."""

    HELP = "Search results. enter opens the thread scrolled to the hit; escape returns to the threads."

    BINDINGS = [Binding("escape", "screen.clear_search", "Close search", id="search.close")]

    SCOPED_CSS = False
    DEFAULT_CSS = """
    Sidebar > SearchResults { height: 1fr; display: none; background: transparent; }
    Sidebar.-searching > SearchResults { display: block; }
    """

    def set_hits(self, hits: list[dict[str, Any]]) -> None:
        """Show ``hits`` (from ``ThreadStore.search``)."""
        self.clear_options()
        options = []
        for i, hit in enumerate(hits):
            prompt = Text(no_wrap=True, overflow="ellipsis")
            prompt.append(sanitize(hit.get("thread_title") or UNTITLED).replace("\n", " "), style="bold")
            prompt.append("\n")
            prompt.append_text(highlight_snippet(snippet_source(hit.get("snippet") or "")))
            options.append(Option(prompt, id=str(i)))
        self.hits = hits
        if options:
            self.add_options(options)
            self.highlighted = 0  # enter opens the first hit at once
        else:
            self.add_option(Option(Text("No matches"), disabled=True))
