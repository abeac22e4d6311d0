"""Typed events of one agent turn, yielded by ``AgentRunner.run_stream``.

The chat pane, the tool-call inspector and the status bar are renderings of
this one stream. Events are frozen dataclasses; match on their type.
All but ``MessageSaved`` are made at their first use (``_turn_events``), which
``aiagents-tui ask`` reaches only once its request is out. A new event: its class
and union entry in ``_turn_events``, its name in ``__all__`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal  # noqa: F401 - Any, Literal: the events' annotations

from .errors import AgentError  # noqa: F401 - the events' annotations (typing.get_type_hints looks here)
from ._first_use import made_at_first_use
from .types import Usage  # noqa: F401 - as above

__all__ = [
    "TurnEvent",
    "TextDelta",
    "ThinkingDelta",
    "ToolCallStarted",
    "ToolCallFinished",
    "ToolApproval",
    "ToolServerFailed",
    "UsageReported",
    "GuardrailFlagged",
    "RateLimitWait",
    "MessageSaved",
    "TurnFinished",
    "TurnFailed",
    "AlternativeStarted",
    "StreamStalled",
    "StreamResumed",
    "ToolsSkipped",
]


@dataclass(frozen=True, slots=True)
class MessageSaved:
    """A message was written to the store with ``status``."""

    thread_id: str
    message_id: str
    role: str
    status: str


__getattr__, __dir__ = made_at_first_use(globals(), "._turn_events", __all__)


if TYPE_CHECKING:  # pragma: no cover
    from ._turn_events import (
        AlternativeStarted,
        GuardrailFlagged,
        RateLimitWait,
        StreamResumed,
        StreamStalled,
        TextDelta,
        ThinkingDelta,
        ToolApproval,
        ToolCallFinished,
        ToolCallStarted,
        ToolsSkipped,
        ToolServerFailed,
        TurnEvent,
        TurnFailed,
        TurnFinished,
        UsageReported,
    )
