"""The tool-call inspector: every tool call and guardrail verdict of a thread or of one turn.

``ToolInspector(conn, thread_id, message_id=None)`` is a right-hand panel
widget. It reads the stored record (tool-result messages and their ``meta``,
paired with the assistant message's ``tool_calls``; guardrail verdicts on
messages), so it shows the same after a restart, and ``apply_event`` keeps it
live while a turn runs. Arguments, results and model text are untrusted: they
pass through ``sanitize`` and are rendered as plain ``Text``, never markup.

For the app (the lead wires these): ``APP_BINDINGS`` and ``APP_ACTIONS`` below,
``HELP`` on the widget. This module also holds small helpers the other panels
share (``load_tcss``, ``plain``, ``one_line``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from tui_agents.events import GuardrailFlagged, ToolCallFinished, ToolCallStarted

from ..sanitize import sanitize

__all__ = [
    "APP_ACTIONS",
    "APP_BINDINGS",
    "CallEntry",
    "ToolInspector",
    "load_entries",
    "load_tcss",
    "one_line",
    "plain",
]

APP_BINDINGS = [
    Binding("ctrl+t", "toggle_inspector", "Inspector", id="panel.inspector"),
]
"""Proposed app-level keys: ctrl+t toggles the inspector of the open thread."""

APP_ACTIONS = [
    ("toggle_inspector", "Tool-call inspector",
     "Show every tool call and guardrail verdict of this thread: arguments, result, time, status (ctrl+t)"),
]
"""(action, title, help) palette entries, in the app's ``ACTIONS`` format."""

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
    """A tool call paired with its stored result message (``None`` while it runs or if it never finished)."""
    meta = (result or {}).get("meta") or {}
    status = meta.get("status") or ("pending" if result is None else "ok")
    content = None if result is None else result.get("content", "")
    return CallEntry(
        key=str(call.get("id") or (result or {}).get("tool_call_id") or (result or {}).get("id")),
        kind="tool",
        name=str(call.get("name") or meta.get("name") or "?"),
        position=position,
        arguments=call.get("arguments") if call.get("arguments") is not None else meta.get("arguments"),
        result=content if status == "ok" else None,
        error=content if status != "ok" and result is not None else None,
        status=status,
        started_at=meta.get("started_at"),
        duration_ms=meta.get("duration_ms"),
        message_id=message_id,
        result_message_id=(result or {}).get("id"),
    )


def _guard_entry(message: Mapping[str, Any]) -> CallEntry | None:
    verdict = message.get("guardrail") or {}
    action = verdict.get("action")
    if not action and not verdict.get("injection"):
        return None  # judged clean: nothing to inspect
    return CallEntry(
        key=_GUARD_PREFIX + message["id"], kind="guardrail", name="guardrail", position=message["position"],
        status=action or "flagged", started_at=message.get("created_at"), message_id=message["id"],
        reason=verdict.get("reason") or "", result=message.get("content"),
    )


async def _guardrail_rows(conn: Any, thread_id: str) -> list[dict[str, Any]]:
    """Messages of the thread that carry a guardrail verdict (one indexed query, not the whole thread)."""
    from tui_agents.store.db import run
    from tui_agents.store.records import fetch_all

    rows = await run(conn, fetch_all,
                     "SELECT m.id, m.position, m.created_at, m.guardrail, c.text AS content "
                     "FROM messages AS m JOIN contents AS c ON c.id = m.content_id "
                     "WHERE m.thread_id = ? AND m.guardrail IS NOT NULL ORDER BY m.position", (thread_id,))
    return [{**dict(r), "guardrail": json.loads(r["guardrail"])} for r in rows]


async def load_entries(conn: Any, thread_id: str) -> tuple[list[CallEntry], list[Mapping[str, Any]]]:
    """Every tool call and verdict of the thread in conversation order, and the thread's light rows."""
    from tui_agents.store import MessageStore

    messages = MessageStore(conn)
    results = await messages.tool_calls(thread_id)
    light = await messages.list_light(thread_id)
    callers = await messages.get_many([r["id"] for r in light if r["has_tool_calls"]])
    by_call = {r["tool_call_id"]: r for r in results if r.get("tool_call_id")}
    entries: list[CallEntry] = []
    for caller in callers:
        for call in caller.get("tool_calls") or []:
            entries.append(_result_entry(call, caller["position"], caller["id"], by_call.pop(call.get("id"), None)))
    for orphan in by_call.values():  # a result whose call is gone (e.g. a branch cut): still shown
        entries.append(_result_entry({"id": orphan["tool_call_id"]}, orphan["position"], None, orphan))
    for row in await _guardrail_rows(conn, thread_id):
        entry = _guard_entry(row)
        if entry is not None:
            entries.append(entry)
    entries.sort(key=lambda e: (e.position, e.kind != "guardrail"))
    return entries, light


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

    def __init__(self, conn: Any, thread_id: str | None, message_id: str | None = None, *,
                 format_time: Callable[[float], str] | None = None, name: str | None = None,
                 id: str | None = "inspector", classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.conn = conn
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
        table: DataTable[Any] = DataTable(id="inspector-calls", cursor_type="row", zebra_stripes=True)
        table.add_column("Time", key="time", width=8)
        table.add_column("Tool", key="tool")
        table.add_column("Status", key="status", width=9)
        table.add_column("ms", key="ms", width=7)
        yield table
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
        if self.thread_id is None or self.conn is None:
            self._fill([])
            return
        entries, self._light = await load_entries(self.conn, self.thread_id)
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
        table = self.query_one("#inspector-calls", DataTable)
        table.clear()
        for entry in entries:
            if self._in_scope(entry):
                table.add_row(*self._cells(entry), key=entry.key)
        self.loaded = True
        self._set_title()
        self._show_detail(self._current())

    # ---- rendering

    def _status_text(self, status: str) -> Text:
        variables = self.app.theme_variables if self.is_attached else {}
        colour = {"ok": "success", "running": "accent", "pending": "warning", "warned": "warning",
                  "flagged": "warning"}.get(status, "error")
        return Text(status, style=f"bold {variables.get(colour, '')}".strip(), end="")

    def _cells(self, entry: CallEntry) -> tuple[Any, ...]:
        when = self.format_time(entry.started_at) if entry.started_at else "-"
        ms = "-" if entry.duration_ms is None else f"{entry.duration_ms:,.0f}"
        name = plain(entry.name) if entry.kind == "tool" else Text("⚑ guardrail", end="")
        return Text(when, end=""), name, self._status_text(entry.status), Text(ms, justify="right", end="")

    def _set_title(self) -> None:
        shown = self.query_one("#inspector-calls", DataTable).row_count if self.is_mounted else 0
        calls = "call" if shown == 1 else "calls"
        where = "this turn" if self.scope == "turn" and self.message_id else "whole thread"
        text = f"Tool calls · {where} · {shown} {calls}" if self.loaded else "Tool calls · loading…"
        self.query_one("#inspector-title", Static).update(Text(text, style="bold"))

    def _current(self) -> CallEntry | None:
        table = self.query_one("#inspector-calls", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return self.entries.get(str(row_key.value))

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
        if entry.kind == "guardrail":
            args.update(plain(entry.reason or "(no reason given)"))
            label.update(Text("Message", end=""))
            result.update(plain(_cut(entry.result or "")))
            return
        args.update(plain(entry.arguments_json))
        label.update(Text("Error" if entry.error is not None else "Result", end=""))
        if entry.status in ("running", "pending") and entry.result is None and entry.error is None:
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

    @on(DataTable.RowHighlighted, "#inspector-calls")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(self.entries.get(str(event.row_key.value)))

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
                                     result_message_id=event.result_message_id))
            case GuardrailFlagged() if event.message_id:
                key = _GUARD_PREFIX + event.message_id
                old = self.entries.get(key)
                base = old or CallEntry(key=key, kind="guardrail", name="guardrail", position=self._live_position(),
                                        message_id=event.message_id)
                self._upsert(replace(base, status=event.action, reason=event.reason))
            case _:
                return

    def _live_position(self) -> int:
        # Live rows belong to the newest turn: after everything loaded so far.
        return max((e.position for e in self.entries.values()), default=0) + 1

    def _upsert(self, entry: CallEntry) -> None:
        self.entries[entry.key] = entry
        if self.scope == "turn" and self._span is not None and entry.message_id != self.message_id:
            return  # a turn-scoped view shows only its own turn
        table = self.query_one("#inspector-calls", DataTable)
        cells = self._cells(entry)
        if entry.key in table.rows:
            for column, value in zip(("time", "tool", "status", "ms"), cells):
                table.update_cell(entry.key, column, value)
        else:
            table.add_row(*cells, key=entry.key)
        self.loaded = True
        self._set_title()
        current = self._current()
        if current is not None and current.key == entry.key or table.row_count == 1:
            self._show_detail(entry)

    # ---- actions

    def action_copy_arguments(self) -> None:
        """Copy the selected call's arguments (JSON) to the clipboard."""
        entry = self._current()
        if entry is None:
            return
        text = entry.arguments_json if entry.kind == "tool" else (entry.reason or "")
        self.app.copy_to_clipboard(text)
        self.notify("Arguments copied." if entry.kind == "tool" else "Reason copied.", markup=False)

    def action_copy_result(self) -> None:
        """Copy the selected call's result or error to the clipboard."""
        entry = self._current()
        if entry is None:
            return
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
