"""The one place that knows each provider: name, label, env vars, default model, limits, windows, readiness.

Plain data (no httpx, no pydantic), so the command line, the settings and the
app's first frame can read it without loading any provider code. Adding a
provider is one adapter module plus one ``register(ProviderSpec(...))`` call.

    spec = registry.get("ollama")
    spec.label, spec.key_env, spec.default_model, spec.context_window("llama3.2")
    await provider.check()  # Readiness(ok, problem, models)
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "DEFAULT_PROVIDER",
    "ProviderSpec",
    "Readiness",
    "get",
    "names",
    "register",
    "specs",
    "unregister",
]


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether a chat can start with a provider, and if not, what to do about it (one plain sentence)."""

    ok: bool
    problem: str = ""
    models: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Everything outside the adapter module needs to know about one provider."""

    name: str
    """Lower-case id used in config, CLI, the keyring and thread records."""
    label: str
    """How the provider is shown to people, e.g. "OpenAI"."""
    adapter: str
    """``"module:Class"`` of the ``Provider`` subclass, imported on first use."""
    default_model: str
    """The model used when none is given."""
    key_env: str | None = None
    """Environment variable holding the API key; None when the provider takes no key."""
    key_required: bool = True
    """Whether a request needs a key at the default base URL (a custom base URL never needs one)."""
    base_url_env: str | None = None
    """Environment variable naming the server, e.g. ``OLLAMA_HOST``."""
    default_base_url: str = ""
    """The public API (or the local server) used when nothing else names one."""
    rpm: int | None = None
    """Default requests a minute (None: not limited)."""
    tpm: int | None = None
    """Default tokens a minute (None: not limited)."""
    model_limits: Mapping[str, tuple[int | None, int | None]] = field(default_factory=dict)
    """``model -> (rpm, tpm)`` where a model's published limits differ from the provider's."""
    fallback_window: int = 8_192
    """Context window of a model missing from ``windows``."""
    windows: Mapping[str, int] = field(default_factory=dict)
    """Context windows by model-name prefix; the longest matching prefix wins."""
    local: bool = False
    """A server on the user's machine: readiness means reachable and with at least one model."""
    no_models_hint: str = ""
    """What to do when a local server lists no models."""

    @property
    def keyed(self) -> bool:
        """Whether the provider takes an API key at all (the settings show a key field)."""
        return self.key_env is not None

    def needs_key(self, base_url: str | None = None) -> bool:
        """Whether a request needs a key: an OpenAI-compatible server at a custom URL needs none."""
        if not self.keyed or not self.key_required:
            return False
        return not base_url or base_url.rstrip("/") == self.default_base_url.rstrip("/")

    def context_window(self, model: str | None) -> int:
        """The context window of ``model`` in tokens, or the provider's fallback."""
        name = (model or "").lower()
        if self.local:
            name = name.rsplit("/", 1)[-1]  # "library/llama3.2:3b" -> "llama3.2:3b"
        best = max((prefix for prefix in self.windows if name.startswith(prefix)), key=len, default=None)
        return self.windows[best] if best is not None else self.fallback_window

    def adapter_class(self) -> type[Any]:
        """The ``Provider`` subclass (imports the adapter module)."""
        module, _, cls = self.adapter.partition(":")
        return getattr(importlib.import_module(module), cls)

    def missing_key_problem(self) -> str:
        """The sentence shown when no key is set."""
        return (f"No API key for {self.name}: set {self.key_env}, run `aiagents-tui keys set {self.name}`, "
                "or add it in Settings (f2).")


_REGISTRY: dict[str, ProviderSpec] = {}


def register(spec: ProviderSpec) -> ProviderSpec:
    """Add (or replace) a provider; it then appears in the CLI, settings, model picker and limits."""
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a provider (tests that registered their own)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> ProviderSpec:
    """The spec of ``name``; an unknown name raises ``ConfigError`` listing the known ones."""
    spec = _REGISTRY.get((name or "").strip().lower())
    if spec is None:
        from ..errors import ConfigError

        raise ConfigError(f"Unknown provider {name!r}: use one of {', '.join(names())}.")
    return spec


def find(name: str | None) -> ProviderSpec | None:
    """The spec of ``name``, or None."""
    return _REGISTRY.get((name or "").strip().lower())


def names() -> tuple[str, ...]:
    """Registered provider names, in registration order (the default first)."""
    return tuple(_REGISTRY)


def specs() -> Iterator[ProviderSpec]:
    """Registered specs, in registration order."""
    return iter(tuple(_REGISTRY.values()))


def all_specs() -> Mapping[str, ProviderSpec]:
    """A read-only view of the registry."""
    return MappingProxyType(_REGISTRY)


# Conservative limit defaults: the published entry tiers (Anthropic tier 1: 50 requests and
# 30k input tokens a minute; OpenAI tier 1 gpt-4o: 500 requests and 30k tokens a minute).
# Ollama windows are the model's trained window; the server may run it with a smaller num_ctx.
register(ProviderSpec(
    name="ollama", label="Ollama", adapter="tui_agents.providers.ollama:OllamaProvider",
    default_model="llama3.2", key_env=None, key_required=False, base_url_env="OLLAMA_HOST",
    default_base_url="http://127.0.0.1:11434", fallback_window=8_192, local=True,
    no_models_hint="run `ollama pull llama3.2`.",
    windows={
        "llama3.1": 131_072, "llama3.2": 131_072, "llama3.3": 131_072, "llama3": 8_192, "llama2": 4_096,
        "qwen3": 40_960, "qwen2.5": 32_768, "qwen2": 32_768, "mistral-nemo": 131_072, "mistral": 32_768,
        "mixtral": 32_768, "gemma3": 131_072, "gemma2": 8_192, "phi4": 16_384, "phi3": 131_072,
        "deepseek-r1": 131_072, "gpt-oss": 131_072,
    },
))
register(ProviderSpec(
    name="openai", label="OpenAI", adapter="tui_agents.providers.openai:OpenAIProvider",
    default_model="gpt-4.1", key_env="OPENAI_API_KEY", base_url_env="OPENAI_BASE_URL",
    default_base_url="https://api.openai.com/v1", rpm=500, tpm=30_000,
    model_limits={"gpt-4o-mini": (500, 200_000)}, fallback_window=128_000,
    windows={
        "gpt-5": 400_000, "gpt-4.1": 1_047_576, "gpt-4o": 128_000, "gpt-4-turbo": 128_000, "gpt-4-32k": 32_768,
        "gpt-4": 8_192, "gpt-3.5-turbo": 16_385, "o1-mini": 128_000, "o1": 200_000, "o3": 200_000,
        "o4-mini": 200_000, "chatgpt-4o": 128_000,
    },
))
register(ProviderSpec(
    name="anthropic", label="Anthropic", adapter="tui_agents.providers.anthropic:AnthropicProvider",
    default_model="claude-sonnet-4-5", key_env="ANTHROPIC_API_KEY", base_url_env="ANTHROPIC_BASE_URL",
    default_base_url="https://api.anthropic.com", rpm=50, tpm=30_000, fallback_window=200_000,
    windows={"claude-": 200_000},
))

DEFAULT_PROVIDER = "ollama"
"""Provider of new chats when the settings name none (a local server: no key needed)."""
