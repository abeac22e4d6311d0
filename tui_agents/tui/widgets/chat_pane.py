"""The chat pane: the visible window of one thread's messages, with a message cursor.

Only a bounded window of messages is in the DOM: the latest ones that fill
about SCREENS_MOUNTED screens first (their heights estimated from the text),
older ones when the view comes within a screen of the window's top, newer ones
again when it comes within a screen of its bottom; views more than KEEP_SCREENS
screens away at the far end are pruned each time (and at most MAX_VIEWS stay).
Finished Markdown is rendered through the pane's ``RenderCache``, so a thread
opened again is drawn from the cache. The view follows new text only while it
is at the bottom (``anchor``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget

from .no_second_layout import NoSecondLayout

if TYPE_CHECKING:  # pragma: no cover
    from .message import MessageView, Notice
    from .render_cache import RenderCache

__all__ = ["ChatPane", "MAX_VIEWS", "FIRST_PAGE", "OLDER_PAGE", "NEWER_PAGE", "estimated_rows"]

FIRST_PAGE = 12
OLDER_PAGE = 30
NEWER_PAGE = 30
MAX_VIEWS = 120
SCREENS_MOUNTED = 3
"""Screens of messages mounted at once when a thread opens or a page is loaded (by estimated height)."""
KEEP_SCREENS = 3
"""Views further than this many screens from the view, at the far end, are unmounted."""


def estimated_rows(record: dict[str, Any], width: int) -> int:
    """About how many rows a message takes at ``width`` (header, wrapped text lines, margin)."""
    if record.get("role") == "tool":
        return 3
    width = max(8, width - 2)
    rows = 2
    for line in (record.get("content") or "").split("\n"):
        rows += 1 + len(line) // width
    return rows


class ChatPane(NoSecondLayout, VerticalScroll, can_focus=True):
    """Messages of the open thread; alt+up/alt+down move the message cursor, enter opens its menu."""

    HELP = "The open thread. alt+up / alt+down select a message, enter opens its menu, escape goes back to the composer."

    BINDINGS = [
        Binding("alt+up", "cursor(-1)", "Previous message", id="message.previous", show=False),
        Binding("alt+down", "cursor(1)", "Next message", id="message.next", show=False),
        Binding("enter", "open_menu", "Message menu", id="message.menu"),
        Binding("escape", "leave", "Back to composer", id="message.leave", show=False),
    ]

    # The parts of a compact message view (``MessageView.compact``), styled once here rather than per view.
    COMPONENT_CLASSES = {"chat-pane--header", "chat-pane--user-header", "chat-pane--status", "chat-pane--usage"}

    DEFAULT_CSS = """
    ChatPane { height: 1fr; padding: 0 0 0 1; scrollbar-size-vertical: 1; scrollbar-gutter: stable; }
    ChatPane > .chat-pane--header { color: $text-muted; }
    ChatPane > .chat-pane--user-header { color: $accent; }
    ChatPane > .chat-pane--status { color: $warning; }
    ChatPane > .chat-pane--usage { color: $text-muted; text-style: dim; }
    ChatPane:focus { border-left: tall $accent 40%; }
    ChatPane > .-beyond { display: none; }
    """

    class LoadOlder(Message):
        """The view reached the top and older messages exist."""

        def __init__(self, thread_id: str, before: int) -> None:
            super().__init__()
            self.thread_id = thread_id
            self.before = before

    class LoadNewer(Message):
        """The view reached the bottom while newer messages were pruned from the window."""

        def __init__(self, thread_id: str, after: int) -> None:
            super().__init__()
            self.thread_id = thread_id
            self.after = after

    class JumpToEnd(Message):
        """The user asked for the end of the thread while newer messages are outside the window."""

        def __init__(self, thread_id: str) -> None:
            super().__init__()
            self.thread_id = thread_id

    class MenuRequested(Message):
        """The user asked for the menu of the selected message."""

        def __init__(self, view: MessageView) -> None:
            super().__init__()
            self.view = view

    class Left(Message):
        """The user left the message cursor (focus goes back to the composer)."""

    def _size_updated(self, size: Any, virtual_size: Any, container_size: Any, layout: bool = True) -> bool:
        """A new size from a layout, which repaints the whole pane: its scrollbar is drawn then, not once more.

        The new thumb asks for a repaint of the scrollbar of its own; that repaint came after the
        layout's frame, as a frame of its own drawing the same rows again (after every new line of a
        streaming reply).
        """
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        bar = self._vertical_scrollbar  # private: Textual's own scrollbar, made at the first use
        if changed and bar is not None:
            bar._repaint_required = False  # private: its dirty rows are drawn by the layout's frame
        return changed

    def __init__(self, format_time: Callable[[float], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.format_time = format_time
        self.thread_id: str | None = None
        self.provider: str | None = None
        """The shown thread's provider (the usage lines price its replies)."""
        self.has_older = False
        self.has_newer = False
        self.cursor: int | None = None
        self._loading_older = False
        self._loading_newer = False
        self._placing = False
        self.alternatives: dict[str, dict[str, Any]] = {}
        """The open thread's replies with alternatives, by first message id (``MessageStore.alternative_slots``)."""

    # The compact views' part styles (COMPONENT_CLASSES) are computed right after the first frame, which
    # has no message: Textual styles each part as a node of its own at every style pass (~8 M instructions).
    _parts_styled = False

    def _get_component_classes(self) -> frozenset[str]:  # Textual's (cached) classmethod, per pane here
        return super()._get_component_classes() if self._parts_styled else frozenset()

    def on_mount(self) -> None:
        self.call_after_refresh(self.style_parts)

    def style_parts(self) -> None:
        """Compute the compact views' part styles (once; ``compact.part_style`` reads them)."""
        if not self._parts_styled:
            self._parts_styled = True
            self.app.stylesheet.apply(self)

    # The message views' module (and the Markdown cache's) load after the first frame, which has none.

    @cached_property
    def render_cache(self) -> RenderCache:
        """Rendered Markdown of finished messages, shared across threads and visits."""
        from .render_cache import RenderCache

        return RenderCache()

    # ---- content

    @property
    def views(self) -> list[MessageView]:
        from .message import MessageView

        return [child for child in self.children if isinstance(child, MessageView)]

    def _view(self, record: dict[str, Any], streaming: bool = False, joined: bool = False) -> MessageView:
        from .message import MessageView

        return MessageView(record, self.format_time, streaming=streaming, joined=joined,
                           alternatives=self.alternatives.get(record.get("id") or ""), render_cache=self.render_cache)

    def _views(self, records: list[dict[str, Any]], above: MessageView | None = None) -> list[MessageView]:
        """Views of ``records`` (oldest first, under ``above``); a tool round's messages are drawn as one block."""
        from .tool_line import joins_above

        views: list[MessageView] = []
        previous = above
        for record in records:
            view = self._view(record, joined=joins_above(previous.record if previous else None, record))
            if view.joined and previous is not None:
                previous.add_class("-joined-below")
            views.append(view)
            previous = view
        return views

    def _fit(self, records: list[dict[str, Any]], from_end: bool) -> list[dict[str, Any]]:
        """The records nearest one end (the newest with ``from_end``) that fill about SCREENS_MOUNTED screens."""
        region = self.scrollable_content_region
        if region.width <= 0 or region.height <= 0:
            return records
        budget = SCREENS_MOUNTED * region.height
        order = range(len(records) - 1, -1, -1) if from_end else range(len(records))
        rows = 0
        for count, i in enumerate(order, 1):
            rows += estimated_rows(records[i], region.width)
            if rows >= budget:
                return records[len(records) - count:] if from_end else records[:count]
        return records

    async def show(self, thread_id: str | None, records: Iterable[dict[str, Any]], has_older: bool,
                   *, extra: Iterable[Widget] = (), has_newer: bool = False, keep: str | None = None) -> None:
        """Replace the content with ``records`` (oldest first) and follow the bottom.

        Only the newest records that fill a few screens are mounted (all of them when ``keep``, a
        message id the caller will show, is given); the rest come back as the view scrolls up.
        """
        records = list(records)
        shown = records if keep else self._fit(records, from_end=True)
        self.thread_id = thread_id
        self.has_older = has_older or len(shown) < len(records)
        records = shown
        self.has_newer = has_newer
        self.cursor = None
        self._loading_older = False
        self._loading_newer = False
        widgets: list[Widget] = list(self._views(records))
        widgets.extend(extra)
        with self.app.batch_update():
            await self.remove_children()
            if widgets:
                await self.mount_all(widgets)
        self.anchor()
        self.call_after_refresh(self.fill_older)

    def fill_older(self) -> None:
        """After the first paint: load a page above if the window reaches less than a screen above the view."""
        self._maybe_load_older()

    async def add(self, widget: Widget) -> Widget:
        """Append a widget (message view or notice) at the bottom."""
        await self.mount(widget)
        old_y = self.scroll_y
        removed = self._prune(from_top=True)
        if removed and not self.is_anchored:  # keep what the reader looks at in place
            self.call_after_refresh(self._scroll_quietly, max(0, old_y - removed))
        return widget

    async def add_message(self, record: dict[str, Any], streaming: bool = False) -> MessageView:
        """Append a message view."""
        view = self._view(record, streaming=streaming)
        await self.add(view)
        return view

    async def replace_message(self, view: MessageView, record: dict[str, Any],
                              joined: bool | None = None) -> MessageView:
        """Draw ``view``'s message again from ``record`` (as the store has it now), in the same place."""
        fresh = self._view(record, joined=view.joined if joined is None else joined)
        for name in ("-selected", "-joined-below"):
            fresh.set_class(view.has_class(name), name)
        await self.mount(fresh, after=view)
        await view.remove()
        return fresh

    async def _join(self, view: Widget, above: MessageView) -> Widget:
        """``view`` drawn again as part of the tool round ``above`` ends, if it is one (older messages came in)."""
        from .tool_line import joins_above

        if getattr(view, "joined", True) or not joins_above(above.record, view.record):  # type: ignore[attr-defined]
            return view
        above.add_class("-joined-below")
        return await self.replace_message(view, view.record, joined=True)  # type: ignore[arg-type, attr-defined]

    async def prepend(self, records: list[dict[str, Any]], has_older: bool) -> None:
        """Insert older messages at the top, keeping what is on screen in place."""
        shown = self._fit(records, from_end=True)
        self.has_older = has_older or len(shown) < len(records)
        records = shown
        if not records:
            self._loading_older = False
            return
        views = self._views(records)
        first = await self._join(self.children[0], views[-1]) if self.children else None
        old_height = self.virtual_size.height
        old_y = self.scroll_y
        await self.mount_all(views, before=first) if first is not None else await self.mount_all(views)
        if self.cursor is not None:
            self.cursor += len(views)

        def keep_place() -> None:
            self._scroll_quietly(old_y + self.virtual_size.height - old_height)
            self._prune(from_top=False)
            self._loading_older = False

        self.call_after_refresh(keep_place)

    async def append_newer(self, records: list[dict[str, Any]], has_newer: bool) -> None:
        """Add messages after the last one in the window (scrolling down), keeping what is on screen in place."""
        if self.is_anchored:
            self.release_anchor()  # following the bottom would jump over the new messages
        shown = self._fit(records, from_end=False)
        has_newer = has_newer or len(shown) < len(records)
        records = shown
        if records:
            last = self.views[-1] if self.views else None
            views = self._views(records, above=last)
            after = self._after_last_view()
            await self.mount_all(views, before=after[0]) if after else await self.mount_all(views)
        self._set_has_newer(has_newer)
        old_y = self.scroll_y
        removed = self._prune(from_top=True)

        def keep_place() -> None:
            self._scroll_quietly(max(0, old_y - removed))
            self._loading_newer = False

        self.call_after_refresh(keep_place)

    def _set_has_newer(self, value: bool) -> None:
        """Remember whether newer messages are outside the window; notices at the end show only without them."""
        self.has_newer = value
        for child in self._after_last_view():
            child.set_class(value, "-beyond")

    def _after_last_view(self) -> list[Widget]:
        """The widgets (notices) below the last message view."""
        from .message import MessageView

        children = list(self.children)
        for i in range(len(children) - 1, -1, -1):
            if isinstance(children[i], MessageView):
                return children[i + 1:]
        return children

    def _prune(self, from_top: bool) -> int:
        """Unmount message views at the far end: those KEEP_SCREENS screens off, and beyond MAX_VIEWS one screen off.

        Returns the height removed above the rest (to keep the view in place).
        """
        views = self.views
        height = self.scrollable_content_region.height
        if not views or height <= 0:
            return 0
        extra = len(views) - MAX_VIEWS
        y = self.scroll_y
        doomed: list[MessageView] = []
        for view in views if from_top else views[::-1]:
            region = view.virtual_region
            if region.height <= 0 or view.streaming:
                break
            # how many screens lie between the view's edge and the message
            away = (y - region.bottom) / height if from_top else (region.y - y) / height - 1
            if not (away >= KEEP_SCREENS or (len(doomed) < extra and away >= 1)):
                break
            doomed.append(view)
        del doomed[len(views) - 1:]  # the window never empties
        if not doomed:
            return 0
        removed = 0
        if from_top:
            self.has_older = True
            removed = max(0, views[len(doomed)].virtual_region.y - views[0].virtual_region.y)
        else:
            self._set_has_newer(True)
        for view in doomed:
            view.remove()
        if self.cursor is not None:
            if from_top:
                self.cursor = max(0, self.cursor - len(doomed))
            else:
                self.cursor = min(self.cursor, len(views) - len(doomed) - 1)
        return removed

    def find(self, message_id: str) -> MessageView | None:
        """The view of a message, if it is in the window."""
        for view in self.views:
            if view.message_id == message_id:
                return view
        return None

    def last_notice(self) -> Notice | None:
        from .message import Notice

        notices = [c for c in self.children if isinstance(c, Notice)]
        return notices[-1] if notices else None

    # ---- scrolling

    def _scroll_quietly(self, y: float) -> None:
        """Scroll to ``y`` to keep the same messages in view, without loading more."""
        self._placing = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True)
        finally:
            self._placing = False

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._placing:
            return
        if new < old:
            self._maybe_load_older()
        elif new > old:
            self._maybe_load_newer()

    def _maybe_load_older(self) -> None:
        """Ask for older messages when the view is within a screen of the window's top."""
        if self.scroll_y <= max(1, self.scrollable_content_region.height):
            self._load_older()

    def _load_older(self) -> None:
        """Ask for the messages before the window, unless they are being loaded or there are none."""
        if self.thread_id and self.has_older and not self._loading_older:
            views = self.views
            if views and views[0].record.get("position") is not None:
                self._loading_older = True
                self.post_message(self.LoadOlder(self.thread_id, views[0].record["position"]))

    def _maybe_load_newer(self) -> None:
        """Ask for newer messages when the view is within a screen of the bottom of a window that lacks them."""
        if self.scroll_y >= self.max_scroll_y - max(1, self.scrollable_content_region.height):
            self._load_newer()

    def _load_newer(self) -> None:
        """Ask for the messages after the window, unless they are being loaded or the window holds the newest."""
        if self.thread_id and self.has_newer and not self._loading_newer:
            positions = [v.record["position"] for v in self.views if v.record.get("position") is not None]
            if positions:
                self._loading_newer = True
                self.post_message(self.LoadNewer(self.thread_id, positions[-1]))

    # Already at an end, a scroll key or the wheel changes nothing: ask for more there too.

    def action_scroll_home(self) -> None:
        super().action_scroll_home()
        self._maybe_load_older()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._maybe_load_older()

    def action_scroll_up(self) -> None:
        super().action_scroll_up()
        self._maybe_load_older()

    def action_scroll_end(self) -> None:
        if self.has_newer and self.thread_id:
            self.post_message(self.JumpToEnd(self.thread_id))  # the thread's end, not the window's
            return
        super().action_scroll_end()

    def action_page_down(self) -> None:
        super().action_page_down()
        self._maybe_load_newer()

    def action_scroll_down(self) -> None:
        super().action_scroll_down()
        self._maybe_load_newer()

    def on_mouse_scroll_up(self) -> None:
        self._maybe_load_older()

    def on_mouse_scroll_down(self) -> None:
        self._maybe_load_newer()

    # ---- message cursor

    def _select(self, index: int | None) -> None:
        views = self.views
        for i, view in enumerate(views):
            view.set_class(i == index, "-selected")
        self.cursor = index
        if index is not None and 0 <= index < len(views):
            self.release_anchor()
            self.scroll_to_widget(views[index], animate=False)

    def action_cursor(self, delta: int) -> None:
        """Move the message cursor (entering it from the composer selects the last message)."""
        views = self.views
        if not views:
            return
        if self.cursor is None:
            index = len(views) - 1 if delta < 0 else 0
        else:
            index = max(0, min(len(views) - 1, self.cursor + delta))
            if delta < 0 and self.cursor == 0:
                self._load_older()  # the one before the window's first message is still in the store
            elif delta > 0 and self.cursor == len(views) - 1:
                self._load_newer()
        self.focus()
        self._select(index)

    def selected(self) -> MessageView | None:
        views = self.views
        if self.cursor is None or not (0 <= self.cursor < len(views)):
            return None
        return views[self.cursor]

    def action_open_menu(self) -> None:
        """Open the menu of the selected message."""
        view = self.selected()
        if view is not None:
            self.post_message(self.MenuRequested(view))

    def action_leave(self) -> None:
        """Clear the cursor and return to the composer."""
        self._select(None)
        self.post_message(self.Left())
