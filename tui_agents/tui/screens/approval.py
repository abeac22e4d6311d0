"""The dialog that asks before a tool acts: the tool, its server and its arguments in full, shown literally."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Static

from ...sanitize import sanitize

__all__ = ["ApprovalScreen", "format_arguments"]

UNARMED_HINT = Text("typing goes on into your message; the choices work once you pause", style="dim")
ARMED_HINT = Text("enter, d or escape denies · o allows once · a allows always", style="dim")


def format_arguments(arguments: dict[str, Any]) -> str:
    """The arguments as indented JSON (every value in full; what cannot be JSON is shown with ``repr``)."""
    try:
        return json.dumps(arguments, indent=2, ensure_ascii=False, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(arguments)


class ApprovalScreen(ModalScreen[str]):
    """Ask whether a tool call may run; dismisses with ``"once"``, ``"always"`` or ``"deny"``.

    The dialog may open while the user is typing a message: until ``ARM_AFTER`` seconds pass without a key,
    its choices are off and what is typed goes on into the message, so a letter meant for the message can
    never answer (``a`` would allow the tool always). Escape denies at any time.
    """

    ARM_AFTER = 0.8
    """Seconds without a key press before the choices work."""

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
        self.armed = False
        """Whether the choices work (after a pause in typing)."""
        self._arm_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog approval"):
            yield Static(Text("Allow this tool call?", style="bold"), id="approval-title")
            yield Static(self._header(), id="approval-tool")
            with VerticalScroll(id="approval-args"):
                # Model-written text: sanitized and given as Text, never parsed as markup.
                yield Static(Text(sanitize(format_arguments(self.arguments))), id="approval-arguments")
            yield Static(UNARMED_HINT, id="approval-hint")
            with Horizontal(classes="buttons"):
                yield Button("Allow once (o)", variant="primary", id="once", disabled=True)
                yield Button("Allow always (a)", id="always", disabled=True)
                yield Button("Deny (d)", variant="error", id="deny", disabled=True)

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
        self._arm_timer = self.set_timer(self.ARM_AFTER, self._arm)

    def _arm(self) -> None:
        self.armed = True
        for button in self.query(Button):
            button.disabled = False
        self.query_one("#deny", Button).focus()  # enter on an unread dialog must not run the tool
        self.query_one("#approval-hint", Static).update(ARMED_HINT)

    def on_key(self, event: events.Key) -> None:
        """Before the choices work, keys go on into the message being typed (escape still denies)."""
        if self.armed or event.key == "escape":
            return
        event.stop()
        event.prevent_default()
        if self._arm_timer is not None:
            self._arm_timer.reset()
        composer = getattr(self.app, "composer", None)
        if composer is None:
            return
        if event.is_printable and event.character:
            composer.insert(event.character)
        elif event.key == "backspace":
            composer.action_delete_left()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id or "deny")

    def action_answer(self, answer: str) -> None:
        """Close with ``answer`` (only deny before the choices work)."""
        if not self.armed and answer != "deny":
            return
        self.dismiss(answer if answer in ("once", "always") else "deny")
