"""The chat screen's local-model workflows: thoughts (show, fold), thinking per model, the models screen, images."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
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

    # ---- images for the next message

    def attachment_bar(self) -> Any:
        """The chips above the composer (mounted at the first attachment)."""
        from .widgets.attachments import AttachmentBar
        from .widgets.chat_pane import ChatPane

        found = self.screen.query(AttachmentBar)
        if found:
            return found.first()
        bar = AttachmentBar(id="attachments")
        self.screen.mount(bar, after=self.screen.query_one(ChatPane))  # under the chat, over the docked composer
        return bar

    @property
    def pending_images(self) -> list[Any]:
        """The images that go with the next message."""
        from .widgets.attachments import AttachmentBar

        found = self.screen.query(AttachmentBar)
        return list(found.first().images) if found else []

    def clear_attachments(self) -> None:
        from .widgets.attachments import AttachmentBar

        for bar in self.screen.query(AttachmentBar):
            bar.clear()

    def ask_attach(self) -> None:
        """Ask for image paths (with completion) to attach to the next message."""
        from .widgets.attachments import AttachScreen

        def chosen(paths: list[str] | None) -> None:
            if paths:
                self.app.run_worker(partial(self.attach_paths, paths), group="attach", exit_on_error=False)

        self.app.push_screen(AttachScreen(), chosen)

    async def attach_paths(self, paths: list[Any]) -> None:
        """Read, check and attach images; an unreadable file or a too-large image is said plainly."""
        from ..errors import ImageError
        from ..images import load_images

        try:
            images = await load_images(paths)
        except ImageError as exc:
            self.app.notify(str(exc), severity="error")
            return
        limit, label = await self._image_limit()
        for image in images:
            if limit is not None and len(image.data) > limit:
                self._offer_shrink(image, limit, label)
            else:
                self.attachment_bar().add(image)

    async def _image_limit(self) -> tuple[int | None, str]:
        from ..errors import AgentError

        name = self.app.status_bar.provider or self.app.provider_name
        try:
            provider = await asyncio.to_thread(self.app.session.provider, name)
        except AgentError:
            return None, name
        return provider.max_image_bytes, getattr(provider, "label", "") or name

    def _offer_shrink(self, image: Any, limit: int, label: str) -> None:
        """Say the image is too large; make a smaller copy only if the user says so."""
        from ..images import shrink_image
        from .screens.dialogs import ConfirmScreen

        mb = len(image.data) / (1024 * 1024)
        question = (f"The image {image.name or ''} is {mb:.1f} MB, over the {limit / (1024 * 1024):.1f} MB "
                    f"{label} accepts. Attach a smaller copy (fewer pixels)? The file itself is not changed.")

        async def shrink() -> None:
            from ..errors import ImageError

            try:
                small = await asyncio.to_thread(shrink_image, image, limit)
            except ImageError as exc:
                self.app.notify(str(exc), severity="error")
                return
            self.attachment_bar().add(small)

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.run_worker(shrink, group="attach", exit_on_error=False)
            else:
                self.app.notify(f"{image.name or 'The image'} was not attached: it is too large for {label}.",
                                severity="warning")

        self.app.push_screen(ConfirmScreen(question, yes="Attach smaller copy"), answered)

    async def vision_ok(self, provider_name: str, model: str) -> bool:
        """False (and says so) when the model is known not to see images; unknown counts as yes."""
        from ..errors import AgentError

        try:
            provider = await asyncio.to_thread(self.app.session.provider, provider_name)
            caps = await provider.capabilities(model or None)
        except AgentError:
            return True  # unknown: the engine checks again and the request tells
        if caps is not None and "vision" not in caps:
            self.app.notify(f"The model {model} cannot see images; choose a model with vision (ctrl+o marks them) "
                            "or remove the images.", severity="error", timeout=8)
            return False
        return True
