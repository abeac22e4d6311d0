"""Default models and known context windows per provider, read from ``providers.registry``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from . import registry

__all__ = ["DEFAULT_MODELS", "FALLBACK_CONTEXT_WINDOWS", "context_window"]


class _SpecField(Mapping[str, object]):
    """A live ``name -> field`` view of the registry (a provider registered later shows up too)."""

    def __init__(self, attr: str) -> None:
        self._attr = attr

    def __getitem__(self, name: str) -> object:
        spec = registry.find(name)
        if spec is None:
            raise KeyError(name)
        return getattr(spec, self._attr)

    def __iter__(self) -> Iterator[str]:
        return iter(registry.names())

    def __len__(self) -> int:
        return len(registry.names())


DEFAULT_MODELS: Mapping[str, str] = _SpecField("default_model")  # type: ignore[assignment]
"""The model used when none is given."""

FALLBACK_CONTEXT_WINDOWS: Mapping[str, int] = _SpecField("fallback_window")  # type: ignore[assignment]
"""Used for a model that is not in the provider's table."""


def context_window(provider: str, model: str | None) -> int:
    """The context window of ``model`` in tokens, or a sane fallback for the provider."""
    spec = registry.find(provider)
    return spec.context_window(model) if spec is not None else 8_192
