"""The state of a running (or just ended) turn, as the chat screen tracks it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TurnState"]


@dataclass
class TurnState:
    """One running (or just ended) turn of a thread, fed by the runner's events."""

    thread_id: str
    provider: str
    model: str
    chunks: list[str] = field(default_factory=list)
    user_message_id: str | None = None
    reply_id: str | None = None
    status: str = "streaming"
    error: Any = None
    usage: Any = None
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    worker: Any = None
    view: Any = None
    """The streaming reply's ``MessageView`` while its thread is on screen."""
    user_view: Any = None

    @property
    def text(self) -> str:
        """The reply so far (joined on demand, never per token)."""
        if len(self.chunks) > 1:
            self.chunks[:] = ["".join(self.chunks)]
        return self.chunks[0] if self.chunks else ""

    @property
    def running(self) -> bool:
        return self.status == "streaming"
