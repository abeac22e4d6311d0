"""The one sanitizer for untrusted text (model, user, tool) before it reaches a terminal (the app's or ask's)."""

from __future__ import annotations

import re
from functools import cache

__all__ = ["sanitize", "highlight_snippet"]

# C0 controls except \t and \n, DEL, and C1 controls: ESC/CSI/OSC sequences lose their
# introducer and become inert text, so nothing can retitle, clear or drive the terminal.
_CONTROL = "[\x00-\x08\x0b-\x1f\x7f-\x9f]"
# Bidirectional embeddings, overrides and isolates: applied, they can make text read in an order
# other than the one it is stored in (a file name or a command that is not what it looks like).
_BIDI = "[\u202a-\u202e\u2066-\u2069]"


@cache
def _pattern(chars: str) -> re.Pattern[str]:
    return re.compile(chars)  # at first use: the first frame's text (names, labels) is printable


def _visible(match: re.Match[str]) -> str:
    return f"<U+{ord(match.group()):04X}>"


def sanitize(text: str | None) -> str:
    """``text`` without C0/C1 control characters and DEL (newline and tab kept); bidi controls shown as ``<U+202E>``."""
    if not text:
        return ""
    if text.isprintable():  # none of them (they are all Cc or Cf), nor a newline or tab: as is
        return text
    return _pattern(_BIDI).sub(_visible, _pattern(_CONTROL).sub("", text))


def highlight_snippet(snippet: str, style: str = "reverse"):
    """A ``Text`` of a search snippet with the ``[[``/``]]``-wrapped terms styled, never parsed as markup."""
    from rich.text import Text

    out = Text(no_wrap=True, overflow="ellipsis")
    rest = sanitize(snippet).replace("\n", " ")
    while rest:
        start = rest.find("[[")
        end = rest.find("]]", start + 2) if start >= 0 else -1
        if start < 0 or end < 0:
            out.append(rest)
            break
        out.append(rest[:start])
        out.append(rest[start + 2 : end], style=style)
        rest = rest[end + 2 :]
    return out
