"""The first screen of a new chat: ready to type, or what the app needs before it can chat."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from ..sanitize import sanitize

__all__ = ["Welcome"]


class Welcome(Static):
    """Explains, in one screen, what is needed to chat (or that all is set)."""

    DEFAULT_CSS = """
    Welcome { padding: 1 2; color: $text-muted; height: auto; }
    """

    class Retry(Message):
        """Check the provider again."""

    def __init__(self, ok: bool | None, problem: str, provider: str, model: str) -> None:
        super().__init__(self._text(ok, problem, provider, model), markup=False)
        self.ok = ok

    @staticmethod
    def _text(ok: bool | None, problem: str, provider: str, model: str) -> Text:
        text = Text()
        if ok or ok is None:
            text.append("New chat", style="bold")
            text.append(f" with {sanitize(provider)} · {sanitize(model) or 'default model'}\n\n")
            text.append("Type below and press enter. ctrl+o picks another model, ctrl+p lists every action, "
                        "f1 shows the keys.")
            return text
        text.append("Before you can chat, aiagents-tui needs a model provider.\n\n", style="bold")
        text.append(sanitize(problem) + "\n\n", style="bold")
        text.append("Any one of these will do:\n")
        text.append("  • Start Ollama (`ollama serve`) and pull a model; then press f5 to check again.\n")
        text.append("  • Set OPENAI_API_KEY or ANTHROPIC_API_KEY in the environment and restart.\n")
        text.append("  • Run `aiagents-tui keys set openai` (or anthropic) to save a key in the OS keyring.\n")
        text.append("  • Open Settings (f2) to enter a key, a base URL or the default provider and model.\n\n")
        text.append("Meanwhile you can browse and search your threads in the sidebar (ctrl+f).")
        return text

    def on_click(self) -> None:
        if self.ok is False:
            self.post_message(self.Retry())
