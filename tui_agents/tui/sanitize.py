"""The app's imports of the one sanitizer (``tui_agents.sanitize``, which ``ask`` uses too)."""

from ..sanitize import highlight_snippet, sanitize

__all__ = ["highlight_snippet", "sanitize"]
