"""Turn thinking on or off for one model, with its level or token budget (saved as ``[thinking."MODEL"]``)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, Switch

from ...sanitize import sanitize

__all__ = ["ThinkingScreen"]

_LEVELS = [("low", "low"), ("medium", "medium"), ("high", "high")]


class ThinkingScreen(ModalScreen["dict | None"]):
    """Dismisses with the model's new setting (``{"enabled", "level", "budget_tokens"}``) or None."""

    CSS_PATH = "thinking.tcss"
    HELP = ("Thinking makes the model reason before it answers; its thoughts show above the reply. "
            "Level: for Ollama and OpenAI-compatible models that take one. Budget: tokens, for Claude.")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel"),
                Binding("ctrl+s", "save", "Save", id="dialog.save")]

    def __init__(self, model: str, enabled: bool = False, level: str | None = None,
                 budget_tokens: int | None = None) -> None:
        super().__init__()
        self.model = model
        self.enabled = enabled
        self.level = level
        self.budget_tokens = budget_tokens

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Thinking · {sanitize(self.model)}", style="bold"), markup=False)
            with Horizontal(classes="row"):
                yield Label("Think before answering")
                yield Switch(self.enabled, id="enabled")
            with Horizontal(classes="row"):
                yield Label("Level")
                yield Select(_LEVELS, value=self.level or Select.NULL, prompt="model default", id="level")
            with Horizontal(classes="row"):
                yield Label("Budget (tokens)")
                yield Input(str(self.budget_tokens or ""), placeholder="Claude only; at least 1024",
                            type="integer", id="budget")
            yield Static("", id="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#enabled", Switch).focus()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Check the budget and dismiss with the setting."""
        raw = self.query_one("#budget", Input).value.strip()
        budget = int(raw) if raw else None
        if budget is not None and budget < 1024:
            self.query_one("#problem", Static).update(Text("The budget must be at least 1024 tokens (or empty)."))
            return
        level = self.query_one("#level", Select).value
        self.dismiss({"enabled": self.query_one("#enabled", Switch).value,
                      "level": level if isinstance(level, str) else None, "budget_tokens": budget})
