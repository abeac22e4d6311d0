"""The one internal message model every layer speaks.

Provider adapters translate these to and from their wire formats; nothing
outside ``providers/`` knows a wire format.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Role", "ToolCall", "Usage", "Image", "Message", "ToolDefinition", "Completion"]

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """A call the model asked for: its id, the tool's name and parsed arguments."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Usage(BaseModel):
    """Token usage of one provider call."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class Image(BaseModel):
    """An image attached to a message: its bytes, MIME type and content address (sha256 hex)."""

    model_config = ConfigDict(frozen=True)

    media_type: str
    data: bytes = Field(repr=False)
    sha256: str = ""
    name: str | None = None
    width: int | None = None
    height: int | None = None


class Message(BaseModel):
    """One message of a conversation.

    ``tool_calls`` is set on assistant messages that call tools; a ``tool``
    message answers one call through ``tool_call_id`` and says whether the
    result is an error with ``is_error``. ``id`` is the store's id, when known.
    ``thinking`` is the model's reasoning, never sent back; ``thinking_blocks``
    are Anthropic's signed blocks, sent back unchanged within a tool-using turn.
    """

    role: Role
    content: str = ""
    # lambda, not list: pydantic reads each factory's signature, and parsing a builtin's text signature
    # compiles a large regular expression the first time (~2.5 ms of aiagents-tui ask's start-up)
    tool_calls: list[ToolCall] = Field(default_factory=lambda: [])
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    id: str | None = None
    thinking: str = ""
    thinking_blocks: list[dict[str, Any]] = Field(default_factory=lambda: [])
    images: list[Image] = Field(default_factory=lambda: [])


class ToolDefinition(BaseModel):
    """What a model is told about a tool: name, description and a JSON schema."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


class Completion(BaseModel):
    """A whole reply from ``Provider.complete``."""

    message: Message
    usage: Usage = Field(default_factory=Usage)
    stop_reason: str | None = None
    model: str | None = None
