"""Rendered Markdown of finished messages, kept in a bounded LRU so reopening a thread does not render it again.

A thread switch mounts the thread's last messages anew; without this cache
each visit parsed and rendered every Markdown segment again (markdown-it,
Rich's Markdown and Pygments: most of a switch's time). An entry is keyed by
the segment's text and code theme, holds the Rich segments of each width it
was drawn at (the two latest), and is shared by every view of that text.
The cache is bounded by the number of rendered lines it holds.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from textual._context import NoActiveAppError  # what `self.app` raises before the widget is mounted

from .message import MarkdownSegment, split_markdown

__all__ = ["RenderCache", "SavedSegment", "saved_segments", "code_theme", "MAX_LINES"]

MAX_LINES = 6_000
"""Rendered lines the cache keeps (about 150 screens; a line is a few Rich segments)."""
WIDTHS = 2
"""Widths kept per entry: the pane's width, and the one before a resize or a panel opened."""


class _Rendered:
    """A Markdown text rendered once per width and replayed (Textual renders to measure, then to paint)."""

    __slots__ = ("key", "owner", "widths", "lines")

    def __init__(self, key: tuple[str, str], owner: RenderCache) -> None:
        self.key = key
        self.owner = owner
        self.widths: dict[int, list[Any]] = {}
        self.lines = 0

    def _markdown(self) -> Any:
        from .rich_markdown import markdown

        return markdown(self.key[0], self.key[1])

    def __rich_console__(self, console: Any, options: Any) -> Any:
        width = options.max_width
        segments = self.widths.get(width)
        if segments is None:
            segments = list(console.render(self._markdown(), options))
            if len(self.widths) >= WIDTHS:
                old = self.widths.pop(next(iter(self.widths)))
                self.owner._grew(self, -_line_count(old))
            self.widths[width] = segments
            self.owner._grew(self, _line_count(segments))
        return segments

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        return Measurement.get(console, options, self._markdown())


def _line_count(segments: list[Any]) -> int:
    return sum(text.count("\n") for text, _, _ in segments) or 1


class RenderCache:
    """A bounded LRU of rendered Markdown texts, keyed by (text, code theme)."""

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self.max_lines = max_lines
        self.lines = 0
        self._entries: OrderedDict[tuple[str, str], _Rendered] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str, code_theme: str) -> _Rendered:
        """The shared renderable of ``text`` (already sanitized) in ``code_theme``."""
        key = (text, code_theme)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Rendered(key, self)
        else:
            self._entries.move_to_end(key)
        return entry

    def _grew(self, entry: _Rendered, lines: int) -> None:
        """Account for lines an entry rendered (or dropped), and evict the least recently used beyond the bound."""
        if self._entries.get(entry.key) is not entry:
            return  # evicted while still on screen: its widget keeps it, the cache no longer counts it
        entry.lines += lines
        self.lines += lines
        while self.lines > self.max_lines and len(self._entries) > 1:
            _, old = self._entries.popitem(last=False)
            self.lines -= old.lines


def code_theme(widget: Any) -> str:
    """The code theme of the app's current theme (dark: monokai)."""
    try:
        dark = widget.app.current_theme.dark
    except NoActiveAppError:  # built outside an app: the dark default, as MarkdownSegment does
        dark = True
    return "monokai" if dark else "default"


class SavedSegment(MarkdownSegment):
    """A segment of a finished message, drawn from the pane's ``RenderCache``."""

    def __init__(self, text: str, cache: RenderCache, *, gap: bool = False) -> None:
        self._cache = cache
        super().__init__(text, gap=gap)

    def set_text(self, text: str, *, keep_height: bool = False, highlight: bool = True) -> bool:
        """Show ``text`` (already sanitized) from the cache; a finished message is always highlighted."""
        self.source = text
        self.update(self._cache.get(text, code_theme(self)))
        return True


def saved_segments(content: str, cache: RenderCache | None, parts: list[str] | None = None) -> list[MarkdownSegment]:
    """The Markdown segments of a finished message's ``content`` (already sanitized; ``parts`` when already split)."""
    parts = split_markdown(content) if parts is None else parts
    if cache is None:
        return [MarkdownSegment(part, gap=i > 0) for i, part in enumerate(parts)]
    return [SavedSegment(part, cache, gap=i > 0) for i, part in enumerate(parts)]
