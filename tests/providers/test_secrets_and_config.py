"""Keys (env, keyring, masking), base URLs from the environment, defaults and context windows."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend

from tui_agents import secrets
from tui_agents.errors import AuthenticationError, ConfigError, MissingAPIKeyError
from tui_agents.providers import DEFAULT_MODELS, context_window, get_provider
from tui_agents.providers.ollama import ollama_base_url
from tui_agents.secrets import KeyringUnavailableError, Secret
from tui_agents.types import Message

from tests.fakes import Reply

from .conftest import TEST_KEY, collect

HELLO = [Message(role="user", content="hi")]


class MemoryKeyring(KeyringBackend):
    """An in-memory keyring backend standing in for the OS one."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        del self.store[(service, username)]


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def null_keyring():
    from keyring.backends import null

    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    yield
    keyring.set_keyring(previous)


def test_secret_is_masked_everywhere_but_reveal():
    secret = Secret(TEST_KEY)
    assert TEST_KEY not in str(secret) and TEST_KEY not in repr(secret) and TEST_KEY not in f"{secret}"
    assert repr(secret).endswith("cdef')")
    assert secret.reveal() == TEST_KEY
    assert Secret("short").masked == "****"


@pytest.mark.parametrize("name", ["anthropic", "openai", "ollama"])
def test_key_is_not_in_the_provider_repr(name):
    provider = get_provider(name, api_key=TEST_KEY)
    assert TEST_KEY not in repr(provider) and TEST_KEY not in str(provider)
    assert TEST_KEY not in repr(vars(provider))


def test_null_keyring_gives_a_clear_message_naming_the_env_var(null_keyring):
    with pytest.raises(KeyringUnavailableError, match="ANTHROPIC_API_KEY"):
        secrets.set_key("anthropic", "sk-whatever")
    with pytest.raises(KeyringUnavailableError, match="OPENAI_API_KEY"):
        secrets.delete_key("openai")
    assert secrets.get_key("anthropic") is None
    assert secrets.has_key("anthropic") is False


def test_a_locked_keyring_gives_typed_errors_and_the_env_var_still_works(monkeypatch):
    from keyring.errors import KeyringLocked

    class LockedKeyring(MemoryKeyring):
        def get_password(self, service, username):
            raise KeyringLocked("the keyring is locked")

    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        assert secrets.get_key("openai") is None
        with pytest.raises(KeyringUnavailableError, match="refused to delete the openai key"):
            secrets.delete_key("openai")
        monkeypatch.setenv("OPENAI_API_KEY", "from-env-0123456789")
        assert secrets.get_key("openai").reveal() == "from-env-0123456789"
    finally:
        keyring.set_keyring(previous)


def test_env_var_wins_over_keyring(memory_keyring, monkeypatch):
    secrets.set_key("openai", "from-keyring-0123456789")
    assert secrets.get_key("openai").reveal() == "from-keyring-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", "from-env-0123456789")
    assert secrets.get_key("openai").reveal() == "from-env-0123456789"


async def test_async_wrappers_round_trip(memory_keyring):
    await secrets.aset_key("anthropic", Secret("sk-ant-roundtrip-000"))
    assert await secrets.ahas_key("anthropic")
    assert (await secrets.aget_key("anthropic")).reveal() == "sk-ant-roundtrip-000"
    assert await secrets.adelete_key("anthropic") is True
    assert await secrets.adelete_key("anthropic") is False
    assert await secrets.aget_key("anthropic") is None


async def test_provider_takes_its_key_from_the_keyring(memory_keyring, fake_llm):
    secrets.set_key("anthropic", "sk-ant-from-keyring-42")
    provider = get_provider("anthropic", base_url=fake_llm.base_url)
    assert provider.has_key
    await collect(provider.stream(HELLO))
    assert fake_llm.requests[-1].headers["x-api-key"] == "sk-ant-from-keyring-42"
    await provider.aclose()


@pytest.mark.parametrize(("name", "var"), [("anthropic", "ANTHROPIC_API_KEY"), ("openai", "OPENAI_API_KEY")])
async def test_missing_key_is_raised_at_the_first_request_not_at_construction(name, var, fake_llm):
    provider = get_provider(name)  # the first-run screen can build one without a key
    assert provider.has_key is False
    with pytest.raises(MissingAPIKeyError) as info:
        await collect(provider.stream(HELLO))
    assert var in str(info.value) and f"aiagents-tui keys set {name}" in str(info.value)
    with pytest.raises(MissingAPIKeyError):
        await provider.list_models()
    assert fake_llm.requests == []
    await provider.aclose()


async def test_env_key_and_base_url_are_used(monkeypatch, fake_llm):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-key-123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url + "/v1")
    provider = get_provider("openai")
    await collect(provider.stream(HELLO))
    assert fake_llm.requests[-1].headers["authorization"] == "Bearer sk-env-key-123456789"
    await provider.aclose()


async def test_anthropic_base_url_from_env_gets_v1_messages_appended(monkeypatch, fake_llm):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_llm.base_url + "/")
    provider = get_provider("anthropic", api_key="k")
    await collect(provider.stream(HELLO))
    assert fake_llm.requests[-1].path == "/v1/messages"
    await provider.aclose()


async def test_openai_compatible_server_needs_no_key(fake_llm):
    provider = get_provider("openai", base_url=fake_llm.base_url + "/v1")
    assert provider.has_key
    completion = await provider.complete([Message(role="user", content="ping")])
    assert completion.message.content == "echo: ping"
    assert "authorization" not in fake_llm.requests[-1].headers
    await provider.aclose()


async def test_key_echoed_in_a_mid_stream_error_is_scrubbed(fake_llm):
    fake_llm.script(Reply(status=401, body={"type": "error", "error": {
        "type": "authentication_error", "message": f"bad key {TEST_KEY} given"}}))
    provider = get_provider("anthropic", api_key=TEST_KEY, base_url=fake_llm.base_url, max_retries=0)
    with pytest.raises(AuthenticationError) as info:
        await collect(provider.stream(HELLO))
    assert TEST_KEY not in str(info.value) and "bad key *** given" in str(info.value)
    await provider.aclose()


@pytest.mark.parametrize(("value", "expected"), [
    ("", "http://localhost:11434"),
    ("example.com", "http://example.com:11434"),
    ("example.com:56789", "http://example.com:56789"),
    (":56789", "http://127.0.0.1:56789"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("0.0.0.0:8080", "http://127.0.0.1:8080"),
    ("http://example.com", "http://example.com:80"),
    ("http://example.com:11434/", "http://example.com:11434"),
    ("https://example.com", "https://example.com:443"),
    ("https://example.com:8443/ollama/", "https://example.com:8443/ollama"),
    ("[::1]:9999", "http://[::1]:9999"),
    ("::1", "http://[::1]:11434"),
    ("  10.0.0.5:1234  ", "http://10.0.0.5:1234"),
])
def test_ollama_host_forms(value, expected):
    assert ollama_base_url(value) == expected


async def test_ollama_host_env_reaches_the_fake(monkeypatch, fake_llm):
    monkeypatch.setenv("OLLAMA_HOST", fake_llm.host_port)
    provider = get_provider("ollama")
    assert provider.base_url == fake_llm.base_url
    assert await provider.list_models() == fake_llm.models
    await provider.aclose()


def test_defaults_and_context_windows():
    assert set(DEFAULT_MODELS) == {"anthropic", "openai", "ollama"}
    assert get_provider("ollama").model == DEFAULT_MODELS["ollama"]
    assert context_window("anthropic", "claude-sonnet-4-5") == 200_000
    assert context_window("openai", "gpt-4o-mini") == 128_000
    assert context_window("openai", "gpt-4") == 8_192
    assert context_window("ollama", "llama3.2:3b") == 131_072
    assert context_window("ollama", "something-new") > 0
    assert context_window("nobody", None) > 0


async def test_credentials_in_a_base_url_stay_out_of_errors_and_repr(unused_tcp_port):
    provider = get_provider("openai", base_url=f"http://user:hunter2pass@127.0.0.1:{unused_tcp_port}/v1",
                            max_retries=0)
    assert "hunter2pass" not in repr(provider)
    with pytest.raises(Exception) as info:
        await collect(provider.stream(HELLO))
    assert "hunter2pass" not in str(info.value)
    await provider.aclose()


@pytest.mark.parametrize("base_url", ["http://user:hunter2pass@127.0.0.1:port/v1", "http://user:hunter2pass@exa\x00mple/v1"])
async def test_a_malformed_base_url_is_a_config_error_without_its_credentials(base_url):
    provider = get_provider("openai", base_url=base_url, max_retries=0)
    with pytest.raises(ConfigError, match="not a valid URL") as info:
        await collect(provider.stream(HELLO))
    assert "hunter2pass" not in str(info.value)
    with pytest.raises(ConfigError):
        await provider.list_models()
    await provider.aclose()


@pytest.mark.parametrize("url, shown", [
    ("http://user:pa/ss@host", "http://host"),  # a "/" in the password makes it no URL at all
    ("http://user:pa/ss@host:8080/v1", "http://host:8080/v1"),
    ("http://user:p@ss@example.com/v1", "http://example.com/v1"),
    ("http://u:p#ss@example.com/", "http://example.com/"),
    ("http://:sk-token@[::1]:11434", "http://[::1]:11434"),
    ("https://api.example.com/v1?api-key=sk-secret", "https://api.example.com/v1"),
    ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ("user:pa/ss@host:11434", "host:11434"),
])
def test_safe_url_never_shows_a_password(url, shown):
    from tui_agents.providers._errors import safe_url

    assert safe_url(url) == shown
    for secret in ("pa/ss", "p@ss", "p#ss", "sk-token", "sk-secret"):
        assert secret not in safe_url(url)


async def test_a_password_with_a_slash_stays_out_of_the_error_and_repr():
    provider = get_provider("openai", base_url="http://user:hunter/2pass@127.0.0.1:9/v1", max_retries=0)
    assert "hunter/2pass" not in repr(provider) and "2pass" not in repr(provider)
    with pytest.raises(ConfigError) as info:
        await collect(provider.stream(HELLO))
    assert "2pass" not in str(info.value)
    await provider.aclose()
