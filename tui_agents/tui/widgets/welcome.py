"""The first screen of a new chat: ready to type, or what the app needs before it can chat."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from ...sanitize import sanitize

__all__ = ["Welcome"]

_STEPS = (
    "Start Ollama (`ollama serve`) and pull a model; then press f5 to check again.",
    "Point OPENAI_BASE_URL (or a base URL in Settings, f2) at a local OpenAI-compatible server such as "
    "llama.cpp, vLLM or LM Studio; it needs no key.",
    "Set OPENAI_API_KEY or ANTHROPIC_API_KEY in the environment and restart.",
    "Run `aiagents-tui keys set openai` (or anthropic) to save a key in the OS keyring.",
    "Open Settings (f2) to enter a key, a base URL or the default provider and model.",
)


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
    def _text(ok: bool | None, problem: str, provider: str, model: str) -> RenderableType:
        if ok or ok is None:
            text = Text()
            text.append("New chat", style="bold")
            text.append(f" with {sanitize(provider)} · {sanitize(model) or 'default model'}\n\n")
            text.append("Type below and press enter. ctrl+o picks another model, ctrl+p lists every action, "
                        "f1 shows the keys.")
            return text
        head = Text()
        head.append("Before you can chat, aiagents-tui needs a model provider.\n\n", style="bold")
        head.append(sanitize(problem) + "\n\n", style="bold")
        head.append("Any one of these will do:")
        # a grid, so that a wrapped step keeps its indent under the bullet's text
        steps = Table.grid(padding=(0, 1))
        steps.add_column(no_wrap=True)
        steps.add_column()
        for step in _STEPS:
            steps.add_row("  •", Text(step))
        tail = Text("\nMeanwhile you can browse and search your threads in the sidebar (ctrl+f).")
        return Group(head, steps, tail)

    def on_click(self) -> None:
        if self.ok is False:
            self.post_message(self.Retry())
