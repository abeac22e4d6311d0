"""The model picker: filters as you type, marks the current model, arrows and enter pick, free names work."""

from __future__ import annotations

from tests.tui.conftest import ready, screen_text, wait_until
from tui_agents.config import AppConfig


async def _open_picker(pilot, count: int) -> None:
    app = pilot.app
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "ModelPickerScreen", what="the picker")
    await wait_until(pilot, lambda: app.screen.query_one("#models").option_count == count, what="the model list")


async def test_typing_filters_the_list_and_arrows_with_enter_pick(ollama_env, make_app):
    ollama_env.models = ["fake-model-large", "fake-model-small", "llama3.2:3b"]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _open_picker(pilot, 3)
        assert app.focused is app.screen.query_one("#model-name")
        assert "● fake-model-small  current" in screen_text(app)
        await pilot.press(*"fake")
        await wait_until(pilot, lambda: app.screen.query_one("#models").option_count == 2, what="filtered to 2")
        assert "2 of 3 models" in screen_text(app)
        await pilot.press("up")  # from the current (small) to large, focus still in the filter box
        assert app.focused is app.screen.query_one("#model-name")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.model_name == "fake-model-large", what="the picked model")
        assert type(app.screen).__name__ == "MainScreen"


async def test_a_typed_name_that_matches_nothing_is_used_as_typed(ollama_env, make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _open_picker(pilot, 2)
        await pilot.press(*"qwen3:8b")
        await wait_until(pilot, lambda: app.screen.query_one("#models").option_count == 0, what="no match")
        assert "enter uses 'qwen3:8b' as typed" in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.model_name == "qwen3:8b", what="the typed model")
        assert app.provider_name == "ollama"


async def test_switching_provider_starts_on_that_providers_model_never_the_old_name(ollama_env, make_app,
                                                                                monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", ollama_env.base_url + "/v1")
    ollama_env.models = ["fake-model-large", "fake-model-small"]
    app = make_app(model="fake-model-small")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _open_picker(pilot, 2)
        app.screen.query_one("#provider").value = "openai"
        # gpt-4.1 (openai's default) is not served here: the first listed model, not ollama's "fake-model-small"
        await wait_until(pilot, lambda: app.screen.query_one("#models").highlighted == 0, what="first highlighted")
        assert "current" not in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.provider_name == "openai", what="the switch")
        assert app.model_name == "fake-model-large"


async def test_switching_to_a_provider_that_lists_nothing_uses_its_default_model(ollama_env, make_app, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    config = AppConfig()
    config.providers.get("anthropic").default_model = "claude-test-default"
    app = make_app(config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _open_picker(pilot, 2)
        app.screen.query_one("#provider").value = "anthropic"
        await wait_until(pilot, lambda: "can still type" in screen_text(app), what="the listing failure")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.provider_name == "anthropic", what="the switch")
        assert app.model_name == "claude-test-default"


async def test_switching_back_to_the_chats_provider_starts_on_its_current_model(ollama_env, make_app, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", ollama_env.base_url + "/v1")
    ollama_env.models = ["fake-model-large", "fake-model-small"]
    app = make_app(model="fake-model-small")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await _open_picker(pilot, 2)
        models = app.screen.query_one("#models")
        app.screen.query_one("#provider").value = "openai"
        await wait_until(pilot, lambda: models.option_count == 2 and "current" not in screen_text(app),
                         what="openai's models")
        app.screen.query_one("#provider").value = "ollama"
        await wait_until(pilot, lambda: "● fake-model-small  current" in screen_text(app), what="ollama's models")
        assert models.highlighted == 1
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen", what="closed")
        assert (app.provider_name, app.model_name) == ("ollama", "fake-model-small")
