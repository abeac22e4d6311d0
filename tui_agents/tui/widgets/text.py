"""Small helpers every panel uses to show untrusted text: plain ``Text``, one-line previews, a module's stylesheet."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from ...sanitize import sanitize

__all__ = ["load_tcss", "one_line", "plain"]


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
