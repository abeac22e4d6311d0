"""One message of the chat pane: a header (role, model, time) and its body.

Every string shown here comes from the store or the model and is untrusted: it
goes through ``sanitize`` and is rendered as ``Text`` or ``Markdown``, never as
markup.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual._context import NoActiveAppError  # what `self.app` raises before the widget is mounted
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from ...sanitize import sanitize
from .alternatives import alternatives_label
from .blank_rows import BlankRows
from .no_second_layout import NoSecondLayout
from .tool_line import ToolCallLine, only_calls
from .usage_footer import UsageFooter

__all__ = ["MessageView", "ToolCallLine", "StreamingBody", "Notice", "code_blocks"]

_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.S | re.M)
# A new Markdown segment may start at a line that opens a plain block after a blank line.
_NO_SPLIT_START = " \t-*+>|0123456789"
SEGMENT_LINES = 12
FLUSH_INTERVAL = 1 / 10
# A frame that makes the reply taller (a layout and a scroll of the whole chat pane) comes at most this often.
LAYOUT_INTERVAL = 1 / 3


class MarkdownSegment(NoSecondLayout, Static):
    """A run of Markdown blocks rendered by Rich (one widget, not one per block).

    A segment after another one keeps the blank line Rich puts between blocks
    (class ``-gap``), so a reply cut into segments looks like one Markdown text.
    """

    DEFAULT_CSS = """
    MarkdownSegment { height: auto; padding: 0 1; }
    MarkdownSegment.-gap { margin-top: 1; }
    """

    def __init__(self, text: str = "", *, gap: bool = False) -> None:
        super().__init__(markup=False, classes="-gap" if gap else "")
        self.source = text
        self.measured: tuple[int, int] = (0, 0)
        """(width, height) of the last render made while mounted."""
        if text:
            self.set_text(text)

    def set_text(self, text: str, *, keep_height: bool = False, highlight: bool = True) -> bool:
        """Render ``text`` (already sanitized) as Markdown (code highlighted unless ``highlight`` is false).

        Returns whether it was shown: with ``keep_height`` the text is shown only
        if the widget's height stays the same (else the caller retries later).
        A text of the same height repaints just this widget, without a layout of
        the chat pane (a layout, and the scroll that follows it, repaints the
        whole pane and costs several times more).
        """
        from .rich_markdown import RenderOnce, markdown as rich_markdown

        dark = True
        try:
            dark = self.app.current_theme.dark
        except NoActiveAppError:  # built before mount: the dark default
            pass
        markdown = RenderOnce(rich_markdown(text, "monokai" if dark else "default", highlight=highlight))
        # ``size`` is the content area (padding already off): the width Textual renders it at, so the render
        # made here to measure is the one painted (``RenderOnce``), not a second one at another width
        width = self.size.width if self.is_mounted else 0
        if width <= 0:
            self.source = text
            self.update(markdown)
            return True
        from textual.visual import visualize

        height = visualize(self, markdown, markup=False).get_height(self.styles, width)
        same = self.measured == (width, height)
        if keep_height and not same:
            return False
        self.source = text
        self.measured = (width, height)
        self.update(markdown, layout=not same)
        return True


def split_markdown(text: str) -> list[str]:
    """Cut Markdown into runs of whole blocks (about SEGMENT_LINES lines each)."""
    router = _Router(SEGMENT_LINES)
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
    """Finds where a new block (or segment) may start while text streams in, in one pass over each chunk.

    A cut is made only at the start of a line that follows a blank line outside
    a code fence and does not continue a list, quote or table, and only after
    ``min_lines`` lines since the last cut.
    """

    def __init__(self, min_lines: int = 0) -> None:
        self.min_lines = min_lines
        self.line: list[str] = []
        self.line_start = True
        self.prev_blank = False
        self.in_fence = False
        self.lines = 0

    def route(self, chunk: str) -> list[str | None]:
        """Split ``chunk`` into text runs; ``None`` marks where a new block starts."""
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
                    and self.lines >= self.min_lines and piece[0] not in _NO_SPLIT_START):
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


class StreamingBody(BlankRows, NoSecondLayout, Vertical):
    """The body of a reply that is still streaming.

    ``feed`` only buffers (constant cost per token); a timer renders the buffer
    at most ``1 / FLUSH_INTERVAL`` times a second, and pauses while nothing
    arrives. The reply is cut into Markdown blocks as it streams: finished
    blocks are gathered into segments of about SEGMENT_LINES lines, rendered
    once per block; only the open block (the tail) is rendered at each frame,
    so the cost of a frame does not grow with the reply. A frame that leaves
    the tail's height unchanged repaints just the tail, without a layout.
    Each segment is one widget rendered with Rich's Markdown: Textual's
    Markdown widget mounts one widget per block, and every reflow of a long
    reply then walks hundreds of widgets (measured: over 5 s to show 2,000
    tokens).
    """

    DEFAULT_CSS = """
    StreamingBody { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[str] = []
        self._router = _Router()
        self._tail = MarkdownSegment()
        self._tail_parts: list[str] = []
        self._new_blocks: list[str] = []  # finished blocks not yet moved out of the tail on screen
        self._blocks: MarkdownSegment | None = None
        self._block_parts: list[str] = []
        self._block_lines = 0
        self._timer: Timer | None = None
        self._last_layout = float("-inf")
        self._tail_plain = False  # the tail shows code without highlighting
        self._done = False

    def compose(self) -> ComposeResult:
        yield self._tail

    def on_mount(self) -> None:
        self._timer = self.set_interval(FLUSH_INTERVAL, self._flush, pause=not self._pending)

    def feed(self, text: str) -> None:
        """Queue a fragment of the reply (shown at the next frame)."""
        if text:
            self._pending.append(sanitize(text))
            if self._timer is not None and not self._done:
                self._timer.resume()

    def _take_pending(self) -> None:
        """Route the queued text into finished blocks and the open tail."""
        if not self._pending:
            return
        chunk = "".join(self._pending)
        self._pending.clear()
        for run in self._router.route(chunk):
            if run is None:
                self._new_blocks.append("".join(self._tail_parts))
                self._tail_parts = []
            elif run:
                self._tail_parts.append(run)
        if len(self._tail_parts) > 1:
            self._tail_parts[:] = ["".join(self._tail_parts)]

    def _close_block(self, block: str, new: list[MarkdownSegment]) -> None:
        """Append a finished block to the current closed segment (or a new one, added to ``new`` for mounting)."""
        if self._blocks is None or self._block_lines >= SEGMENT_LINES:
            if self._blocks is not None and "".join(self._block_parts) != self._blocks.source:
                self._blocks.set_text("".join(self._block_parts))  # its last blocks, before moving on
            self._blocks = MarkdownSegment(gap=self._blocks is not None)
            self._block_parts = []
            self._block_lines = 0
            new.append(self._blocks)
        self._block_parts.append(block)
        self._block_lines += block.count("\n")

    def _flush(self, force: bool = False) -> None:
        """Show what arrived: at most LAYOUT_INTERVAL apart when the height changes, else at once."""
        self._take_pending()
        tail = self._tail_parts[0] if self._tail_parts else ""
        if not self._new_blocks and tail == self._tail.source:
            if self._timer is not None:
                self._timer.pause()
            return
        now = time.monotonic()
        may_grow = force or now - self._last_layout >= LAYOUT_INTERVAL
        if self._new_blocks and not may_grow:
            return  # a block moves out of the tail: that changes heights; wait for the next slot
        laid_out = bool(self._new_blocks)
        if self._new_blocks:
            new: list[MarkdownSegment] = []
            for block in self._new_blocks:
                self._close_block(block, new)
            self._new_blocks.clear()
            if len(self._block_parts) > 1:
                self._block_parts[:] = ["".join(self._block_parts)]
            assert self._blocks is not None
            self._blocks.set_text(self._block_parts[0])
            if new:
                # one mount for all: Textual then works out their CSS once (a reply that came at full speed
                # has all its blocks closed at its end, ~20 segments for 2,000 tokens)
                self.mount(*new, before=self._tail)
        gap = self._blocks is not None and bool(tail)
        if self._tail.has_class("-gap") != gap:
            if not may_grow:
                return  # the blank row above the tail comes or goes: a new height too, so it waits for its slot
            self._tail.set_class(gap, "-gap")
            laid_out = True
        measured = self._tail.measured
        # The open block's code is highlighted once it is finished: highlighting is two thirds of its cost.
        if self._tail.set_text(tail, keep_height=not may_grow, highlight=self._done):
            self._tail_plain = not self._done
            laid_out = laid_out or self._tail.measured != measured
        if laid_out:
            self._last_layout = now

    async def finish(self) -> None:
        """Render what is left and stop the timer."""
        if self._done:
            return
        self._done = True
        if self._timer is not None:
            self._timer.stop()
        self._flush(force=True)
        if self._tail_plain:
            self._tail.set_text(self._tail.source)  # now with highlighted code
            self._tail_plain = False

    @property
    def text(self) -> str:
        """What has been rendered so far."""
        return "".join(seg.source for seg in self.query(MarkdownSegment))


def _again_key(view: Any) -> str:
    """The key that regenerates the last reply now (after a keymap remap, the remapped one)."""
    from .. import actions

    action = actions.by_action("regenerate")
    try:
        keymap = getattr(getattr(view.app, "config", None), "keymap", None)
    except Exception:  # noqa: BLE001 - no running app (a view built outside one): the default key
        keymap = None
    return (actions.keys_in_effect(action, keymap).split(",")[0].strip() if action else "") or "ctrl+r"


class MessageView(BlankRows, NoSecondLayout, Widget):
    """A message: header line and body; assistant text is Markdown, user text plain.

    A finished message with nothing to click (no thoughts, tool call or images) and a body of one
    Markdown segment is one widget that draws its header, body, status and usage line itself
    (``compact``): a thread's screen of short messages mounts a third of the widgets. Any other
    message is a container of a header, a body and its extras.
    """

    DEFAULT_CSS = """
    MessageView { width: 1fr; height: auto; margin: 0 0 1 0; overflow: hidden hidden; }
    MessageView.-compact { padding: 0 1; }
    MessageView > .header { color: $text-muted; padding: 0 1; height: 1; }
    MessageView.-user > .header { color: $accent; }
    MessageView > .user-body { padding: 0 1; height: auto; }
    MessageView.-selected { background: $boost; border-left: thick $accent; }
    MessageView > .status { color: $warning; padding: 0 1; height: auto; }
    MessageView.-joined > .header { display: none; }
    MessageView.-joined-below { margin: 0; }
    """

    def __init__(self, record: dict[str, Any], format_time: Callable[[float], str], *, streaming: bool = False,
                 alternatives: dict[str, Any] | None = None, render_cache: Any = None, joined: bool = False) -> None:
        self.record = dict(record)
        self.joined = joined
        """Whether the message continues the reply above it (a tool round): drawn as part of it, no header."""
        self.content = sanitize(self.record.get("content") or "")
        self.parts = split_markdown(self.content) if self.role == "assistant" and not streaming else []
        """The text, sanitized, and a finished reply's Markdown segments."""
        self.compact = not streaming and self._fits_one_widget()
        """Whether the view draws itself (one widget) rather than holding a header and body widgets."""
        role = record.get("role", "assistant")
        super().__init__(classes=f"-{role} -compact" if self.compact else f"-{role}")
        self.set_class(joined, "-joined")
        self.render_cache = render_cache
        """The pane's ``render_cache.RenderCache`` for finished Markdown, or None."""
        self.alternatives = alternatives
        """The reply's alternatives (``{"index", "count", "message_ids"}``) when it was regenerated."""
        self.format_time = format_time
        self.streaming = streaming
        self.body: StreamingBody | None = None
        self.tool_lines: dict[str, ToolCallLine] = {}
        self.thoughts: Any = None  # widgets/thoughts.py's block, when the model thought
        self._drawn: tuple[Any, Any] | None = None  # a compact view's visual, by its background and parts' styles
        self._code_theme: str | None = None

    def _fits_one_widget(self) -> bool:
        record = self.record
        if self.role == "tool" or record.get("images") or record.get("thinking") or self.joined or only_calls(record):
            return False
        return self.role != "assistant" or len(self.parts) <= 1

    @property
    def message_id(self) -> str | None:
        return self.record.get("id")

    @property
    def role(self) -> str:
        return self.record.get("role", "assistant")

    def header_text(self) -> Text:
        record = self.record
        parts = [_role_label(self.role)]
        if alternatives_label(self.alternatives):  # before the model and time: a narrow pane cuts the end
            parts.append(alternatives_label(self.alternatives))
        if record.get("model") and self.role == "assistant":
            parts.append(sanitize(record["model"]))
        if record.get("created_at"):
            parts.append(self.format_time(record["created_at"]))
        return Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")

    def status_text(self) -> str | None:
        status = self.record.get("status")
        reason = (self.record.get("meta") or {}).get("interrupted_reason")
        if status == "interrupted" and reason == "app_closed":
            return f"⏹ interrupted: the app closed while this reply was streaming\n  {_again_key(self)} answers again"
        if status == "interrupted" and reason == "app_quit":
            return f"⏹ interrupted: you quit while this reply was streaming\n  {_again_key(self)} answers again"
        if status == "interrupted":
            return f"⏹ interrupted: the reply was stopped before it finished\n  {_again_key(self)} answers again"
        if status == "error":
            return "⚠ the reply failed before it finished"
        if status == "streaming" and not self.streaming:  # this app's own replies stream in a streaming view
            return "⋯ still arriving from another process (ask, a second app)"
        return None

    def render(self) -> Any:
        if not self.compact:
            return super().render()
        from .compact import compact_visual, part_style, same_styles

        background = self.background_colors[1]
        # the pane's part styles are new objects whenever its CSS is applied again (a theme switch)
        key = (background, tuple(getattr(self.parent, "_component_styles", {}).values()))
        if self._drawn is None or not same_styles(self._drawn[0], key):
            parts = ("user-header" if self.role == "user" else "header", "status", "usage")
            self._drawn = (key, compact_visual(self, *(part_style(self, part, background) for part in parts)))
        return self._drawn[1]

    def get_selection(self, selection: Any) -> tuple[str, str] | None:
        if not self.compact:
            return super().get_selection(selection)
        visual = self._render()
        return selection.extract(visual.selection_text(self.content_region.width)), "\n"  # type: ignore[attr-defined]

    @property
    def markdown_shown(self) -> str:
        """The Markdown source the view shows (what has streamed so far, for a streaming reply)."""
        if self.compact:
            return "".join(self.parts)
        return "".join(seg.source for seg in self.query(MarkdownSegment))

    def markdown(self, text: str) -> Any:
        """``text`` (a finished segment) as Rich Markdown, from the pane's render cache when there is one."""
        from .render_cache import code_theme

        if self._code_theme is None:  # the theme's at the first draw, as a segment keeps its own
            self._code_theme = code_theme(self)
        if self.render_cache is not None:
            return self.render_cache.get(text, self._code_theme)
        from .rich_markdown import RenderOnce
        from .rich_markdown import markdown as rich_markdown

        return RenderOnce(rich_markdown(text, self._code_theme))

    def compose(self) -> ComposeResult:
        if self.compact:
            return
        yield Static(self.header_text(), classes="header", markup=False)
        role = self.role
        content = self.content
        if role == "tool":
            meta = self.record.get("meta") or {}
            yield ToolCallLine(meta.get("name") or "tool", meta.get("status") or "ok", meta.get("duration_ms"),
                               meta.get("arguments"), self.record.get("content"))
        elif role == "assistant" and self.streaming:
            self.body = StreamingBody()
            yield self.body
        elif role == "assistant":
            from .thoughts import Thoughts

            self.thoughts = Thoughts.saved(self.record)
            if self.thoughts is not None:
                yield self.thoughts
            from .render_cache import saved_segments

            yield from saved_segments(content, self.render_cache, self.parts)
        else:
            yield Static(Text(content), classes="user-body", markup=False)
            if self.record.get("images"):
                from .attachments import ImagesLine

                yield ImagesLine(self.record["images"])
        status = self.status_text()
        if status:
            yield Static(Text(status), classes="status", markup=False)
        if role == "assistant" and not self.streaming and self.record.get("usage") and not only_calls(self.record):
            # a round of calls only: its answer's footer follows, as under a live reply
            yield UsageFooter(self.record)

    async def show_usage(self, record: dict[str, Any], provider: str | None = None) -> None:
        """Show the finished reply's usage line (from its stored record)."""
        if record.get("usage") and not self.query(UsageFooter):
            await self.mount(UsageFooter(record, provider))

    def feed(self, text: str) -> None:
        """Append streamed text (the view must have been built with ``streaming=True``)."""
        if self.body is not None:
            self.body.feed(text)
        if self.thoughts is not None and text:
            self.thoughts.answer_started()

    def feed_thinking(self, text: str) -> None:
        """Append streamed thinking to the thoughts block above the reply (made at its first fragment)."""
        if self.thoughts is None or not self.thoughts.streaming:
            from .thoughts import Thoughts  # here, not per fragment

            self.thoughts = Thoughts(streaming=True)
            if self.body is not None:
                self.mount(self.thoughts, before=self.body)
            else:
                self.mount(self.thoughts)
        self.thoughts.feed(text)

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
        if self.thoughts is not None:
            await self.thoughts.finish((self.record.get("meta") or {}).get("thinking_ms"))
        self.streaming = False
        note = self.status_text()
        if note and not self.query(".status"):
            await self.mount(Static(Text(note), classes="status", markup=False))

    def set_alternatives(self, info: dict[str, Any] | None) -> None:
        """Show the reply's alternatives (``◂ 2/3 ▸``) in its header."""
        self.alternatives = info
        if self.compact:
            self._drawn = None
            self.refresh()
        for header in self.query(".header"):
            header.update(self.header_text())  # type: ignore[attr-defined]

    def set_id(self, message_id: str) -> None:
        self.record["id"] = message_id
