"""A finished message drawn by its own view, as one widget: header, body, status and usage line.

A thread's screen of short messages was three widgets a message (the view, a header ``Static``
and a body); mounting, styling and laying out those widgets was most of the cost of opening a
thread. ``CompactVisual`` draws the same lines from one widget. Plain text (header, a user's
text, status and usage lines) is Textual ``Content``, so it is selected with the mouse and
copied as in a ``Static``; Markdown is drawn by Rich, as ``MarkdownSegment`` draws it.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.color import Color
from textual.content import Content
from textual.geometry import Offset
from textual.selection import Selection
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, RichVisual, Visual

__all__ = ["CompactVisual", "compact_visual", "part_style", "same_styles"]


def part_style(widget: Any, part: str, background: Color) -> Style:
    """The style of a part of a compact view: the pane's ``chat-pane--<part>`` CSS, on ``background``.

    The pane holds these rules (as component classes) once: a view's own component classes
    would cost a style pass per class at every mount.
    """
    try:
        widget.parent.style_parts()  # done right after the first frame; a view drawn before that does it
        styles = widget.parent.get_component_styles(f"chat-pane--{part}")
    except (AttributeError, KeyError):  # not in a chat pane
        return Style()
    color = styles.color
    if styles.has_rule("auto_color") and styles.auto_color:
        color = background.get_contrast_text(color.a)
    return Style.from_rich_style(RichStyle.from_color((background + color).rich_color) + styles.text_style)


def same_styles(old: tuple[Any, tuple[Any, ...]], new: tuple[Any, tuple[Any, ...]]) -> bool:
    """Same background colour and the very same part-style objects (compared by identity: cheap)."""
    return old[0] == new[0] and len(old[1]) == len(new[1]) and all(a is b for a, b in zip(old[1], new[1]))


def compact_visual(view: Any, header_style: Style, status_style: Style, usage_style: Style) -> CompactVisual:
    """The header, body, status and usage line of a compact ``MessageView``, as one visual."""
    from .usage_footer import UsageFooter

    header = Content.styled(view.header_text().plain, header_style)
    if view.role != "assistant":
        body: Any = Content(view.content)
    else:
        body = view.markdown(view.parts[0]) if view.parts else None
    tail = [Content.styled(status, status_style)] if (status := view.status_text()) else []
    if view.role == "assistant" and view.record.get("usage"):
        usage = UsageFooter.line_for(view.app, view.record)
        tail += [Content.styled(usage, usage_style)] if usage else []
    return CompactVisual(view, header, body, Content("\n").join(tail) if tail else None)


class CompactVisual(Visual):
    """A header line (cut with an ellipsis), a body (``Content`` or a Rich renderable) and tail lines."""

    def __init__(self, widget: Any, header: Content, body: Content | Any | None, tail: Content | None) -> None:
        self._header = header
        self._rich = None if body is None or isinstance(body, Content) else RichVisual(widget, body)
        self._body = body if isinstance(body, Content) else None
        self._tail = tail
        self._text: tuple[int, Content] | None = None

    def _plain(self, width: int) -> Content:
        """All of it as one ``Content`` (a plain body), its header cut to ``width``."""
        if self._text is None or self._text[0] != width:
            parts: list[Content | str] = [self._header.truncate(width, ellipsis=True)]
            if self._body is not None:
                parts += ["\n", self._body]
            if self._tail is not None:
                parts += ["\n", self._tail]
            self._text = (width, Content.assemble(*parts))
        return self._text[1]

    def selection_text(self, width: int) -> str:
        """The text a mouse selection is taken from (line by line, as the offsets in the strips count them)."""
        if self._rich is None:
            return self._plain(width).plain
        lines = [self._header.truncate(width, ellipsis=True).plain]
        lines += [""] * self._rich.get_height({}, width)  # type: ignore[arg-type]  # Markdown is not selectable
        if self._tail is not None:
            lines.append(self._tail.plain)
        return "\n".join(lines)

    def get_optimal_width(self, rules: Any, container_width: int) -> int:
        return container_width

    def get_height(self, rules: Any, width: int) -> int:
        if self._rich is None:
            return self._plain(width).get_height(rules, width)
        tail = self._tail.get_height(rules, width) if self._tail is not None else 0
        return 1 + self._rich.get_height(rules, width) + tail

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        if self._rich is None:
            return self._plain(width).render_strips(width, height, style, options)
        strips = self._header.truncate(width, ellipsis=True).render_strips(width, 1, style, options)
        strips += self._rich.render_strips(width, None, style, options)
        if self._tail is not None:
            rows = len(strips)
            tail_options = RenderOptions(options.get_style, options.rules, _shifted(options.selection, rows),
                                         options.selection_style, options.post_style)
            strips += [_offset_rows(strip, rows) for strip in self._tail.render_strips(width, None, style, tail_options)]
        return strips if height is None else strips[:height]


def _shifted(selection: Selection | None, rows: int) -> Selection | None:
    """``selection`` as seen by lines drawn ``rows`` below the top (None when it ends above them)."""
    if selection is None:
        return None
    start, end = selection
    if end is not None and end.y < rows:
        return None
    start = None if start is None or start.y < rows else Offset(start.x, start.y - rows)
    end = None if end is None else Offset(end.x, end.y - rows)
    return Selection(start, end)


def _offset_rows(strip: Strip, rows: int) -> Strip:
    """``strip`` with the line numbers of its selection offsets moved down by ``rows``."""
    segments = []
    for text, style, control in strip:
        offset = style.meta.get("offset") if style is not None and style._meta else None
        if offset is not None:
            style = style + RichStyle.from_meta({"offset": (offset[0], offset[1] + rows)})  # type: ignore[operator]
        segments.append(Segment(text, style, control))
    return Strip(segments, strip.cell_length)
