"""Helpers for provider tests: build a provider of each kind pointed at the fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from tui_agents.providers import Provider, get_provider

PROVIDERS = ("anthropic", "openai", "ollama")
TEST_KEY = "sk-test-SECRETVALUE-0123456789abcdef"


def base_url_for(name: str, fake) -> str:
    """The base URL each provider expects for the fake (OpenAI's includes /v1)."""
    return fake.base_url + "/v1" if name == "openai" else fake.base_url


@pytest.fixture
async def make_provider(fake_llm) -> AsyncIterator[Callable[..., Provider]]:
    """A factory of providers aimed at the fake server, closed after the test."""
    made: list[Provider] = []

    def make(name: str, **kwargs) -> Provider:
        kwargs.setdefault("api_key", TEST_KEY)
        kwargs.setdefault("base_url", base_url_for(name, fake_llm))
        kwargs.setdefault("model", "test-model")
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 20)
        provider = get_provider(name, **kwargs)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


async def collect(stream) -> list:
    """All events of a stream."""
    return [event async for event in stream]
