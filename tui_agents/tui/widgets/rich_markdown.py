"""Rich Markdown for the chat, made cheap enough to re-render ten times a second while a reply streams.

- ``markdown(text, code_theme, highlight=True)`` builds a Rich ``Markdown``
  with one shared parser: Rich builds a new markdown-it parser (with its
  linkify patterns) for every instance, which cost more than parsing a block.
  With ``highlight=False`` code blocks are drawn in the code theme's colours
  but without syntax highlighting (a third of the cost): the open block of a
  streaming reply is drawn that way and highlighted once it is finished.
- ``RenderOnce`` wraps a renderable and replays its segments while the width
  stays the same: Textual renders a widget's content once to measure its
  height and once more to paint it.
"""

from __future__ import annotations

import copy
from typing import Any

from rich.markdown import CodeBlock, Markdown

__all__ = ["markdown", "RenderOnce"]


class _PlainCodeBlock(CodeBlock):
    """A code block in the theme's colours, without syntax highlighting."""

    @classmethod
    def create(cls, markdown: Markdown, token: Any) -> CodeBlock:
        return cls("text", markdown.code_theme)


class _PlainCodeMarkdown(Markdown):
    """Markdown whose code blocks are not highlighted."""

    elements = {**Markdown.elements, "fence": _PlainCodeBlock, "code_block": _PlainCodeBlock}


_templates: dict[tuple[type, str], Markdown | None] = {}
_parser: Any = None


def _template(cls: type[Markdown], code_theme: str) -> Markdown | None:
    """An empty Markdown to copy, or None when this Rich version keeps its text elsewhere."""
    key = (cls, code_theme)
    if key not in _templates:
        global _parser
        template = cls("", code_theme=code_theme, hyperlinks=False)
        ok = getattr(template, "markup", None) == "" and isinstance(getattr(template, "parsed", None), list)
        if ok and _parser is None:
            from markdown_it import MarkdownIt

            _parser = MarkdownIt().enable("strikethrough").enable("table")
        _templates[key] = template if ok else None
    return _templates[key]


def markdown(text: str, code_theme: str, *, highlight: bool = True) -> Markdown:
    """A Rich Markdown of ``text`` (already sanitized), built with a shared parser."""
    cls = Markdown if highlight else _PlainCodeMarkdown
    template = _template(cls, code_theme)
    if template is None:  # pragma: no cover - a Rich version with other attribute names
        return cls(text, code_theme=code_theme, hyperlinks=False)
    md = copy.copy(template)
    md.markup = text
    md.parsed = _parser.parse(text)
    return md


class RenderOnce:
    """A renderable that renders the wrapped one once per width and replays the segments."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable
        self._cache: tuple[int, list[Any]] | None = None

    def __rich_console__(self, console: Any, options: Any) -> Any:
        if self._cache is None or self._cache[0] != options.max_width:
            self._cache = (options.max_width, list(console.render(self.renderable, options)))
        return self._cache[1]

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        return Measurement.get(console, options, self.renderable)
