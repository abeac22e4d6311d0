"""Pick the provider and model of the open chat: a list filtered as you type, or any name typed in."""

from __future__ import annotations

import asyncio
import logging

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from ...providers import registry
from ...sanitize import sanitize

__all__ = ["ModelPickerScreen", "model_row"]

log = logging.getLogger(__name__)


def _type_at_end(box: Input, text: str) -> None:
    box.cursor_position = len(box.value)
    box.insert_text_at_cursor(text)


def model_row(model: str, *, current: bool, marks: str = "") -> Text:
    """One row of the model list: the name, marked when it is the chat's current model, and what it can do."""
    row = Text("● " if current else "  ", style="bold" if current else "")
    row.append(sanitize(model))
    if current:
        row.append("  current", style="dim")
    if marks:
        row.append(f"  {marks}", style="dim")
    return row


class ModelPickerScreen(ModalScreen[tuple[str, str] | None]):
    """Dismisses with ``(provider, model)`` or None."""

    CSS_PATH = "model_picker.tcss"
    HELP = ("Type to filter the models; up/down choose, enter picks. A name that matches no listed model "
            "is used as typed. Switching provider starts on that provider's default model.")
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel"),
        Binding("down", "move(1)", "Next model", show=False),
        Binding("up", "move(-1)", "Previous model", show=False),
        # priority: a terminal sends alt+letter as ESC + letter, which the name box would type
        Binding("alt+m", "manage_models", "Ollama models", id="picker.models", priority=True),
        Binding("alt+k", "thinking", "Thinking", id="picker.thinking", priority=True),
    ]

    def __init__(self, provider: str, model: str) -> None:
        super().__init__()
        self.provider = provider if registry.find(provider) else registry.DEFAULT_PROVIDER
        self.model = model
        self._current = (self.provider, model)
        self._models: list[str] = []
        self._marks: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Model", style="bold"), markup=False)
            yield Select([(p, p) for p in registry.names()], value=self.provider, allow_blank=False, id="provider")
            yield Input(placeholder="filter, or any model name", id="model-name")
            yield Static(Text("Loading models…"), id="models-state", markup=False)
            yield OptionList(id="models")
            yield Static(Text("alt+k thinking for the highlighted model · alt+m manage Ollama models"),
                         id="picker-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#model-name", Input).focus()
        self.load_models(self.provider)

    @on(Select.Changed, "#provider")
    def _provider_changed(self, event: Select.Changed) -> None:
        if str(event.value) == self.provider:
            return
        self.provider = str(event.value)
        # back on the chat's provider: its model; another provider: its default, never the old model name
        self.model = self._current[1] if self.provider == self._current[0] else self._default_model(self.provider)
        self.load_models(self.provider)
        self.query_one("#model-name", Input).focus()  # next: type or arrow to the model

    def on_key(self, event: events.Key) -> None:
        """A letter typed on the provider box goes to the model filter, never to nowhere."""
        name = self.query_one("#model-name", Input)
        if isinstance(self.focused, Select) and not self.focused.expanded and event.is_printable \
                and event.character:
            event.stop()
            self.set_focus(name)
            name.call_later(_type_at_end, name, event.character)  # after its focus selected all

    def _default_model(self, provider: str) -> str:
        """The model a switch to ``provider`` starts on: the configured default, else the provider's own."""
        session = getattr(self.app, "session", None)
        configured = session.config.providers.get(provider).default_model if session is not None else None
        return configured or registry.get(provider).default_model

    @work(exclusive=True, exit_on_error=False)
    async def load_models(self, provider: str) -> None:
        """List the provider's models (Ollama: /api/tags); a failure is shown, never raised."""
        from ...errors import AgentError

        state = self.query_one("#models-state", Static)
        self._models = []
        self._refill()
        state.update(Text("Loading models…"))
        session = self.app.session  # type: ignore[attr-defined]
        if session is None or session.stores is None:
            state.update(Text("The database is still opening; type a model name."))
            return
        try:
            models = await session.list_models(provider)
        except AgentError as exc:
            state.update(Text(sanitize(str(exc)) + " You can still type a model name."))
            return
        except Exception as exc:  # never a traceback in a picker
            log.warning("Listing the %s models failed unexpectedly.", provider, exc_info=True)
            state.update(Text(f"Could not list models ({type(exc).__name__}). You can still type a model name."))
            return
        state.update(Text(f"{len(models)} models from {provider}" if models else "No models listed."))
        self._models = list(models)
        current_provider, current_model = self._current
        if provider == current_provider and current_model and current_model not in self._models:
            self._models.insert(0, current_model)  # the chat's model, though the server does not list it
        if self.model not in self._models and provider != self._current[0] and self._models:
            self.model = self._models[0]  # the provider's default is not served here: its first model
        self._marks = {}
        self._refill()
        await self._mark_capabilities(session, provider, self._models)

    async def _mark_capabilities(self, session, provider: str, models: list[str]) -> None:
        """Mark the models that see images, call tools or think (where the provider says; Ollama's /api/show)."""
        from .models import capability_marks

        client = await asyncio.to_thread(session.provider, provider)
        found = await asyncio.gather(*(client.capabilities(m) for m in models[:100]), return_exceptions=True)
        self._marks = {name: capability_marks(caps) for name, caps in zip(models, found)
                       if not isinstance(caps, BaseException) and capability_marks(caps)}
        if self._marks:
            self._refill()

    def _matches(self) -> list[str]:
        needle = self.query_one("#model-name", Input).value.strip().lower()
        return [m for m in self._models if needle in m.lower()]

    def _refill(self) -> None:
        """Show the models matching the filter, highlighting the chosen one (else the first)."""
        options = self.query_one("#models", OptionList)
        matches = self._matches()
        options.clear_options()
        options.add_options([Option(model_row(m, current=(self.provider, m) == self._current,
                                              marks=self._marks.get(m, "")), id=m) for m in matches])
        if matches:
            options.highlighted = matches.index(self.model) if self.model in matches else 0
        self._count(matches)

    def _count(self, matches: list[str]) -> None:
        """Say how many models the filter leaves, and that enter uses a name that matches none as typed."""
        typed = self.query_one("#model-name", Input).value.strip()
        if not self._models or not typed:
            return
        text = (f"{len(matches)} of {len(self._models)} models from {self.provider}" if matches
                else f"No listed model matches; enter uses {sanitize(typed)!r} as typed.")
        self.query_one("#models-state", Static).update(Text(text))

    @on(Input.Changed, "#model-name")
    def _filter(self) -> None:
        self._refill()

    def action_move(self, step: int) -> None:
        """Up/down from the filter box move the list's highlight."""
        options = self.query_one("#models", OptionList)
        if options.option_count:
            options.action_cursor_down() if step > 0 else options.action_cursor_up()

    def _chosen_name(self) -> str:
        options = self.query_one("#models", OptionList)
        if options.highlighted is not None and options.option_count:
            return str(options.get_option_at_index(options.highlighted).id)
        return self.query_one("#model-name", Input).value.strip() or self.model

    def action_thinking(self) -> None:
        """Turn thinking on or off for the highlighted (or typed) model."""
        self.app.screen_main.local.thinking_settings(self._chosen_name())  # type: ignore[attr-defined]

    def action_manage_models(self) -> None:
        """Close the picker and open the Ollama models screen."""
        self.dismiss(None)
        self.app.run_worker(self.app.screen_main.local.open_models(), exit_on_error=False)  # type: ignore[attr-defined]

    @on(OptionList.OptionSelected, "#models")
    def _model_chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss((self.provider, str(event.option.id)))

    @on(Input.Submitted, "#model-name")
    def _typed(self, event: Input.Submitted) -> None:
        """Enter: the highlighted match, else the name as typed, else the provider's starting model."""
        typed = event.value.strip()
        options = self.query_one("#models", OptionList)
        if typed in self._models:
            self.dismiss((self.provider, typed))
        elif options.highlighted is not None and options.option_count:
            self.dismiss((self.provider, str(options.get_option_at_index(options.highlighted).id)))
        elif typed or self.model:
            self.dismiss((self.provider, typed or self.model))
