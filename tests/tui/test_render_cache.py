"""The render cache of finished Markdown: same lines as a fresh render, bounded, least recently used first out."""

from __future__ import annotations

from rich.console import Console

from tui_agents.tui.widgets.render_cache import RenderCache
from tui_agents.tui.widgets.rich_markdown import markdown


def _lines(console: Console, renderable, width: int) -> list[str]:
    options = console.options.update_width(width)
    return ["".join(seg.text for seg in line) for line in console.render_lines(renderable, options)]


TEXT = "# Title\n\nSome *text* that wraps " + "word " * 40 + "\n\n```python\nprint('hi')\n```\n"


def test_a_cached_text_renders_the_same_lines_as_a_fresh_render_at_each_width():
    console = Console(width=100, color_system="truecolor")
    cache = RenderCache()
    for width in (80, 40, 80):
        assert _lines(console, cache.get(TEXT, "monokai"), width) == _lines(console, markdown(TEXT, "monokai"), width)
    assert len(cache) == 1


def test_the_cache_stays_within_its_line_bound_and_keeps_what_was_used_last():
    console = Console(width=100)
    cache = RenderCache(max_lines=200)
    texts = [f"Paragraph {i}.\n\n" + "- item\n" * 20 for i in range(40)]
    for i, text in enumerate(texts):
        _lines(console, cache.get(text, "monokai"), 60)
        _lines(console, cache.get(texts[0], "monokai"), 60)  # used again after every other text
        assert cache.lines <= 200
    assert cache.get(texts[0], "monokai").widths, "the text used most recently was evicted"
    assert len(cache) < len(texts)


def test_a_text_in_another_code_theme_is_another_entry():
    console = Console(width=100, color_system="truecolor")
    cache = RenderCache()
    dark = console.render_lines(cache.get(TEXT, "monokai"), console.options.update_width(60))
    light = console.render_lines(cache.get(TEXT, "default"), console.options.update_width(60))
    assert len(cache) == 2
    assert [seg.style for line in dark for seg in line] != [seg.style for line in light for seg in line]
