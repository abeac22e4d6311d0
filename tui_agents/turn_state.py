"""The state one agent turn carries between its steps, and the small helpers its steps share."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .types import Message, ToolCall, ToolDefinition, Usage

log = logging.getLogger(__name__)
T = TypeVar("T")

IMAGE_TOKENS = 1024  # what an image adds to its message's count (vision models vary; ~1k is typical)


def usage_dict(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}


def reply_timing(sent: float, first_text: float | None, ended: float) -> dict[str, float]:
    """A reply's ``meta`` timing in ms: ``ttft_ms`` (request to first text, if any) and ``duration_ms``."""
    timing = {"duration_ms": round((ended - sent) * 1000, 1)}
    if first_text is not None:
        timing["ttft_ms"] = round((first_text - sent) * 1000, 1)
    return timing


async def land(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if the caller is cancelled meanwhile, then re-raise the cancellation.

    A save must land before a cancelled turn returns: ``asyncio.shield`` alone
    would let the caller go on (and perhaps close the connection) while it runs.
    """
    task = asyncio.ensure_future(work)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not task.cancelled() and task.exception() is not None:
            log.warning("A save failed while the turn was being stopped.", exc_info=task.exception())
        raise cancelled
    return task.result()


@dataclass(frozen=True, slots=True)
class AgentSetup:
    """What a thread's agent record gives every turn: cached per agent id."""

    system_prompt: str
    tools: Mapping[str, Any]
    definitions: tuple[ToolDefinition, ...]
    provider: str | None = None
    model: str | None = None
    server_tools: tuple[str, ...] = ()  # the record's names of tool-server tools (``files__read``, ``files:*``)


@dataclass(slots=True)
class Round:
    """One provider call: the assistant message it produced and the tools it asked for."""

    message_id: str | None = None
    text: str = ""
    thinking: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class Turn:
    """Mutable state of one turn, shared by its steps."""

    thread_id: str
    user_id: str
    model: str
    key: str
    system: str | None
    setup: AgentSetup
    history: list[Message]
    first_exchange: bool
    usage: Usage = field(default_factory=Usage)
    reply_id: str | None = None
    partial: str = ""
    sees_images: bool | None = None  # asked of the provider once, when a tool result first brings an image
    uncounted: tuple[str, str] | None = None  # (id, text) of a user message to count once the reply is in
