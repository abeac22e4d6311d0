"""The provider interface and the typed events a provider stream yields."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..types import Completion, Message, ToolCall, ToolDefinition, Usage

__all__ = [
    "Provider",
    "StreamEvent",
    "TextDeltaEvent",
    "ToolCallStartEvent",
    "ToolCallDeltaEvent",
    "ToolCallEndEvent",
    "UsageEvent",
    "StopEvent",
    "ThinkingDeltaEvent",
    "ThinkingBlockEvent",
]


@dataclass(frozen=True, slots=True)
class TextDeltaEvent:
    """A fragment of the reply's text."""

    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDeltaEvent:
    """A fragment of the model's thinking (reasoning), shown apart from the reply."""

    text: str


@dataclass(frozen=True, slots=True)
class ThinkingBlockEvent:
    """A whole Anthropic ``thinking`` (with its signature) or ``redacted_thinking`` block.

    Kept unchanged and sent back with the tool results of the same turn, as the API requires.
    """

    block: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCallStartEvent:
    """The model began a tool call (``index`` orders parallel calls)."""

    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallDeltaEvent:
    """A fragment of a tool call's JSON arguments."""

    index: int
    arguments_delta: str


@dataclass(frozen=True, slots=True)
class ToolCallEndEvent:
    """A tool call is complete, with its arguments parsed."""

    index: int
    call: ToolCall


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """Token usage reported by the provider (may arrive more than once; last wins per field)."""

    usage: Usage


@dataclass(frozen=True, slots=True)
class StopEvent:
    """The stream ended normally; ``reason`` is normalised: end_turn, tool_use, max_tokens, stop_sequence."""

    reason: str
    raw_reason: str | None = None


StreamEvent = (
    TextDeltaEvent | ToolCallStartEvent | ToolCallDeltaEvent | ToolCallEndEvent | UsageEvent | StopEvent
    | ThinkingDeltaEvent | ThinkingBlockEvent
)


@dataclass
class _Accumulator:
    """Builds a ``Completion`` out of stream events."""

    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[int, ToolCall] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None

    def feed(self, event: StreamEvent) -> None:
        match event:
            case TextDeltaEvent(text=text):
                self.text.append(text)
            case ThinkingDeltaEvent(text=text):
                self.thinking.append(text)
            case ThinkingBlockEvent(block=block):
                self.blocks.append(block)
            case ToolCallEndEvent(index=index, call=call):
                self.calls[index] = call
            case UsageEvent(usage=usage):
                self.usage = usage
            case StopEvent(reason=reason):
                self.stop_reason = reason

    def completion(self, model: str | None) -> Completion:
        calls = [self.calls[i] for i in sorted(self.calls)]
        message = Message(role="assistant", content="".join(self.text), tool_calls=calls,
                          thinking="".join(self.thinking), thinking_blocks=self.blocks)
        return Completion(message=message, usage=self.usage, stop_reason=self.stop_reason, model=model)


class Provider(abc.ABC):
    """One model provider reached over HTTP. Use with ``async with`` or call ``aclose``."""

    name: str = ""
    model: str = ""

    @abc.abstractmethod
    def stream(
        self,
        messages: Sequence[Message],
        system: str | None = None,
        tools: Sequence[ToolDefinition] | None = None,
        **options: Any,
    ) -> AsyncIterator[StreamEvent]:
        """Stream one reply as typed events. Options: temperature, max_tokens, stop, model, thinking.

        ``thinking``: None/False (off), True, ``{"budget_tokens": N}`` or "low" | "medium" | "high".
        """

    async def complete(
        self,
        messages: Sequence[Message],
        system: str | None = None,
        tools: Sequence[ToolDefinition] | None = None,
        **options: Any,
    ) -> Completion:
        """Return the whole reply: message, tool calls, usage and stop reason."""
        acc = _Accumulator()
        async for event in self.stream(messages, system=system, tools=tools, **options):
            acc.feed(event)
        return acc.completion(options.get("model") or self.model)

    @abc.abstractmethod
    async def list_models(self) -> list[str]:
        """Names of the models this provider offers."""

    async def get_context_window(self, model: str | None = None) -> int | None:
        """The context window in effect for ``model`` (tokens): what the server reports, else the known table.

        None for a provider this package does not know (e.g. a scripted one in a test).
        """
        from .models import FALLBACK_CONTEXT_WINDOWS, context_window

        if self.name not in FALLBACK_CONTEXT_WINDOWS:
            return None
        return context_window(self.name, model or self.model)

    async def capabilities(self, model: str | None = None) -> frozenset[str] | None:
        """What ``model`` can do ("vision", "tools", "thinking"...), or None when the provider does not say."""
        return None

    max_image_bytes: int | None = None
    """The largest image (bytes, before base64) this provider's API accepts; None: no known limit."""

    async def aclose(self) -> None:
        """Close the HTTP client."""

    async def __aenter__(self) -> "Provider":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
