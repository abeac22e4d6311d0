"""A fourth provider, registered by this test alone, shows up in the CLI, the settings and the model picker."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.config import AppConfig, ProviderSettings
from tui_agents.providers import registry
from tui_agents.providers.openai import OpenAIProvider

from .conftest import last_reply, ready, rendered_text, send, wait_until

pytestmark = pytest.mark.timeout(60)


class EchoProvider(OpenAIProvider):
    """An OpenAI-compatible server under its own name: the whole adapter a new provider needs here."""

    name = "echo"
    label = "Echo"


ECHO = registry.ProviderSpec(
    name="echo", label="Echo", adapter=f"{__name__}:EchoProvider", default_model="echo-1",
    key_env="ECHO_API_KEY", base_url_env="ECHO_BASE_URL", default_base_url="https://echo.invalid/v1",
    rpm=7, tpm=700, fallback_window=4_096, windows={"fake-model-large": 32_000},
)


@pytest.fixture
def echo():
    registry.register(ECHO)
    yield ECHO
    registry.unregister("echo")


def test_the_registry_feeds_cli_secrets_limits_and_windows(echo, capsys, monkeypatch):
    from tui_agents.cli import build_parser, main
    from tui_agents.limits import get_rate_limiter
    from tui_agents.providers import DEFAULT_MODELS, context_window
    from tui_agents.secrets import env_var_for

    assert build_parser().parse_args(["--provider", "echo"]).provider == "echo"
    monkeypatch.setenv("ECHO_API_KEY", "k-echo")
    assert main(["keys", "list"]) == 0
    assert "echo: key set" in capsys.readouterr().out
    assert env_var_for("echo") == "ECHO_API_KEY"
    assert DEFAULT_MODELS["echo"] == "echo-1"
    assert context_window("echo", "fake-model-large-2") == 32_000 and context_window("echo", "x") == 4_096
    limiter = get_rate_limiter("echo", "echo-1")
    assert (limiter.rpm, limiter.tpm) == (7, 700)
    assert AppConfig(default_provider="echo").providers.get("echo") == ProviderSettings()


def test_an_unknown_provider_is_a_config_error_naming_the_known_ones():
    from tui_agents.errors import ConfigError
    from tui_agents.providers import get_provider

    with pytest.raises(ConfigError, match="use one of ollama, openai, anthropic"):
        get_provider("nope")


async def test_settings_and_model_picker_offer_the_new_provider_and_a_chat_runs_on_it(echo, fake_llm, make_app,
                                                                                      monkeypatch):
    monkeypatch.delenv("ECHO_API_KEY", raising=False)
    fake_llm.models = ["fake-model-small", "fake-model-large"]
    fake_llm.script(Reply(text="echoed"))
    config = AppConfig(default_provider="echo")
    config.providers.get("echo").base_url = fake_llm.base_url + "/v1"  # a custom URL needs no key
    app = make_app(provider=None, model=None, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app.provider_ok is True, what="echo ready without a key")
        await pilot.press("f2")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen")
        assert app.screen.query_one("#url-echo").value == fake_llm.base_url + "/v1"
        assert app.screen.query_one("#key-echo").password
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MainScreen")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ModelPickerScreen")
        assert app.screen.query_one("#provider").value == "echo"
        await wait_until(pilot, lambda: app.screen.query_one("#models").option_count == 2, what="echo's models")
        models = app.screen.query_one("#models")
        models.focus()
        models.highlighted = models.get_option_index("fake-model-large")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.model_name == "fake-model-large")
        await send(pilot, "hello echo")
        await wait_until(pilot, lambda: last_reply(app) is not None and "echoed" in rendered_text(last_reply(app)))
        assert app.status_bar.provider == "echo"
    assert fake_llm.requests[-1].path == "/v1/chat/completions"


async def test_an_openai_compatible_server_without_a_key_is_ready_lists_models_and_chats(fake_llm, make_app,
                                                                                       monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url + "/v1")  # a local llama.cpp / vLLM / LM Studio
    fake_llm.models = ["local-model"]
    fake_llm.script(Reply(text="served locally"))
    app = make_app(provider="openai", model=None, config=AppConfig(default_provider="openai"))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app.provider_ok is True, what="ready without a key")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ModelPickerScreen")
        await wait_until(pilot, lambda: app.screen.query_one("#models").option_count == 1, what="the server's models")
        await pilot.press("escape")
        await send(pilot, "hello")
        await wait_until(pilot, lambda: last_reply(app) is not None
                         and "served locally" in rendered_text(last_reply(app)), what="the reply")
    assert "authorization" not in fake_llm.requests[-1].headers
