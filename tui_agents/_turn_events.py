"""The turn events of ``tui_agents.events`` other than ``MessageSaved``, made at their first use.

Import them from ``tui_agents.events`` (their ``__module__``), never from here: a frozen dataclass costs
~0.7 ms to make in Python 3.11 (one ``exec`` per generated method), and ``aiagents-tui ask`` needs none
of these before its request is out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .errors import AgentError
from .events import MessageSaved
from .types import Usage


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A fragment of the assistant's reply."""

    thread_id: str
    message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """A fragment of the model's thinking for the reply ``message_id`` (shown apart from its text)."""

    thread_id: str
    message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    """A tool began to run; ``server`` names its MCP server (None for a local tool)."""

    thread_id: str
    message_id: str
    call_id: str
    name: str
    arguments: dict[str, Any]
    started_at: float
    server: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    """A tool finished: ``result`` on success, ``error`` otherwise; ``status`` is ok, error, timeout or declined
    (the user said no; a call stopped with its turn is saved as cancelled, with no event)."""

    thread_id: str
    message_id: str
    call_id: str
    name: str
    arguments: dict[str, Any]
    result: str | None
    error: str | None
    duration_ms: float
    status: Literal["ok", "error", "timeout", "declined", "cancelled"]
    result_message_id: str | None = None
    server: str | None = None


@dataclass(frozen=True, slots=True)
class ToolApproval:
    """The runner's ``approve`` callable decided on a tool call (``server`` is None for local tools)."""

    thread_id: str
    call_id: str
    name: str
    server: str | None
    arguments: dict[str, Any]
    approved: bool


@dataclass(frozen=True, slots=True)
class ToolServerFailed:
    """A tool server (MCP) could not start or stopped; the turn goes on without its tools."""

    thread_id: str
    server: str
    error: AgentError
    stderr_tail: str = ""


@dataclass(frozen=True, slots=True)
class UsageReported:
    """Token usage of one provider call (one per call in a tool loop), with its timing in milliseconds.

    ``ttft_ms`` is the time from the request to the first reply text (None when
    there was no text); ``duration_ms`` is the time to the end of the stream.
    """

    thread_id: str
    usage: Usage
    model: str | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None


@dataclass(frozen=True, slots=True)
class GuardrailFlagged:
    """The guardrail judged the user's message; ``action`` is flagged, warned or blocked."""

    thread_id: str
    message_id: str | None
    injection: bool
    reason: str
    action: Literal["flagged", "warned", "blocked"]


@dataclass(frozen=True, slots=True)
class RateLimitWait:
    """The turn waits for the rate limiter for ``seconds``."""

    thread_id: str
    key: str
    seconds: float


@dataclass(frozen=True, slots=True)
class TurnFinished:
    """The turn ended normally with the reply ``text``."""

    thread_id: str
    message_id: str
    text: str
    usage: Usage
    thinking: str = ""


@dataclass(frozen=True, slots=True)
class TurnFailed:
    """The turn failed or was cancelled; the partial reply (if any) is saved with ``status``."""

    thread_id: str
    message_id: str | None
    error: AgentError
    partial_text: str = ""
    status: Literal["error", "interrupted"] = "error"


TurnEvent = (
    TextDelta
    | ThinkingDelta
    | ToolCallStarted
    | ToolCallFinished
    | ToolApproval
    | ToolServerFailed
    | UsageReported
    | GuardrailFlagged
    | RateLimitWait
    | MessageSaved
    | TurnFinished
    | TurnFailed
)


@dataclass(frozen=True, slots=True)
class AlternativeStarted:
    """A regeneration began: the new reply becomes alternative ``index`` of ``count`` on the old reply's slot.

    ``replaces_message_id`` is the first message of the reply shown until now (None if none was shown);
    it stays shown until the new reply's first text arrives, and stays stored as another alternative.
    """

    thread_id: str
    replaces_message_id: str | None
    index: int
    count: int


@dataclass(frozen=True, slots=True)
class StreamStalled:
    """No data came from the provider for ``seconds`` in the middle of a reply (``since`` is the last data's time)."""

    thread_id: str
    message_id: str | None
    seconds: float
    since: float


@dataclass(frozen=True, slots=True)
class StreamResumed:
    """Data came again after a ``StreamStalled``; the stream was silent for ``stalled_for`` seconds."""

    thread_id: str
    message_id: str | None
    stalled_for: float


@dataclass(frozen=True, slots=True)
class ToolsSkipped:
    """The model says it cannot call tools, so this turn is sent without the agent's tools."""

    thread_id: str
    model: str


# Events added after the first release, kept out of the union above so each addition stays a local edit.
TurnEvent = TurnEvent | AlternativeStarted | StreamStalled | StreamResumed | ToolsSkipped  # type: ignore[misc]

# They are ``tui_agents.events``'s classes: reprs and pickles name that module, which hands them out.
for _event in TurnEvent.__args__:
    if _event is not MessageSaved:
        _event.__module__ = "tui_agents.events"
del _event
