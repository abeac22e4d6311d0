"""The working state under a pending reply: "waiting for MODEL · 3 s · esc stops", then "streaming · 7 s · esc stops",
"running TOOL · 9 s · esc stops" while a tool runs, "waiting for your answer: may TOOL run?" while the approval
dialog asks.

The line reads the turn's ``TurnState`` (``started_at``, ``data_seen``,
``stalled_since``); its 1 s timer runs while the reply is pending (never a
redraw per token) and dies with the line when the reply ends.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from ...sanitize import sanitize
from ..tool_calls import running_label

__all__ = ["DATA_EVENTS", "WorkingLine", "stop_key"]

DATA_EVENTS = frozenset({"TextDelta", "ThinkingDelta", "ToolCallStarted"})
"""Turn events that mean the provider has started answering."""


def stop_key(app: Any) -> str:
    """The key that stops a reply now, as the footer shows it (after a keymap remap, the remapped key)."""
    from textual.binding import Binding

    from .. import actions

    action = actions.by_action("stop_reply")
    config = getattr(app, "config", None)
    keys = actions.keys_in_effect(action, getattr(config, "keymap", None)) if action else ""
    first = keys.split(",")[0].strip() or "escape"
    return app.get_key_display(Binding(first, "stop_reply"))


class WorkingLine(Static, can_focus=False):
    """One muted line under a pending reply; ``state`` is the turn's ``TurnState``."""

    DEFAULT_CSS = """
    WorkingLine { color: $text-muted; padding: 0 1; height: 1; }
    WorkingLine.-stalled { color: $warning; }
    """

    def __init__(self, state: Any) -> None:
        super().__init__(markup=False)
        self.state = state
        self._timer: Timer | None = None
        self._key = "esc"

    def on_mount(self) -> None:
        self._key = stop_key(self.app)
        self._timer = self.set_interval(1.0, self.update_state, pause=not self.counting)
        self.update_state()

    @property
    def counting(self) -> bool:
        """Whether seconds are shown (and the timer runs): always while the reply is pending."""
        return bool(getattr(self.state, "running", True))

    def line(self, now: float | None = None) -> str:
        """The text of the line at ``now`` (wall-clock seconds)."""
        now = time.time() if now is None else now
        state = self.state
        asking = getattr(getattr(self.app, "tools", None), "asking", {}).get(getattr(state, "thread_id", None))
        if asking:
            return f"waiting for your answer: may {sanitize(asking)} run?"
        if state.stalled_since is not None:
            return f"no data for {max(0, int(now - state.stalled_since))} s · {self._key} stops"
        running = running_label(state, now) if getattr(state, "tools", None) else None
        if running is not None:
            return f"{running} · {self._key} stops"
        if not state.data_seen:
            waited = max(0, int(now - state.started_at))
            return f"waiting for {sanitize(state.model or 'the model')} · {waited} s · {self._key} stops"
        elapsed = max(0, int(now - state.started_at))
        return f"streaming · {elapsed} s · {self._key} stops"

    def update_state(self) -> None:
        """Redraw from the turn's state; pause the timer while nothing counts."""
        self.set_class(self.state.stalled_since is not None, "-stalled")
        # One row at the pane's width whatever the text: a new text needs no layout (a layout of the chat
        # pane repaints all of it; once a second that was a quarter of the layouts of a streaming reply).
        self.update(Text(self.line(), no_wrap=True, overflow="ellipsis"), layout=not self.size)
        if self._timer is not None:
            if self.counting:
                self._timer.resume()
            else:
                self._timer.pause()

    @property
    def timer(self) -> Timer | None:
        """The 1 s timer (stopped once the line is removed)."""
        return self._timer
