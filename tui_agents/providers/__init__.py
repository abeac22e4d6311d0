"""Model providers: one interface over the Anthropic, OpenAI (and compatible) and Ollama HTTP APIs.

``get_provider("anthropic" | "openai" | "ollama", ...)`` returns a ``Provider``
whose ``stream`` yields the typed events of ``providers.base``. Consumers that
stop iterating early should wrap the stream in ``contextlib.aclosing`` so the
HTTP response is closed at once; cancelling the consuming task closes it too.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..errors import ConfigError
from ..secrets import Secret
from .base import (
    Provider,
    ProviderTimeouts,
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
from .models import DEFAULT_MODELS, context_window

__all__ = [
    "get_provider",
    "PROVIDER_NAMES",
    "Provider",
    "ProviderTimeouts",
    "StreamEvent",
    "TextDeltaEvent",
    "ThinkingDeltaEvent",
    "ThinkingBlockEvent",
    "ToolCallStartEvent",
    "ToolCallDeltaEvent",
    "ToolCallEndEvent",
    "UsageEvent",
    "StopEvent",
    "DEFAULT_MODELS",
    "context_window",
]

PROVIDER_NAMES = ("anthropic", "openai", "ollama")


def get_provider(
    name: str,
    api_key: str | Secret | None = None,
    model: str | None = None,
    base_url: str | None = None,
    timeout: ProviderTimeouts | float | httpx.Timeout | None = None,
    max_retries: int = 2,
    **options: Any,
) -> Provider:
    """Build the provider called ``name``; ``options`` (temperature, max_tokens, stop...) apply to every request.

    ``thinking`` (True, ``{"budget_tokens": N}`` or "low" | "medium" | "high"; default off) turns
    the model's thinking on for every request; a ``stream``/``complete`` call may override it.
    The key comes from ``api_key``, else the env var, else the OS keyring; a
    missing key raises ``MissingAPIKeyError`` at the first request (check
    ``provider.has_key`` to ask first). ``timeout`` is a ``ProviderTimeouts``
    (connect 10 s, first byte 180 s, between chunks 120 s by default), or a
    number of seconds for every wait, as before.
    """
    kwargs: dict[str, Any] = dict(api_key=api_key, model=model, base_url=base_url, timeout=timeout,
                                  max_retries=max_retries, **options)
    key = (name or "").strip().lower()
    if key == "anthropic":
        from .anthropic import AnthropicProvider

        return AnthropicProvider(**kwargs)
    if key == "openai":
        from .openai import OpenAIProvider

        return OpenAIProvider(**kwargs)
    if key == "ollama":
        from .ollama import OllamaProvider

        return OllamaProvider(**kwargs)
    raise ConfigError(f"Unknown provider {name!r}: use one of {', '.join(PROVIDER_NAMES)}.")
