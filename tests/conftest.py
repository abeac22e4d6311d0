"""Shared fixtures. Area fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture(autouse=True)
def _no_real_provider_keys(monkeypatch, tmp_path):
    """Tests never reach a real provider, a real keyring or the user's config."""
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("AIAGENTS_DB", raising=False)
    monkeypatch.delenv("AIAGENTS_CONFIG", raising=False)
    yield


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _isolated_tool_registry():
    """Tools a test registers (the seed's get_weather, a user's calculate) never leak into the next test."""
    from tui_agents.tools.registry import default_registry

    saved = dict(default_registry._tools)
    yield
    default_registry._tools.clear()
    default_registry._tools.update(saved)


@pytest.fixture
def package_logger():
    """The ``tui_agents`` logger, put back as it was after the test (``setup_logging`` adds a file handler)."""
    import logging

    logger = logging.getLogger("tui_agents")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    for handler in logger.handlers:
        if handler not in saved[0]:
            handler.close()
    logger.handlers[:], logger.level, logger.propagate = saved
