"""The model's thoughts above a reply: a block that streams while the model thinks and folds once it answers.

While thinking, the block is open and its text streams through the reply's own
``StreamingBody`` (buffered, rendered at most ten times a second, only the open
block re-rendered), so a thought costs per token what the reply costs. The
first reply text folds it to one line ("▸ Thought for 12 s"); a click or the
``thoughts.expand`` key opens it again. A saved reply's thoughts start folded
and render only when first opened. The app hides every block at once with the
``-hide-thoughts`` class on the screen (the ``thoughts.toggle`` key).
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ...sanitize import sanitize
from .message import MarkdownSegment, StreamingBody, split_markdown
from .no_second_layout import NoSecondLayout

__all__ = ["Thoughts", "thought_for"]


def thought_for(ms: float | None) -> str:
    """"Thought for 12 s" (or "Thought" when the time is unknown)."""
    if ms is None:
        return "Thought"
    seconds = ms / 1000
    if seconds < 1:
        return "Thought for under a second"
    if seconds < 60:
        return f"Thought for {seconds:.0f} s"
    return f"Thought for {int(seconds // 60)} min {seconds % 60:.0f} s"


class ThoughtsHeader(Static, can_focus=False):
    """The block's one line: an arrow, and "Thinking…" or how long the model thought."""

    def on_click(self) -> None:
        parent = self.parent
        if isinstance(parent, Thoughts):
            parent.toggle()


class Thoughts(NoSecondLayout, Vertical):
    """Collapsible thoughts of one reply; ``feed`` while streaming, ``answer_started`` folds it."""

    SCOPED_CSS = False  # the hide rule starts at the screen
    DEFAULT_CSS = """
    Thoughts { height: auto; margin: 0 1 0 1; border-left: wide $primary 40%; color: $text-muted; }
    Thoughts > ThoughtsHeader { height: 1; padding: 0 1; color: $text-muted; text-style: italic; }
    Thoughts > .thoughts-body { height: auto; color: $text-muted; }
    Thoughts.-collapsed > .thoughts-body { display: none; }
    Screen.-hide-thoughts Thoughts { display: none; }
    """

    def __init__(self, text: str = "", *, thinking_ms: float | None = None, streaming: bool = False) -> None:
        super().__init__(classes="" if streaming else "-collapsed")
        self.streaming = streaming
        self.thinking_ms = thinking_ms
        self._saved = text  # a saved reply's thoughts: rendered on first expand
        self._started = time.monotonic()
        self.header = ThoughtsHeader("", markup=False)
        self.body: StreamingBody | Vertical = StreamingBody() if streaming else Vertical()
        self.body.add_class("thoughts-body")
        self._rendered = streaming
        self._parts: list[str] = []  # what streamed, kept to render the folded block when it is opened

    @classmethod
    def saved(cls, record: dict) -> Thoughts | None:
        """The folded thoughts of a saved reply (None when it has none)."""
        text = record.get("thinking")
        if not text:
            return None
        meta = record.get("meta") or {}
        return cls(text, thinking_ms=meta.get("thinking_ms"))

    @property
    def collapsed(self) -> bool:
        return self.has_class("-collapsed")

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.body

    def on_mount(self) -> None:
        self._show_header()

    def _show_header(self) -> None:
        arrow = "▸" if self.collapsed else "▾"
        label = "Thinking…" if self.streaming else thought_for(self.thinking_ms)
        self.header.update(Text(f"{arrow} {label}", no_wrap=True, overflow="ellipsis"))

    def feed(self, text: str) -> None:
        """Queue a fragment of thinking (shown at the next frame, like the reply's text)."""
        if isinstance(self.body, StreamingBody):
            self._parts.append(text)
            self.body.feed(text)

    def answer_started(self) -> None:
        """The reply's text began: the thinking is over, fold the block.

        The streaming body goes (its timer with it) and the thought is kept as text, rendered again only
        if the block is opened: the last frames of a folded thought would be work nobody sees.
        """
        if not self.streaming:
            return
        self.streaming = False
        if self.thinking_ms is None:
            self.thinking_ms = (time.monotonic() - self._started) * 1000
        self._fold_streamed()
        self.add_class("-collapsed")
        self._show_header()

    def _fold_streamed(self) -> None:
        if isinstance(self.body, StreamingBody):
            self._saved = "".join(self._parts)
            self._parts = []
            self.body.remove()
            self.body = Vertical(classes="thoughts-body")
            self.mount(self.body)
            self._rendered = False

    async def finish(self, thinking_ms: float | None = None) -> None:
        """The reply ended: render what is left and show the saved thinking time."""
        if thinking_ms is not None:
            self.thinking_ms = thinking_ms
        was_streaming = self.streaming
        self.streaming = False
        if was_streaming and self.thinking_ms is None:
            self.thinking_ms = (time.monotonic() - self._started) * 1000
        if isinstance(self.body, StreamingBody):
            if self.collapsed:
                self._fold_streamed()
            else:  # a turn that ended while thinking (stopped, failed, only thoughts): show it all
                await self.body.finish()
        self._show_header()

    def toggle(self) -> None:
        """Open or fold the block (a saved reply's text is rendered the first time it opens)."""
        if self.collapsed and not self._rendered:
            self._rendered = True
            segments = [MarkdownSegment(seg, gap=i > 0) for i, seg in enumerate(split_markdown(sanitize(self._saved)))]
            self.body.mount_all(segments)
        self.toggle_class("-collapsed")
        self._show_header()

    @property
    def text(self) -> str:
        """The thoughts shown so far (or saved, for a reply loaded from the store)."""
        if isinstance(self.body, StreamingBody):
            return "".join(self._parts)
        return self._saved
