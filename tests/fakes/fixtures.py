"""Pytest fixtures for the fake provider server (loaded as a plugin by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .llm_server import FakeLLMServer, Reply, ToolCallSpec

__all__ = ["fake_llm", "fake_llm_session", "Reply", "ToolCallSpec"]


@pytest.fixture(scope="session")
def fake_llm_session() -> Iterator[FakeLLMServer]:
    """One fake server thread for the whole session."""
    server = FakeLLMServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_llm(fake_llm_session: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The shared fake server, reset before and after each test (script, requests, models, stalls)."""
    fake_llm_session.reset()
    yield fake_llm_session
    fake_llm_session.reset()
