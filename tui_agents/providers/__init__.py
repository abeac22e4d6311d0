"""Model providers: one interface over the Anthropic, OpenAI (and compatible) and Ollama HTTP APIs.

``get_provider(name, ...)`` returns a ``Provider`` whose ``stream`` yields the
typed events of ``providers.base``; the names come from ``providers.registry``
(one record per provider). Consumers that stop iterating early should wrap the
stream in ``contextlib.aclosing`` so the HTTP response is closed at once;
cancelling the consuming task closes it too.

Names are imported lazily: reading the registry loads no HTTP or pydantic code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import registry

__all__ = [
    "get_provider",
    "PROVIDER_NAMES",
    "Provider",
    "ProviderTimeouts",
    "Readiness",
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
    "registry",
]

_LAZY = {
    "Provider": "base", "StreamEvent": "base", "TextDeltaEvent": "base", "ToolCallStartEvent": "base",
    "ToolCallDeltaEvent": "base", "ToolCallEndEvent": "base", "UsageEvent": "base", "StopEvent": "base",
    "ProviderTimeouts": "base", "ThinkingDeltaEvent": "base", "ThinkingBlockEvent": "base",
    "DEFAULT_MODELS": "models", "context_window": "models", "Readiness": "registry",
}


def __getattr__(name: str) -> Any:
    if name == "PROVIDER_NAMES":
        return registry.names()
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tui_agents.providers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    import httpx

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
    from .registry import Readiness


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
    number of seconds for every wait. An unknown name raises ``ConfigError``.
    """
    cls = registry.get(name).adapter_class()
    return cls(api_key=api_key, model=model, base_url=base_url, timeout=timeout, max_retries=max_retries, **options)
