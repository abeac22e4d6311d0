"""The tool-call inspector: every tool call and guardrail verdict of a thread or of one turn.

``ToolInspector(messages, thread_id, message_id=None)`` (a ``MessageStore``) is a right-hand panel
widget. It reads the stored record (tool-result messages and their ``meta``,
paired with the assistant message's ``tool_calls``; guardrail verdicts on
messages), so it shows the same after a restart, and ``apply_event`` keeps it
live while a turn runs. Arguments, results and model text are untrusted: they
pass through ``sanitize`` and are rendered as plain ``Text``, never markup.

Its app-level key and palette entry are in ``tui/actions.py``; ``HELP`` is on
the widget.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tui_agents.events import GuardrailFlagged, ToolCallFinished, ToolCallStarted

from ...sanitize import sanitize
from ..widgets.text import load_tcss, plain
from ..widgets.virtual_table import VirtualTable

__all__ = ["CallEntry", "ToolInspector", "load_content", "load_entries"]

MAX_SHOWN_CHARS = 20_000  # a huge result is cut on screen; copying still gives all of it
_GUARD_PREFIX = "guard:"


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
    server: str | None = None
    """The MCP server that ran the tool (None for a local tool)."""

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
        server=meta.get("server"),
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
        # two short lines: one line of 56 columns was cut off in the 48-column side panel
        yield Static("c copy args · y copy result\ns turn/thread · esc close", id="inspector-keys",
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

    def follow(self, thread_id: str | None, new_chat_agent_id: str | None = None) -> None:
        """The ``Panel`` protocol: show the thread now open in the chat."""
        self.call_later(self.show, thread_id)

    def receive(self, event: Any) -> None:
        """The ``Panel`` protocol: a runner event of a turn (other threads' are ignored)."""
        self.apply_event(event)

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
                  "flagged": "warning", "declined": "warning", "cancelled": "warning"}.get(status, "error")
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
            if entry.server:
                text.append(f"\nserver   {sanitize(entry.server)} (MCP)")
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
                                  message_id=event.message_id, server=event.server)
                self._upsert(entry if old is None else replace(old, status="running", started_at=event.started_at))
            case ToolCallFinished():
                old = self.entries.get(event.call_id)
                base = old or CallEntry(key=event.call_id, kind="tool", name=event.name,
                                        position=self._live_position(), message_id=event.message_id)
                self._upsert(replace(base, name=event.name, arguments=event.arguments, result=event.result,
                                     error=event.error, status=event.status, duration_ms=event.duration_ms,
                                     result_message_id=event.result_message_id, content_loaded=True,
                                     server=event.server or base.server))
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
