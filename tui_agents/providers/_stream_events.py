"""The stream events of ``tui_agents.providers.base``, made at their first use.

Import them from ``tui_agents.providers.base`` (their ``__module__``), never from here: a frozen dataclass
costs ~0.7 ms to make in Python 3.11, and ``aiagents-tui ask`` needs none of these before its request is out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..types import Completion, Message, ToolCall, Usage


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


# They are ``tui_agents.providers.base``'s classes: reprs and pickles name that module, which hands them out.
for _event in StreamEvent.__args__:
    _event.__module__ = "tui_agents.providers.base"
del _event
