"""Small texts of the chat header: a reply's alternatives (``◂ 2/3 ▸``) and where a thread came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...sanitize import sanitize

__all__ = ["alternatives_label", "origin_text"]


def alternatives_label(info: Mapping[str, Any] | None) -> str:
    """``◂ 2/3 ▸`` for the second of three replies; "" when the reply has no alternatives."""
    if not info or int(info.get("count") or 0) < 2 or info.get("index") is None:
        return ""
    return f"◂ {int(info['index']) + 1}/{int(info['count'])} ▸"


def origin_text(origin: Mapping[str, Any] | None) -> str:
    """"forked from <title>" / "branched from <title> at message N" ("" for an original thread)."""
    if not origin:
        return ""
    title = sanitize(origin.get("title") or "an untitled chat").replace("\n", " ")
    if origin.get("trashed"):
        title += " (in the trash)"
    if origin.get("kind") == "branch":
        at = origin.get("at")
        return f"branched from {title}" + (f" at message {at}" if at else "")
    return f"forked from {title}"
