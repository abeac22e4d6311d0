"""The settings file is written with tomlkit: whatever text a setting holds reads back the same."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_agents.config import AppConfig, ProviderSettings, ProvidersConfig, load_config, save_config
from tui_agents.errors import ConfigError

# Any Unicode text hypothesis makes, outside and inside the Basic Multilingual Plane (no lone surrogates).
texts = st.text(max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=texts, theme=texts, user=texts, url=texts, keymap=st.dictionaries(texts, texts, max_size=4))
def test_any_text_in_settings_round_trips(tmp_path, model, theme, user, url, keymap):
    config = AppConfig(
        default_model=model, theme=theme, user_id=user, keymap=keymap,
        providers=ProvidersConfig(openai=ProviderSettings(base_url=url, default_model=model)),
    )
    path = save_config(config, tmp_path / "config.toml")
    assert load_config(path) == config


def test_emoji_quotes_newlines_and_backslashes_round_trip(tmp_path):
    tricky = 'Grin 😀 "quoted" \'single\'\nsecond line\ttab C:\\Users\\me \\u0041 """ \u0000 \u007f \U0001f9ea'
    config = AppConfig(default_model=tricky, theme="🎨 theme", user_id="ünï\\cödé",
                       keymap={'a "key" 😀': "ctrl+\\", "thread.new": "ctrl+t"})
    path = save_config(config, tmp_path / "config.toml")

    raw = path.read_text(encoding="utf-8")
    assert "\\ud83d" not in raw.lower()  # no surrogate-pair escapes, which TOML forbids
    assert "😀" in raw  # written as the character itself, which TOML allows
    assert tomllib.loads(raw)["default_model"] == tricky
    assert load_config(path) == config


def test_a_lone_surrogate_is_refused_with_a_plain_error_and_the_old_file_kept(tmp_path):
    path = save_config(AppConfig(default_model="good"), tmp_path / "config.toml")

    with pytest.raises(ConfigError, match="broken character"):
        save_config(AppConfig(default_model="half \ud83d pair"), path)

    assert load_config(path).default_model == "good"
