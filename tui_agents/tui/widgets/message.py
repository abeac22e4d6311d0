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
from textual.widgets import Static

from ..sanitize import sanitize

__all__ = ["MessageView", "ToolCallLine", "StreamingBody", "Notice", "code_blocks"]

_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.S | re.M)
# A new Markdown segment may start at a line that opens a plain block after a blank line.
_NO_SPLIT_START = " \t-*+>|0123456789"
SEGMENT_LINES = 12
FLUSH_INTERVAL = 1 / 10


class MarkdownSegment(Static):
    """A run of Markdown blocks rendered by Rich (one widget, not one per block)."""

    DEFAULT_CSS = """
    MarkdownSegment { height: auto; padding: 0 1; }
    """

    def __init__(self, text: str = "") -> None:
        super().__init__(markup=False)
        self.source = text
        if text:
            self.set_text(text)

    def set_text(self, text: str) -> None:
        """Render ``text`` (already sanitized) as Markdown with highlighted code."""
        from rich.markdown import Markdown as RichMarkdown

        self.source = text
        dark = True
        try:
            dark = self.app.current_theme.dark
        except Exception:  # noqa: BLE001 - no app yet (built before mount)
            pass
        self.update(RichMarkdown(text, code_theme="monokai" if dark else "default", hyperlinks=False))


def split_markdown(text: str) -> list[str]:
    """Cut Markdown into runs of whole blocks (about SEGMENT_LINES lines each)."""
    router = _Router()
    out: list[str] = []
    current: list[str] = []
    for run in router.route(text):
        if run is None:
            out.append("".join(current))
            current = []
        else:
            current.append(run)
    out.append("".join(current))
    return [seg for seg in out if seg]


class _Router:
    """Finds where a new segment may start while text streams in, in one pass over each chunk."""

    def __init__(self) -> None:
        self.line: list[str] = []
        self.line_start = True
        self.prev_blank = False
        self.in_fence = False
        self.lines = 0

    def route(self, chunk: str) -> list[str | None]:
        """Split ``chunk`` into text runs; ``None`` marks where a new segment starts."""
        out: list[str | None] = []
        run: list[str] = []
        for piece in re.split(r"(\n)", chunk):
            if piece == "\n":
                line = "".join(self.line).strip()
                if line.startswith(("```", "~~~")):
                    self.in_fence = not self.in_fence
                self.prev_blank = line == ""
                self.lines += 1
                self.line = []
                self.line_start = True
                run.append(piece)
                continue
            if not piece:
                continue
            if (self.line_start and self.prev_blank and not self.in_fence
                    and self.lines >= SEGMENT_LINES and piece[0] not in _NO_SPLIT_START):
                out.append("".join(run))
                out.append(None)
                run = []
                self.lines = 0
            self.line_start = False
            self.line.append(piece)
            run.append(piece)
        out.append("".join(run))
        return out


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

    ``feed`` only buffers (constant cost per token); a timer renders the buffer
    at most ``1 / FLUSH_INTERVAL`` times a second. The reply is cut into
    segments of whole Markdown blocks: a flush re-renders only the last
    segment (bounded size) and mounts new ones, so the cost of a frame does
    not grow with the reply. Each segment is one widget rendered with Rich's
    Markdown: Textual's Markdown widget mounts one widget per block, and every
    reflow of a long reply then walks hundreds of widgets (measured: over 5 s
    to show 2,000 tokens).
    """

    DEFAULT_CSS = """
    StreamingBody { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[str] = []
        self._router = _Router()
        self._segment: MarkdownSegment | None = None
        self._segment_parts: list[str] = []
        self._done = False

    def on_mount(self) -> None:
        self._new_segment()
        self._timer = self.set_interval(FLUSH_INTERVAL, self._flush)

    def feed(self, text: str) -> None:
        """Queue a fragment of the reply (shown at the next frame)."""
        if text:
            self._pending.append(sanitize(text))

    def _new_segment(self) -> None:
        self._segment = MarkdownSegment()
        self._segment_parts = []
        self.mount(self._segment)

    def _flush(self) -> None:
        if not self._pending or self._segment is None:
            return
        chunk = "".join(self._pending)
        self._pending.clear()
        for run in self._router.route(chunk):
            if run is None:
                self._segment.set_text("".join(self._segment_parts))
                self._new_segment()
            elif run:
                self._segment_parts.append(run)
        if len(self._segment_parts) > 1:
            self._segment_parts[:] = ["".join(self._segment_parts)]
        self._segment.set_text(self._segment_parts[0] if self._segment_parts else "")

    async def finish(self) -> None:
        """Render what is left and stop the timer."""
        if self._done:
            return
        self._done = True
        if self._segment is None:
            self._new_segment()
        self._timer.stop()
        self._flush()

    @property
    def text(self) -> str:
        """What has been rendered so far."""
        return "".join(seg.source for seg in self.query(MarkdownSegment))


class MessageView(Vertical):
    """A message: header line and body; assistant text is Markdown, user text plain."""

    DEFAULT_CSS = """
    MessageView { height: auto; margin: 0 0 1 0; }
    MessageView > .header { color: $text-muted; padding: 0 1; height: 1; }
    MessageView.-user > .header { color: $accent; }
    MessageView > .user-body { padding: 0 1; height: auto; }
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
            for segment in split_markdown(content):
                yield MarkdownSegment(segment)
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
