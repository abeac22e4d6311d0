"""The provider interface and the typed events a provider stream yields (those made at first use)."""

from __future__ import annotations

import abc
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._first_use import made_at_first_use
from ..errors import InvalidArgumentError
# ToolCall, Usage: the stream events' annotations, which typing.get_type_hints reads in this module
from ..types import Completion, Message, ToolCall, ToolDefinition, Usage  # noqa: F401
from .registry import Readiness

if TYPE_CHECKING:  # pragma: no cover
    from ._stream_events import (
        StopEvent,
        StreamEvent,
        TextDeltaEvent,
        ThinkingBlockEvent,
        ThinkingDeltaEvent,
        ToolCallDeltaEvent,
        ToolCallEndEvent,
        ToolCallStartEvent,
        UsageEvent,
    )

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
    "ProviderTimeouts",
]

# Made at their first use (``_stream_events``), which ``aiagents-tui ask`` reaches once its request is out.
_LATER = frozenset(__all__) - {"Provider", "ProviderTimeouts"}


@dataclass(frozen=True, slots=True)
class ProviderTimeouts:
    """How long a provider waits on its server, in seconds (``None``: no limit).

    - ``connect`` (10 s): opening the connection (TCP and TLS). A connect
      timeout is retried like any connection failure.
    - ``first_byte`` (180 s): from sending the request to the first byte of
      the reply's body. Cloud APIs answer within seconds; a local model may
      spend a minute loading and more reading a long prompt before it writes
      anything. Not retried, so a server that never answers holds a caller
      about this long, not this long times the retries.
    - ``read`` (120 s): the longest silence between two pieces of a reply
      once it has begun (room for a reasoning model's pauses). Not retried.
    """

    connect: float | None = 10.0
    first_byte: float | None = 180.0
    read: float | None = 120.0

    def __post_init__(self) -> None:
        for name in ("connect", "first_byte", "read"):
            value = getattr(self, name)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if value is not None and not (number and value > 0 and not math.isnan(value)):
                raise InvalidArgumentError(f"The {name} timeout must be a positive number of seconds or None, "
                                           f"not {value!r}.")

    @classmethod
    def of(cls, timeout: Any) -> "ProviderTimeouts":
        """Timeouts from ``get_provider``'s ``timeout``: None (the defaults), seconds, or a ``ProviderTimeouts``.

        A number is the older single setting: it bounds the first byte and each
        silence (``connect`` is the smaller of it and 10 s). An ``httpx.Timeout``
        gives its ``connect`` and uses its ``read`` for both waits.
        """
        if timeout is None:
            return cls()
        if isinstance(timeout, cls):
            return timeout
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            seconds = float(timeout)
            return cls(connect=min(seconds, 10.0), first_byte=seconds, read=seconds)
        read = getattr(timeout, "read", False)
        if read is not False and hasattr(timeout, "connect"):  # an httpx.Timeout
            return cls(connect=timeout.connect, first_byte=read, read=read)
        raise InvalidArgumentError(
            f"timeout must be seconds, a ProviderTimeouts or None, not {type(timeout).__name__}."
        )


__getattr__, __dir__ = made_at_first_use(globals(), "._stream_events", _LATER)


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
        from ._stream_events import _Accumulator

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
