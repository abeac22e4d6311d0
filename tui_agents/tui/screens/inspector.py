"""The tool-call inspector: every tool call and guardrail verdict of a thread or of one turn.

``ToolInspector(messages, thread_id, message_id=None)`` (a ``MessageStore``) is a right-hand panel
widget. It reads the stored record (tool-result messages and their ``meta``,
paired with the assistant message's ``tool_calls``; guardrail verdicts on
messages), so it shows the same after a restart, and ``apply_event`` keeps it
live while a turn runs. Arguments, results and model text are untrusted: they
pass through ``sanitize`` and are rendered as plain ``Text``, never markup.

Its app-level key and palette entry are in ``tui/actions.py``; ``HELP`` is on
the widget. This module also holds small helpers the other panels share
(``load_tcss``, ``plain``, ``one_line``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from tui_agents.events import GuardrailFlagged, ToolCallFinished, ToolCallStarted

from ..sanitize import sanitize

__all__ = [
    "CallEntry",
    "ToolInspector",
    "VirtualTable",
    "load_content",
    "load_entries",
    "load_tcss",
    "one_line",
    "plain",
]

MAX_SHOWN_CHARS = 20_000  # a huge result is cut on screen; copying still gives all of it
_GUARD_PREFIX = "guard:"


def load_tcss(module_file: str) -> str:
    """The stylesheet next to a module (``x.py`` -> ``x.tcss``), for a widget's ``DEFAULT_CSS``."""
    return Path(module_file).with_suffix(".tcss").read_text(encoding="utf-8")


def plain(text: str | None, style: str = "") -> Text:
    """Untrusted text as a ``Text`` that is never parsed as markup, control characters removed."""
    return Text(sanitize(text or ""), style=style, end="")


def one_line(text: str | None, width: int) -> str:
    """A sanitized one-line preview of at most ``width`` characters."""
    flat = " ".join(sanitize((text or "")[: width * 4]).split())
    return flat if len(flat) <= width else flat[: max(1, width - 1)] + "…"


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S")


@dataclass(frozen=True, slots=True)
class CallEntry:
    """One row of the inspector: a tool call (``kind="tool"``) or a guardrail verdict."""

    key: str
    kind: str
    name: str
    position: int
    arguments: Mapping[str, Any] | None = None
    result: str | None = None
    error: str | None = None
    status: str = "pending"
    started_at: float | None = None
    duration_ms: float | None = None
    message_id: str | None = None
    result_message_id: str | None = None
    reason: str | None = None
    content_loaded: bool = True

    @property
    def arguments_json(self) -> str:
        """The arguments as pretty JSON."""
        return json.dumps(self.arguments or {}, ensure_ascii=False, indent=2, sort_keys=False, default=str)

    @property
    def output(self) -> str:
        """The result, or the error text."""
        return self.result if self.result is not None else (self.error or "")


def _result_entry(call: Mapping[str, Any], position: int, message_id: str | None,
                  result: Mapping[str, Any] | None) -> CallEntry:
    """A tool call paired with its stored result row (``None`` while it runs or if it never finished).

    The result's text is not read here (``content_loaded`` is False): the panel loads it for the
    selected row only, so opening a thread with thousands of calls reads no result text at all.
    """
    meta = (result or {}).get("meta") or {}
    status = meta.get("status") or ("pending" if result is None else "ok")
    return CallEntry(
        key=str(call.get("id") or (result or {}).get("tool_call_id") or (result or {}).get("id")),
        kind="tool",
        name=str(call.get("name") or meta.get("name") or "?"),
        position=position,
        arguments=call.get("arguments") if call.get("arguments") is not None else meta.get("arguments"),
        status=status,
        started_at=meta.get("started_at"),
        duration_ms=meta.get("duration_ms"),
        message_id=message_id,
        result_message_id=(result or {}).get("id"),
        content_loaded=result is None,
    )


def _guard_entry(message: Mapping[str, Any]) -> CallEntry | None:
    verdict = message.get("guardrail") or {}
    action = verdict.get("action")
    if not action and not verdict.get("injection"):
        return None  # judged clean: nothing to inspect
    return CallEntry(
        key=_GUARD_PREFIX + message["id"], kind="guardrail", name="guardrail", position=message["position"],
        status=action or "flagged", started_at=message.get("created_at"), message_id=message["id"],
        reason=verdict.get("reason") or "", result_message_id=message["id"], content_loaded=False,
    )


async def load_entries(messages: Any, thread_id: str,
                       message_id: str | None = None) -> tuple[list[CallEntry], list[Mapping[str, Any]]]:
    """Every tool call and verdict of the thread in conversation order, and its user/caller rows

    (with the row of ``message_id``, so its turn can be found)."""
    rows = await messages.call_rows(thread_id, message_id)
    by_call = {r["tool_call_id"]: r for r in rows if r["role"] == "tool" and r["tool_call_id"]}
    entries: list[CallEntry] = []
    for row in rows:
        for call in row["tool_calls"] or []:
            entries.append(_result_entry(call, row["position"], row["id"], by_call.pop(call.get("id"), None)))
        if row["guardrail"]:
            entry = _guard_entry(row)
            if entry is not None:
                entries.append(entry)
    for orphan in by_call.values():  # a result whose call is gone (e.g. a branch cut): still shown
        entries.append(_result_entry({"id": orphan["tool_call_id"]}, orphan["position"], None, orphan))
    entries.sort(key=lambda e: (e.position, e.kind != "guardrail"))
    return entries, rows


async def load_content(messages: Any, entry: CallEntry) -> CallEntry:
    """The entry with its stored result (or error, or the flagged message's text) filled in."""
    from tui_agents.errors import NotFoundError

    if entry.content_loaded or not entry.result_message_id:
        return entry
    try:
        text = (await messages.get(entry.result_message_id))["content"]
    except NotFoundError:
        text = "(the stored message is gone)"
    if entry.kind == "guardrail" or entry.status == "ok":
        return replace(entry, result=text, content_loaded=True)
    return replace(entry, error=text, content_loaded=True)


def turn_span(light: Iterable[Mapping[str, Any]], message_id: str) -> tuple[int, float] | None:
    """Positions [start, end) of the turn holding ``message_id``: its user message up to the next one."""
    rows = list(light)
    position = next((r["position"] for r in rows if r["id"] == message_id), None)
    if position is None:
        return None
    users = [r["position"] for r in rows if r["role"] == "user"]
    start = max((p for p in users if p <= position), default=0)
    end = min((p for p in users if p > position), default=float("inf"))
    return start, end


Cells = tuple["Text | str", ...]
Column = tuple[str, "int | None"] | tuple[str, "int | None", str]


class VirtualTable(ScrollView, can_focus=True):
    """A table that renders only its visible rows (the Line API): O(1) to fill, O(height) to paint.

    ``DataTable`` measures every cell of every new row, which costs hundreds of
    milliseconds for a few thousand rows; here columns have fixed widths (one
    may be ``None``: it takes the rest; a third item ``"right"`` aligns it), rows
    are one line each, and cells are ``Text`` or plain ``str`` (never parsed as
    markup). The header stays on the first line.
    """

    COMPONENT_CLASSES = {"virtual-table--header", "virtual-table--cursor", "virtual-table--even"}
    DEFAULT_CSS = """
    VirtualTable { height: 1fr; background: $surface; color: $foreground; }
    VirtualTable > .virtual-table--header { text-style: bold; background: $panel; color: $foreground; }
    VirtualTable > .virtual-table--even { background: $surface-lighten-1 50%; }
    VirtualTable:dark > .virtual-table--even { background: $surface-darken-1 40%; }
    VirtualTable > .virtual-table--cursor {
        background: $block-cursor-blurred-background; color: $block-cursor-blurred-foreground;
        text-style: $block-cursor-blurred-text-style;
    }
    VirtualTable:focus > .virtual-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground; text-style: $block-cursor-text-style;
    }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class Highlighted(Message):
        """The cursor moved to the row ``key``."""

        def __init__(self, table: "VirtualTable", key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "VirtualTable":
            return self.table

    class Selected(Highlighted):
        """The user pressed enter (or clicked twice) on the row ``key``."""

    def __init__(self, columns: list[Column], *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = [(c[0], c[1], c[2] if len(c) > 2 else "left") for c in columns]
        self.keys: list[str] = []
        self._cells: dict[str, Cells] = {}
        self._index: dict[str, int] = {}

    # ---- data

    @property
    def row_count(self) -> int:
        """How many rows the table holds."""
        return len(self.keys)

    def row(self, key: str) -> Cells:
        """The cells of row ``key``."""
        return self._cells[key]

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor."""
        return self.keys[self.cursor] if 0 <= self.cursor < len(self.keys) else None

    def set_rows(self, rows: Iterable[tuple[str, Cells]]) -> None:
        """Replace all rows; the cursor stays on the same key when it is still there."""
        keep = self.cursor_key
        self._cells = dict(rows)
        self.keys = list(self._cells)
        self._index = {key: i for i, key in enumerate(self.keys)}
        self._resize()
        self.cursor = self._index.get(keep, 0) if keep is not None else 0

    def put_row(self, key: str, cells: Cells) -> None:
        """Update row ``key`` in place, or append it."""
        if key not in self._index:
            self._index[key] = len(self.keys)
            self.keys.append(key)
            self._resize()
        self._cells[key] = cells
        self.refresh()
        if self._index[key] == self.cursor:
            self.post_message(self.Highlighted(self, key))

    def move_to(self, key: str) -> None:
        """Put the cursor on row ``key``."""
        if key in self._index:
            self.cursor = self._index[key]

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.keys) + 1)
        self.refresh()

    # ---- cursor

    def watch_cursor(self, cursor: int) -> None:
        if self.keys:
            clamped = max(0, min(cursor, len(self.keys) - 1))
            if clamped != cursor:
                self.cursor = clamped
                return
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self, self.cursor_key))

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def action_move(self, step: int) -> None:
        """Move the cursor ``step`` rows."""
        if self.keys:
            self.cursor = max(0, min(len(self.keys) - 1, self.cursor + step))

    def action_page(self, direction: int) -> None:
        """Move the cursor a page."""
        self.action_move(direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        """Move the cursor to the first or last row."""
        if self.keys:
            self.cursor = len(self.keys) - 1 if end else 0

    def action_select(self) -> None:
        """Announce the row under the cursor as chosen."""
        if self.cursor_key is not None:
            self.post_message(self.Selected(self, self.cursor_key))

    def on_click(self, event: events.Click) -> None:
        row = event.y - 1 + int(self.scroll_offset.y)
        if event.y >= 1 and 0 <= row < len(self.keys):
            self.cursor = row
            if event.chain >= 2:
                self.action_select()

    def on_resize(self) -> None:
        self._resize()

    # ---- rendering

    def _widths(self, width: int) -> list[int]:
        fixed = sum(w for _, w, _ in self.columns if w is not None) + len(self.columns)
        return [w if w is not None else max(4, width - fixed) for _, w, _ in self.columns]

    def _line(self, cells: Iterable[Text | str], width: int, style: Style) -> Strip:
        segments: list[Segment] = []
        for cell, cell_width, (_, _, justify) in zip(cells, self._widths(width), self.columns):
            text = Text(sanitize(cell), end="") if isinstance(cell, str) else cell.copy()
            text.no_wrap = True
            text.end = ""
            text.truncate(cell_width, overflow="ellipsis")
            text.align(justify if justify in ("center", "right") else "left", cell_width)
            segments.append(Segment(" "))
            segments.extend(text.render(self.app.console))
        strip = Strip(segments).adjust_cell_length(width)
        return strip.apply_style(style) if style else strip

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("virtual-table--header")
            return self._line((name for name, _, _ in self.columns), width, base + header)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self.keys):
            return Strip.blank(width, base)
        style = base
        if index % 2 == 0:
            style += self.get_component_rich_style("virtual-table--even")
        if index == self.cursor:
            style += self.get_component_rich_style("virtual-table--cursor")
        # Row styles go under the cells' own (status colours stay visible).
        return self._line(self._cells[self.keys[index]], width, Style()).apply_style(style)


class ToolInspector(Vertical, can_focus=False):
    """Tool calls and guardrail verdicts of a thread (or one turn), with their details."""

    DEFAULT_CSS = load_tcss(__file__)
    HELP = ("Tool calls and guardrail verdicts. up/down pick one; c copies its arguments, y its result; "
            "s switches between this turn and the whole thread; escape closes the inspector.")
    BINDINGS = [
        Binding("c", "copy_arguments", "Copy args", id="inspector.copy_arguments"),
        Binding("y", "copy_result", "Copy result", id="inspector.copy_result"),
        Binding("s", "toggle_scope", "Turn/thread", id="inspector.scope"),
        Binding("escape", "close", "Close", id="inspector.close"),
    ]

    class Closed(Message):
        """The user closed the inspector (the app hides its panel)."""

    def __init__(self, messages: Any, thread_id: str | None, message_id: str | None = None, *,
                 format_time: Callable[[float], str] | None = None, name: str | None = None,
                 id: str | None = "inspector", classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.messages = messages
        self.thread_id = thread_id
        self.message_id = message_id
        self.scope = "turn" if message_id else "thread"
        self.format_time = format_time or _clock
        self.entries: dict[str, CallEntry] = {}
        self._light: list[Mapping[str, Any]] = []
        self._span: tuple[int, float] | None = None
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(id="inspector-title", markup=False)
        yield VirtualTable([("Time", 8), ("Tool", None), ("Status", 8), ("ms", 7, "right")], id="inspector-calls")
        with VerticalScroll(id="inspector-detail"):
            yield Static(id="detail-head", markup=False)
            yield Static("Arguments", classes="detail-label", markup=False)
            yield Static(id="detail-arguments", classes="detail-body", markup=False)
            yield Static("Result", id="detail-result-label", classes="detail-label", markup=False)
            yield Static(id="detail-result", classes="detail-body", markup=False)
        yield Static("c copy args · y copy result · s turn/thread · esc close", id="inspector-keys",
                     markup=False)

    def on_mount(self) -> None:
        self._set_title()
        self.reload()

    # ---- loading

    @work(exclusive=True, group="inspector-load")
    async def reload(self) -> None:
        """Re-read the stored record of the thread."""
        if self.thread_id is None or self.messages is None:
            self._fill([])
            return
        entries, self._light = await load_entries(self.messages, self.thread_id, self.message_id)
        self._span = turn_span(self._light, self.message_id) if self.message_id else None
        self._fill(entries)

    async def show(self, thread_id: str | None, message_id: str | None = None) -> None:
        """Point the inspector at another thread or message and reload."""
        self.thread_id, self.message_id = thread_id, message_id
        self.scope = "turn" if message_id else "thread"
        self.reload()

    def _in_scope(self, entry: CallEntry) -> bool:
        if self.scope == "thread" or self._span is None:
            return True
        start, end = self._span
        return start <= entry.position < end

    def _fill(self, entries: list[CallEntry]) -> None:
        self.entries = {e.key: e for e in entries}
        table = self.query_one("#inspector-calls", VirtualTable)
        table.set_rows((e.key, self._cells(e)) for e in entries if self._in_scope(e))
        self.loaded = True
        self._set_title()
        self._show_detail(self._current())

    # ---- rendering

    def _status_text(self, status: str) -> Text:
        variables = self.app.theme_variables if self.is_attached else {}  # hex colours of the theme
        colour = {"ok": "success", "running": "accent", "pending": "warning", "warned": "warning",
                  "flagged": "warning"}.get(status, "error")
        return Text(status, style=f"bold {variables.get(colour, '')}".strip(), end="")

    def _cells(self, entry: CallEntry) -> tuple[Any, ...]:
        when = self.format_time(entry.started_at) if entry.started_at else "-"
        ms = "-" if entry.duration_ms is None else f"{entry.duration_ms:,.0f}"
        name = plain(entry.name) if entry.kind == "tool" else Text("⚑ guardrail", end="")
        return when, name, self._status_text(entry.status), ms

    def _set_title(self) -> None:
        shown = self.query_one("#inspector-calls", VirtualTable).row_count if self.is_mounted else 0
        calls = "call" if shown == 1 else "calls"
        where = "this turn" if self.scope == "turn" and self.message_id else "whole thread"
        text = f"Tool calls · {where} · {shown} {calls}" if self.loaded else "Tool calls · loading…"
        self.query_one("#inspector-title", Static).update(Text(text, style="bold"))

    def _current(self) -> CallEntry | None:
        key = self.query_one("#inspector-calls", VirtualTable).cursor_key
        return None if key is None else self.entries.get(key)

    def _show_detail(self, entry: CallEntry | None) -> None:
        head = self.query_one("#detail-head", Static)
        args = self.query_one("#detail-arguments", Static)
        result = self.query_one("#detail-result", Static)
        label = self.query_one("#detail-result-label", Static)
        if entry is None:
            head.update(Text("No tool calls yet." if self.loaded else "", style="italic"))
            args.update("")
            result.update("")
            return
        head.update(self._head_text(entry))
        if not entry.content_loaded:
            self._fetch_content(entry)
        waiting = Text("loading…", style="italic")
        if entry.kind == "guardrail":
            args.update(plain(entry.reason or "(no reason given)"))
            label.update(Text("Message", end=""))
            result.update(plain(_cut(entry.result or "")) if entry.content_loaded else waiting)
            return
        args.update(plain(entry.arguments_json))
        failed = entry.error is not None or entry.status not in ("ok", "running", "pending")
        label.update(Text("Error" if failed else "Result", end=""))
        if not entry.content_loaded:
            result.update(waiting)
        elif entry.status in ("running", "pending") and entry.result is None and entry.error is None:
            result.update(Text("running…" if entry.status == "running" else "(no result stored)", style="italic"))
        else:
            result.update(plain(_cut(entry.output)))

    def _head_text(self, entry: CallEntry) -> Text:
        text = Text(end="")
        text.append_text(plain(entry.name if entry.kind == "tool" else "Guardrail verdict", style="bold"))
        text.append("  ")
        text.append_text(self._status_text(entry.status))
        if entry.kind == "tool":
            text.append(f"\ncall id  {sanitize(entry.key)}")
        if entry.started_at:
            label = "started " if entry.kind == "tool" else "at      "
            text.append(f"\n{label} {self.format_time(entry.started_at)}")
        if entry.duration_ms is not None:
            text.append(f"\ntook     {entry.duration_ms:,.1f} ms")
        return text

    @work(exclusive=True, group="inspector-content")
    async def _fetch_content(self, entry: CallEntry) -> None:
        """Read the selected call's result text (only the selected one is ever read)."""
        loaded = await load_content(self.messages, entry)
        if self.entries.get(entry.key) is entry:  # a live event may have replaced it meanwhile
            self.entries[entry.key] = loaded
        current = self._current()
        if current is not None and current.key == loaded.key:
            self._show_detail(self.entries[loaded.key])

    @on(VirtualTable.Highlighted, "#inspector-calls")
    def _highlighted(self, event: VirtualTable.Highlighted) -> None:
        self._show_detail(None if event.key is None else self.entries.get(event.key))

    # ---- live events

    def apply_event(self, event: Any) -> None:
        """Show a live ``ToolCallStarted``, ``ToolCallFinished`` or ``GuardrailFlagged`` of this thread."""
        if getattr(event, "thread_id", None) != self.thread_id:
            return
        match event:
            case ToolCallStarted():
                old = self.entries.get(event.call_id)
                entry = CallEntry(key=event.call_id, kind="tool", name=event.name, position=self._live_position(),
                                  arguments=event.arguments, status="running", started_at=event.started_at,
                                  message_id=event.message_id)
                self._upsert(entry if old is None else replace(old, status="running", started_at=event.started_at))
            case ToolCallFinished():
                old = self.entries.get(event.call_id)
                base = old or CallEntry(key=event.call_id, kind="tool", name=event.name,
                                        position=self._live_position(), message_id=event.message_id)
                self._upsert(replace(base, name=event.name, arguments=event.arguments, result=event.result,
                                     error=event.error, status=event.status, duration_ms=event.duration_ms,
                                     result_message_id=event.result_message_id, content_loaded=True))
            case GuardrailFlagged() if event.message_id:
                key = _GUARD_PREFIX + event.message_id
                old = self.entries.get(key)
                base = old or CallEntry(key=key, kind="guardrail", name="guardrail", position=self._live_position(),
                                        message_id=event.message_id)
                self._upsert(replace(base, status=event.action, reason=event.reason,
                                     result_message_id=event.message_id, content_loaded=False))
            case _:
                return

    def _live_position(self) -> int:
        # Live rows belong to the newest turn: after everything loaded so far.
        return max((e.position for e in self.entries.values()), default=0) + 1

    def _upsert(self, entry: CallEntry) -> None:
        self.entries[entry.key] = entry
        if self.scope == "turn" and self._span is not None and entry.message_id != self.message_id:
            return  # a turn-scoped view shows only its own turn
        self.query_one("#inspector-calls", VirtualTable).put_row(entry.key, self._cells(entry))
        self.loaded = True
        self._set_title()

    # ---- actions

    def action_copy_arguments(self) -> None:
        """Copy the selected call's arguments (JSON) to the clipboard."""
        entry = self._current()
        if entry is None:
            return
        text = entry.arguments_json if entry.kind == "tool" else (entry.reason or "")
        self.app.copy_to_clipboard(text)
        self.notify("Arguments copied." if entry.kind == "tool" else "Reason copied.", markup=False)

    async def action_copy_result(self) -> None:
        """Copy the selected call's result or error to the clipboard."""
        entry = self._current()
        if entry is None:
            return
        if not entry.content_loaded:
            entry = self.entries[entry.key] = await load_content(self.messages, entry)
        self.app.copy_to_clipboard(entry.output)
        self.notify("Result copied." if entry.kind == "tool" else "Message copied.", markup=False)

    def action_toggle_scope(self) -> None:
        """Switch between the selected message's turn and the whole thread."""
        if not self.message_id:
            self.notify("Open the inspector from a message to see one turn.", markup=False)
            return
        self.scope = "thread" if self.scope == "turn" else "turn"
        self._fill(list(self.entries.values()))

    async def action_close(self) -> None:
        """Close the inspector."""
        self.post_message(self.Closed())
        hide = getattr(self.app, "hide_panel", None)
        if hide is not None:
            await hide()
        else:
            await self.remove()


def _cut(text: str) -> str:
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return f"{text[:MAX_SHOWN_CHARS]}\n… ({len(text) - MAX_SHOWN_CHARS:,} more characters; y copies all)"
