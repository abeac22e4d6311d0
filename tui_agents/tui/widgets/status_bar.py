"""The status bar: provider, model, context tokens, last turn, rate-limit wait and background jobs."""

from __future__ import annotations

import time

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from ...sanitize import sanitize

__all__ = ["StatusBar"]


def _k(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)


class StatusBar(Static):
    """One line of facts about the open thread and the app."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    provider: reactive[str] = reactive("")
    model: reactive[str] = reactive("")
    context_used: reactive[int | None] = reactive(None)
    context_window: reactive[int | None] = reactive(None)
    context_estimated: reactive[bool] = reactive(False)
    last_turn: reactive[int | None] = reactive(None)
    jobs: reactive[int] = reactive(0)
    state: reactive[str] = reactive("")
    wait_until: reactive[float] = reactive(0.0)
    settled: reactive[bool] = reactive(False)
    """False until the settings are known: what is not known yet is left out, not called missing."""

    def __init__(self, provider: str = "", model: str = "", **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self._ticker = None
        self.set_reactive(StatusBar.provider, provider)
        self.set_reactive(StatusBar.model, model)

    def show(self, provider: str, model: str) -> None:
        """The provider and model in use, once the settings are known."""
        self.settled = True
        self.provider = provider
        self.model = model

    def watch_wait_until(self, value: float) -> None:
        if value > time.time() and self._ticker is None:
            self._ticker = self.set_interval(0.5, self._tick)

    def _tick(self) -> None:
        if self.wait_until <= time.time() and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.refresh()

    def render(self) -> Text:
        parts: list[str] = []
        if self.settled:
            parts.append(sanitize(self.provider) or "no provider")
            parts.append(sanitize(self.model) or "no model")
        else:  # the first frame: only what the command line named
            parts.extend(sanitize(name) for name in (self.provider, self.model) if name)
        if self.context_used is not None:
            window = f" / {_k(self.context_window)}" if self.context_window else ""
            approx = "≈" if self.context_estimated else ""  # not the model's own tokenizer
            parts.append(f"ctx {approx}{_k(self.context_used)}{window}")
        if self.last_turn is not None:
            parts.append(f"last turn {_k(self.last_turn)} tok")
        wait = self.wait_until - time.time()
        if wait > 0:
            parts.append(f"rate limited: {wait:.0f}s")
        if self.jobs:
            parts.append(f"{self.jobs} background job{'s' if self.jobs != 1 else ''}")  # titles, summaries, memory
        if self.state:
            parts.append(sanitize(self.state))
        return Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")
