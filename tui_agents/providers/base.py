"""The provider interface and the typed events a provider stream yields."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..types import Completion, Message, ToolCall, ToolDefinition, Usage
from .registry import Readiness

__all__ = [
    "Provider",
    "StreamEvent",
    "TextDeltaEvent",
    "ToolCallStartEvent",
    "ToolCallDeltaEvent",
    "ToolCallEndEvent",
    "UsageEvent",
    "StopEvent",
]


@dataclass(frozen=True, slots=True)
class TextDeltaEvent:
    """A fragment of the reply's text."""

    text: str


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
)


@dataclass
class _Accumulator:
    """Builds a ``Completion`` out of stream events."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, ToolCall] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None

    def feed(self, event: StreamEvent) -> None:
        match event:
            case TextDeltaEvent(text=text):
                self.text.append(text)
            case ToolCallEndEvent(index=index, call=call):
                self.calls[index] = call
            case UsageEvent(usage=usage):
                self.usage = usage
            case StopEvent(reason=reason):
                self.stop_reason = reason

    def completion(self, model: str | None) -> Completion:
        calls = [self.calls[i] for i in sorted(self.calls)]
        message = Message(role="assistant", content="".join(self.text), tool_calls=calls)
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
        """Stream one reply as typed events. Options: temperature, max_tokens, stop, model."""

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

    async def check(self, model: str | None = None, timeout: float = 5.0) -> Readiness:
        """Whether a chat can start: a key where one is needed; a local server reachable and with a model."""
        import asyncio

        from ..errors import AgentError
        from .registry import find

        spec = find(self.name)
        if not getattr(self, "has_key", True):
            return Readiness(False, spec.missing_key_problem() if spec else f"No API key for {self.name}.")
        if spec is None or not spec.local:
            return Readiness(True)
        try:
            models = await asyncio.wait_for(self.list_models(), timeout)
        except (AgentError, asyncio.TimeoutError, OSError):
            url = getattr(self, "base_url", "") or spec.default_base_url
            return Readiness(False, f"{spec.label} is not reachable at {url}.")
        if not models and not model:
            return Readiness(False, f"{spec.label} is running but has no models: {spec.no_models_hint}")
        return Readiness(True, models=tuple(models))

    async def aclose(self) -> None:
        """Close the HTTP client."""

    async def __aenter__(self) -> "Provider":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
