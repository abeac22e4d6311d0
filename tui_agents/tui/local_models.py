"""The chat screen's local-model workflows: thoughts (show, fold), thinking per model, the models screen, images."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .app import AiAgentsApp
    from .screens.main import MainScreen

__all__ = ["LocalModelsController"]

log = logging.getLogger(__name__)


class LocalModelsController:
    """Thoughts, thinking settings, the models screen and image attachments of the chat screen."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen

    @property
    def app(self) -> AiAgentsApp:
        return self.screen.app

    # ---- thoughts

    @property
    def thoughts_shown(self) -> bool:
        """Whether thought blocks are shown (app-wide)."""
        return not self.screen.has_class("-hide-thoughts")

    def toggle_thoughts(self) -> None:
        """Show or hide every thought block."""
        self.screen.toggle_class("-hide-thoughts")
        self.app.notify("Thoughts shown." if self.thoughts_shown else "Thoughts hidden.", timeout=2)

    def expand_thoughts(self) -> None:
        """Open or fold the thoughts of the selected message, else of the last reply that has some."""
        pane = self.app.chat_pane
        selected = pane.selected()
        views = [selected] if selected is not None else list(reversed(pane.views))
        for view in views:
            if view.thoughts is not None:
                if not self.thoughts_shown:
                    self.toggle_thoughts()
                view.thoughts.toggle()
                return
        self.app.notify("No thoughts here: this reply came without thinking.", timeout=3)

    # ---- thinking per model

    def current_model(self) -> str:
        return self.app.status_bar.model or self.app.model_name

    def thinking_settings(self, model: str | None = None) -> None:
        """Ask whether ``model`` (the chat's by default) thinks, and how much; saved in the settings."""
        from .screens.thinking import ThinkingScreen

        model = model or self.current_model()
        if not model:
            self.app.notify("Pick a model first (ctrl+o).", severity="warning")
            return
        setting = self.app.config.thinking.get(model)
        screen = ThinkingScreen(model, setting.enabled, setting.level, setting.budget_tokens) if setting \
            else ThinkingScreen(model)
        self.app.push_screen(screen, lambda value: self.set_thinking(model, value))

    def set_thinking(self, model: str, value: dict[str, Any] | None) -> None:
        """Save ``model``'s thinking setting; the next turn uses it."""
        from ..config import ThinkingConfig
        from ..errors import ConfigError

        if value is None:
            return
        self.app.config.thinking[model] = ThinkingConfig(**value)
        try:
            self.app.save_config()
        except (ConfigError, OSError) as exc:
            self.app.notify(f"The setting applies now but could not be saved: {exc}", severity="warning")
        state = "on" if value["enabled"] else "off"
        self.app.notify(f"Thinking is {state} for {model}.", timeout=3)

    # ---- the Ollama models screen

    async def open_models(self) -> None:
        """Open the Ollama models screen (on the configured server, through the session's client)."""
        from ..providers.ollama import OllamaProvider
        from ..providers.ollama_models import OllamaModels
        from .screens.models import ModelsScreen

        await self.app.wait_ready()
        assert self.app.session is not None
        provider = await asyncio.to_thread(self.app.session.provider, OllamaProvider.name)
        await self.app.push_screen(ModelsScreen(OllamaModels(provider)))
