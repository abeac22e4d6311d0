"""The dialog that asks before a tool acts: the tool, its server and its arguments in full, shown literally."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..sanitize import sanitize

__all__ = ["ApprovalScreen", "format_arguments"]


def format_arguments(arguments: dict[str, Any]) -> str:
    """The arguments as indented JSON (every value in full; what cannot be JSON is shown with ``repr``)."""
    try:
        return json.dumps(arguments, indent=2, ensure_ascii=False, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(arguments)


class ApprovalScreen(ModalScreen[str]):
    """Ask whether a tool call may run; dismisses with ``"once"``, ``"always"`` or ``"deny"``."""

    CSS_PATH = "approval.tcss"
    BINDINGS = [
        Binding("escape", "answer('deny')", "Deny", id="approval.deny"),
        Binding("d", "answer('deny')", "Deny", show=False, id="approval.deny_key"),
        Binding("o", "answer('once')", "Allow once", show=False, id="approval.once"),
        Binding("a", "answer('always')", "Allow always", show=False, id="approval.always"),
    ]
    HELP = "A tool wants to run. o allows it once, a allows it always (kept in the config), d or escape denies it."

    def __init__(self, name: str, server: str | None, arguments: dict[str, Any], thread: str | None = None) -> None:
        super().__init__()
        self.tool_name = name
        self.server = server
        self.arguments = arguments
        self.thread = thread

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog approval"):
            yield Static(Text("Allow this tool call?", style="bold"), id="approval-title")
            yield Static(self._header(), id="approval-tool")
            with VerticalScroll(id="approval-args"):
                # Model-written text: sanitized and given as Text, never parsed as markup.
                yield Static(Text(sanitize(format_arguments(self.arguments))), id="approval-arguments")
            with Horizontal(classes="buttons"):
                yield Button("Allow once (o)", variant="primary", id="once")
                yield Button("Allow always (a)", id="always")
                yield Button("Deny (d)", variant="error", id="deny")

    def _header(self) -> Text:
        text = Text()
        text.append("Tool:   ", style="dim")
        text.append(sanitize(self.tool_name))
        text.append("\nServer: ", style="dim")
        text.append(sanitize(self.server) if self.server else "(local tool)")
        if self.thread:
            text.append("\nThread: ", style="dim")
            text.append(sanitize(self.thread).replace("\n", " "))
        text.append("\nArguments:", style="dim")
        return text

    def on_mount(self) -> None:
        self.query_one("#deny", Button).focus()  # enter on an unread dialog must not run the tool

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id or "deny")

    def action_answer(self, answer: str) -> None:
        """Close with ``answer``."""
        self.dismiss(answer if answer in ("once", "always") else "deny")
