"""Pick the provider and model of the open chat: listed models, or any name typed in."""

from __future__ import annotations

import asyncio
import logging

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from ...providers import registry
from ..sanitize import sanitize

__all__ = ["ModelPickerScreen"]

log = logging.getLogger(__name__)


class ModelPickerScreen(ModalScreen[tuple[str, str] | None]):
    """Dismisses with ``(provider, model)`` or None."""

    CSS_PATH = "model_picker.tcss"
    HELP = "Choose a provider, then a listed model (enter) or type any model name and press enter."
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="dialog.cancel"),
                # priority: a terminal sends alt+letter as ESC + letter, which the name box would type
                Binding("alt+m", "manage_models", "Ollama models", id="picker.models", priority=True),
                Binding("alt+k", "thinking", "Thinking", id="picker.thinking", priority=True)]

    def __init__(self, provider: str, model: str) -> None:
        super().__init__()
        self.provider = provider if registry.find(provider) else registry.DEFAULT_PROVIDER
        self.model = model

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Model", style="bold"), markup=False)
            yield Select([(p, p) for p in registry.names()], value=self.provider, allow_blank=False, id="provider")
            yield Static(Text("Loading models…"), id="models-state", markup=False)
            yield OptionList(id="models")
            yield Input(self.model, placeholder="any model name, enter to use it", id="model-name")
            yield Static(Text("alt+k thinking for the highlighted model · alt+m manage Ollama models"),
                         id="picker-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#model-name", Input).focus()
        self.load_models(self.provider)

    @on(Select.Changed, "#provider")
    def _provider_changed(self, event: Select.Changed) -> None:
        self.provider = str(event.value)
        self.load_models(self.provider)

    @work(exclusive=True, exit_on_error=False)
    async def load_models(self, provider: str) -> None:
        """List the provider's models (Ollama: /api/tags); a failure is shown, never raised."""
        from ...errors import AgentError

        state = self.query_one("#models-state", Static)
        options = self.query_one("#models", OptionList)
        options.clear_options()
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
        options.add_options([Option(Text(sanitize(m)), id=m) for m in models])
        await self._mark_capabilities(session, provider, models)

    async def _mark_capabilities(self, session, provider: str, models: list[str]) -> None:
        """Mark the models that see images, call tools or think (where the provider says; Ollama's /api/show)."""
        from .models import capability_marks

        client = await asyncio.to_thread(session.provider, provider)
        found = await asyncio.gather(*(client.capabilities(m) for m in models[:100]), return_exceptions=True)
        options = self.query_one("#models", OptionList)
        for name, caps in zip(models, found):
            marks = capability_marks(caps) if not isinstance(caps, BaseException) else ""
            if marks:
                prompt = Text(sanitize(name))
                prompt.append(f"  {marks}", style="dim")
                options.replace_option_prompt(name, prompt)

    def _chosen_name(self) -> str:
        options = self.query_one("#models", OptionList)
        if options.highlighted is not None and options.has_focus:
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
        if event.value.strip():
            self.dismiss((self.provider, event.value.strip()))
