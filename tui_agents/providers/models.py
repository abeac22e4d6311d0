"""Default models and known context windows per provider."""

from __future__ import annotations

__all__ = ["DEFAULT_MODELS", "FALLBACK_CONTEXT_WINDOWS", "context_window"]

DEFAULT_MODELS: dict[str, str] = {
    "anthropic": "claude-sonnet-4-5",
    "openai": "gpt-4.1",
    "ollama": "llama3.2",
}
"""The model used when none is given."""

FALLBACK_CONTEXT_WINDOWS: dict[str, int] = {"anthropic": 200_000, "openai": 128_000, "ollama": 8_192}
"""Used for a model that is not in the table below."""

# Longest matching prefix wins. Ollama windows are the model's trained window;
# the server may run it with a smaller num_ctx.
_WINDOWS: dict[str, dict[str, int]] = {
    "anthropic": {
        "claude-": 200_000,
    },
    "openai": {
        "gpt-5": 400_000,
        "gpt-4.1": 1_047_576,
        "gpt-4o": 128_000,
        "gpt-4-turbo": 128_000,
        "gpt-4-32k": 32_768,
        "gpt-4": 8_192,
        "gpt-3.5-turbo": 16_385,
        "o1-mini": 128_000,
        "o1": 200_000,
        "o3": 200_000,
        "o4-mini": 200_000,
        "chatgpt-4o": 128_000,
    },
    "ollama": {
        "llama3.1": 131_072,
        "llama3.2": 131_072,
        "llama3.3": 131_072,
        "llama3": 8_192,
        "llama2": 4_096,
        "qwen3": 40_960,
        "qwen2.5": 32_768,
        "qwen2": 32_768,
        "mistral-nemo": 131_072,
        "mistral": 32_768,
        "mixtral": 32_768,
        "gemma3": 131_072,
        "gemma2": 8_192,
        "phi4": 16_384,
        "phi3": 131_072,
        "deepseek-r1": 131_072,
        "gpt-oss": 131_072,
    },
}


def context_window(provider: str, model: str | None) -> int:
    """The context window of ``model`` in tokens, or a sane fallback for the provider."""
    table = _WINDOWS.get(provider, {})
    name = (model or "").lower()
    if provider == "ollama":
        name = name.rsplit("/", 1)[-1]  # "library/llama3.2:3b" -> "llama3.2:3b"
    best = max((prefix for prefix in table if name.startswith(prefix)), key=len, default=None)
    if best is not None:
        return table[best]
    return FALLBACK_CONTEXT_WINDOWS.get(provider, 8_192)
