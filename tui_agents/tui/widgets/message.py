"""One message of the chat pane: a header (role, model, time) and its body.

Every string shown here comes from the store or the model and is untrusted: it
goes through ``sanitize`` and is rendered as ``Text`` or ``Markdown``, never as
markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Markdown, Static

from ..sanitize import sanitize

__all__ = ["MessageView", "ToolCallLine", "StreamingBody", "Notice", "code_blocks"]

_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.S | re.M)
# A new Markdown segment may start at a line that opens a plain block after a blank line.
_NO_SPLIT_START = " \t-*+>|0123456789"
SEGMENT_LINES = 40
FLUSH_INTERVAL = 1 / 20


def code_blocks(text: str) -> list[str]:
    """The contents of the fenced code blocks of a Markdown text."""
    return [m.group(2) for m in _FENCE.finditer(text or "")]


def _role_label(role: str) -> str:
    return {"user": "You", "assistant": "Assistant", "tool": "Tool", "system": "System"}.get(role, role)


class ToolCallLine(Static, can_focus=False):
    """A compact, click-to-expand line for one tool call: name, status, duration."""

    DEFAULT_CSS = """
    ToolCallLine { color: $text-muted; padding: 0 1; height: auto; }
    ToolCallLine.-error { color: $error; }
    """

    def __init__(self, name: str, status: str, duration_ms: float | None, arguments: Any = None,
                 result: str | None = None, call_id: str | None = None) -> None:
        super().__init__()
        self.call_id = call_id
        self.tool_name = sanitize(name)
        self.status = status
        self.duration_ms = duration_ms
        self.arguments = arguments
        self.result = result
        self.expanded = False
        self.set_class(status in ("error", "timeout"), "-error")

    def finish(self, status: str, duration_ms: float | None, result: str | None) -> None:
        """Show the call's outcome."""
        self.status, self.duration_ms, self.result = status, duration_ms, result
        self.set_class(status in ("error", "timeout"), "-error")
        self.refresh(layout=True)

    def render(self) -> Text:
        arrow = "▾" if self.expanded else "▸"
        took = f" · {self.duration_ms:.0f} ms" if self.duration_ms is not None else ""
        line = Text(f"{arrow} ⚙ {self.tool_name} · {self.status}{took}")
        if self.expanded:
            args = json.dumps(self.arguments, ensure_ascii=False, indent=1) if self.arguments else "{}"
            line.append("\n  arguments: " + sanitize(args).replace("\n", "\n  "))
            if self.result is not None:
                line.append("\n  result: " + sanitize(self.result[:2000]).replace("\n", "\n  "))
        return line

    def on_click(self) -> None:
        self.expanded = not self.expanded
        self.refresh(layout=True)


class Notice(Static):
    """A readable notice in the thread (errors, interruptions), optionally with a retry action."""

    DEFAULT_CSS = """
    Notice { color: $warning; padding: 0 1; margin: 0 0 1 0; height: auto; }
    Notice.-error { color: $error; }
    """

    class Retry(Message):
        """The user asked to retry the turn of ``thread_id``."""

        def __init__(self, thread_id: str) -> None:
            super().__init__()
            self.thread_id = thread_id

    def __init__(self, text: str, *, thread_id: str | None = None, error: bool = True) -> None:
        suffix = "  [Retry: click or f5]" if thread_id else ""
        super().__init__(Text("⚠ " + sanitize(text) + suffix), markup=False)
        self.thread_id = thread_id
        self.set_class(error, "-error")

    def on_click(self) -> None:
        if self.thread_id:
            self.post_message(self.Retry(self.thread_id))


class StreamingBody(Vertical):
    """The body of a reply that is still streaming.

    ``feed`` only buffers (constant cost per token); a timer writes the buffer
    to a ``MarkdownStream`` at most ``1 / FLUSH_INTERVAL`` times a second. Long
    replies are split into Markdown segments at block boundaries, so each write
    re-parses a bounded tail, never the whole reply.
    """

    DEFAULT_CSS = """
    StreamingBody { height: auto; }
    StreamingBody > Markdown { margin: 0; padding: 0 1 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[str] = []
        self._segment: Markdown | None = None
        self._stream: Any = None
        self._segment_parts: list[str] = []
        self._line_start = True
        self._line: list[str] = []
        self._prev_blank = False
        self._in_fence = False
        self._segment_lines = 0
        self._flushing = False
        self._done = False

    async def on_mount(self) -> None:
        await self._new_segment()
        self._timer = self.set_interval(FLUSH_INTERVAL, self._flush)

    def feed(self, text: str) -> None:
        """Queue a fragment of the reply (shown at the next frame)."""
        if text:
            self._pending.append(sanitize(text))

    async def _new_segment(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
        self._segment = Markdown(open_links=False)
        self._segment_parts = []
        self._segment_lines = 0
        await self.mount(self._segment)
        self._stream = Markdown.get_stream(self._segment)

    def _route(self, chunk: str) -> list[str | None]:
        """Split ``chunk`` into text runs; ``None`` marks where a new segment starts."""
        out: list[str | None] = []
        run: list[str] = []
        for piece in re.split(r"(\n)", chunk):
            if piece == "\n":
                line = "".join(self._line).strip()
                if line.startswith(("```", "~~~")):
                    self._in_fence = not self._in_fence
                self._prev_blank = line == ""
                self._segment_lines += 1
                self._line = []
                self._line_start = True
                run.append(piece)
                continue
            if not piece:
                continue
            if (self._line_start and self._prev_blank and not self._in_fence
                    and self._segment_lines >= SEGMENT_LINES and piece[0] not in _NO_SPLIT_START):
                out.append("".join(run))
                out.append(None)
                run = []
            self._line_start = False
            self._line.append(piece)
            run.append(piece)
        out.append("".join(run))
        return out

    async def _flush(self) -> None:
        if self._flushing or not self._pending:
            return
        self._flushing = True
        try:
            chunk = "".join(self._pending)
            self._pending.clear()
            for run in self._route(chunk):
                if run is None:
                    await self._new_segment()
                elif run:
                    self._segment_parts.append(run)
                    await self._stream.write(run)
        finally:
            self._flushing = False

    async def finish(self) -> None:
        """Write what is left, stop the stream and render the last segment once in full."""
        if self._done:
            return
        self._done = True
        self._timer.stop()
        while self._flushing:
            await self._flush_wait()
        await self._flush()
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if self._segment is not None:
            await self._segment.update("".join(self._segment_parts))

    async def _flush_wait(self) -> None:
        import asyncio

        await asyncio.sleep(0.01)


class MessageView(Vertical):
    """A message: header line and body; assistant text is Markdown, user text plain."""

    DEFAULT_CSS = """
    MessageView { height: auto; margin: 0 0 1 0; }
    MessageView > .header { color: $text-muted; padding: 0 1; height: 1; }
    MessageView.-user > .header { color: $accent; }
    MessageView > .user-body { padding: 0 1; height: auto; }
    MessageView > Markdown { margin: 0; padding: 0 1 0 1; }
    MessageView.-selected { background: $boost; border-left: thick $accent; }
    MessageView > .status { color: $warning; padding: 0 1; height: auto; }
    """

    def __init__(self, record: dict[str, Any], format_time: Callable[[float], str], *, streaming: bool = False) -> None:
        super().__init__(classes=f"-{record.get('role', 'assistant')}")
        self.record = dict(record)
        self.format_time = format_time
        self.streaming = streaming
        self.body: StreamingBody | None = None
        self.tool_lines: dict[str, ToolCallLine] = {}

    @property
    def message_id(self) -> str | None:
        return self.record.get("id")

    @property
    def role(self) -> str:
        return self.record.get("role", "assistant")

    def header_text(self) -> Text:
        record = self.record
        parts = [_role_label(self.role)]
        if record.get("model") and self.role == "assistant":
            parts.append(sanitize(record["model"]))
        if record.get("created_at"):
            parts.append(self.format_time(record["created_at"]))
        return Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")

    def status_text(self) -> str | None:
        status = self.record.get("status")
        if status == "interrupted":
            return "⏹ interrupted: the reply was stopped before it finished"
        if status == "error":
            return "⚠ the reply failed before it finished"
        return None

    def compose(self) -> ComposeResult:
        yield Static(self.header_text(), classes="header", markup=False)
        role = self.role
        content = sanitize(self.record.get("content") or "")
        if role == "tool":
            meta = self.record.get("meta") or {}
            yield ToolCallLine(meta.get("name") or "tool", meta.get("status") or "ok", meta.get("duration_ms"),
                               meta.get("arguments"), self.record.get("content"))
        elif role == "assistant" and self.streaming:
            self.body = StreamingBody()
            yield self.body
        elif role == "assistant":
            if content:
                yield Markdown(content, open_links=False)
        else:
            yield Static(Text(content), classes="user-body", markup=False)
        status = self.status_text()
        if status:
            yield Static(Text(status), classes="status", markup=False)

    def feed(self, text: str) -> None:
        """Append streamed text (the view must have been built with ``streaming=True``)."""
        if self.body is not None:
            self.body.feed(text)

    async def add_tool_call(self, call_id: str, name: str, arguments: Any) -> None:
        """Show a tool call that started."""
        line = ToolCallLine(name, "running", None, arguments, call_id=call_id)
        self.tool_lines[call_id] = line
        await self.mount(line)

    def finish_tool_call(self, call_id: str, status: str, duration_ms: float, result: str | None) -> None:
        """Show a tool call's outcome."""
        line = self.tool_lines.get(call_id)
        if line is not None:
            line.finish(status, duration_ms, result)

    async def finish(self, status: str, text: str | None = None) -> None:
        """End streaming with ``status`` (complete, interrupted, error)."""
        self.record["status"] = status
        if text is not None:
            self.record["content"] = text
        if self.body is not None:
            await self.body.finish()
        self.streaming = False
        note = self.status_text()
        if note and not self.query(".status"):
            await self.mount(Static(Text(note), classes="status", markup=False))

    def set_id(self, message_id: str) -> None:
        self.record["id"] = message_id
