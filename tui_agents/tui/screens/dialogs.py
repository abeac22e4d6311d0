"""Small modal dialogs: confirm, text prompt, the message menu and F1 help."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

__all__ = ["ConfirmScreen", "TextPromptScreen", "MenuScreen", "HelpScreen", "ThemePickerScreen"]


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with True for yes (y, or enter unless ``enter_confirms`` is off)."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel", id="dialog.cancel"),
                Binding("y", "dismiss(True)", "Yes", show=False, id="dialog.yes")]

    def __init__(self, question: str, yes: str = "Yes", *, enter_confirms: bool = True, no: str = "Cancel") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no
        self.enter_confirms = enter_confirms

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question), markup=False)
            yield Static(Text(self.keys_hint(), style="dim"), classes="hint", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button(self.no, id="no")

    def keys_hint(self) -> str:
        """Which keys answer, as the dialog shows them."""
        if self.enter_confirms:
            return f"enter or y: {self.yes} · escape: {self.no}"
        return f"y: {self.yes} · enter or escape: {self.no}"

    def on_mount(self) -> None:
        self.query_one("#yes" if self.enter_confirms else "#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class TextPromptScreen(ModalScreen[str | None]):
    """Ask for a line (or, with ``multiline``, a text); dismisses with the text or None."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel"),
                Binding("ctrl+s", "save", "Save", id="dialog.save")]

    def __init__(self, title: str, value: str = "", multiline: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.multiline = multiline

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text), markup=False)
            if self.multiline:
                yield TextArea(self.value, id="value", soft_wrap=True)
                yield Static(Text("ctrl+s sends, escape cancels", style="dim"), markup=False)
            else:
                yield Input(self.value, id="value")

    def on_mount(self) -> None:
        widget = self.query_one("#value")
        if isinstance(widget, TextArea):
            widget.move_cursor(widget.document.end)  # typing goes on after the text, as in the composer
        widget.focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_save(self) -> None:
        widget = self.query_one("#value")
        self.dismiss(widget.text if isinstance(widget, TextArea) else widget.value)  # type: ignore[union-attr]


class MenuScreen(ModalScreen[str | None]):
    """A list of choices; dismisses with the chosen id or None."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="dialog.cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), markup=False)
            yield OptionList(*[Option(Text(label), id=key) for key, label in self.choices], id="menu")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ThemePickerScreen(ModalScreen[str | None]):
    """Themes previewed live as the cursor moves; starts on the current one, escape puts it back."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, names: list[str], current: str) -> None:
        super().__init__()
        self.names = names
        self.original = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Theme", style="bold"), markup=False)
            yield Static(Text("up/down preview · enter keeps · escape puts back " + self.original, style="dim"),
                         markup=False)
            yield OptionList(*[Option(Text(f"{n}  ✓" if n == self.original else n), id=n) for n in self.names],
                             id="menu")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.original in self.names:
            options.highlighted = self.names.index(self.original)
        options.focus()

    @on(OptionList.OptionHighlighted)
    def _preview(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.app.theme:
            self.app.theme = event.option.id

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Put the theme that was on back."""
        self.app.theme = self.original
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """F1: the keys of the focused area, generated from the active bindings."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close", id="help.close")]

    def __init__(self, area: str, help_text: str, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.area = area
        self.help_text = help_text
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("Key", no_wrap=True)
        table.add_column("Action")
        table.add_column("Id", style="dim", no_wrap=True)
        for key, description, binding_id in self.rows:
            table.add_row(Text(key), Text(description), Text(binding_id))
        with Vertical(classes="dialog help"):
            yield Static(Text(f"Keys: {self.area}", style="bold"), markup=False)
            if self.help_text:
                yield Static(Text(self.help_text), markup=False)
            with VerticalScroll():
                yield Static(table)
            yield Static(Text("All actions are also in the command palette (ctrl+p). Escape closes.", style="dim"),
                         markup=False)


def help_rows(app: Any) -> list[tuple[str, str, str]]:
    """Rows of (key, description, id) for the bindings active where the focus is."""
    rows = []
    seen: set[tuple[str, str]] = set()
    for key, active in app.screen.active_bindings.items():
        binding = active.binding
        if binding.system and not binding.id:
            continue
        description = binding.description or binding.action
        if (description, binding.id or "") in seen:
            continue
        seen.add((description, binding.id or ""))
        rows.append((app.get_key_display(binding), description, binding.id or ""))
    # Our actions (they have ids) first; the widgets' editing keys after them.
    return sorted(rows, key=lambda row: row[2] == "")
