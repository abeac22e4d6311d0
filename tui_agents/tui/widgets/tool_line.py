"""A tool call as the chat draws it: one click-to-expand line, and which stored messages join the reply above."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widgets import Static

from ...sanitize import sanitize

__all__ = ["ToolCallLine", "joins_above", "only_calls"]


def only_calls(record: Mapping[str, Any]) -> bool:
    """Whether a stored assistant message is only a round of tool calls (no text, no thinking)."""
    return (record.get("role") == "assistant" and bool(record.get("tool_calls"))
            and not record.get("content") and not record.get("thinking"))


def joins_above(previous: Mapping[str, Any] | None, record: Mapping[str, Any]) -> bool:
    """Whether ``record`` continues the reply drawn above it, as a live reply shows a tool round in one block:
    a tool result under the call (or the results before it), the answer after the results."""
    if previous is None:
        return False
    role, before = record.get("role"), previous.get("role")
    if role == "tool":
        return before == "tool" or (before == "assistant" and bool(previous.get("tool_calls")))
    return role == "assistant" and before == "tool"


class ToolCallLine(Static, can_focus=False):
    """A compact, click-to-expand line for one tool call: name, status, duration."""

    DEFAULT_CSS = """
    ToolCallLine { color: $text-muted; padding: 0 1; height: auto; }
    ToolCallLine.-error { color: $error; }
    ToolCallLine.-stopped { color: $warning; }
    """

    def __init__(self, name: str, status: str, duration_ms: float | None, arguments: Any = None,
                 result: str | None = None, call_id: str | None = None) -> None:
        super().__init__()
        self.call_id = call_id
        self.tool_name = sanitize(name)
        self.status = status
        self.duration_ms = duration_ms
        self.arguments = arguments
        self.result = result
        self.expanded = False
        self._set_status_class()

    def finish(self, status: str, duration_ms: float | None, result: str | None) -> None:
        """Show the call's outcome."""
        self.status, self.duration_ms, self.result = status, duration_ms, result
        self._set_status_class()
        self.refresh(layout=True)

    def _set_status_class(self) -> None:
        self.set_class(self.status in ("error", "timeout"), "-error")
        self.set_class(self.status in ("declined", "cancelled"), "-stopped")  # the user's doing, not a failure

    def render(self) -> Text:
        arrow = "▾" if self.expanded else "▸"
        took = f" · {self.duration_ms:.0f} ms" if self.duration_ms is not None else ""
        line = Text(f"{arrow} ⚙ {self.tool_name} · {self.status}{took}")
        if self.expanded:
            args = json.dumps(self.arguments, ensure_ascii=False, indent=1) if self.arguments else "{}"
            line.append("\n  arguments: " + sanitize(args).replace("\n", "\n  "))
            if self.result is not None:
                line.append("\n  result: " + sanitize(self.result[:2000]).replace("\n", "\n  "))
        return line

    def on_click(self) -> None:
        self.expanded = not self.expanded
        self.refresh(layout=True)
