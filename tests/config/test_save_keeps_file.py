"""Saving the settings changes only what changed in the user's file: comments, order and layout stay."""

from __future__ import annotations

import tomllib

import pytest

from tui_agents.approvals import ToolApprovals
from tui_agents.config import (AppConfig, MCPServerConfig, MemoryConfig, NetworkConfig, PriceConfig, ProviderSettings,
                               ProvidersConfig, ThinkingConfig, ToolsConfig, load_config, save_config)
from tui_agents.errors import ConfigError

HAND_WRITTEN = '''\
# My settings. keep me
user_id = "ana"        # who I am

theme = "nord"   # dark at night
default_model = "qwen3"
network.read_timeout = 60

# tools I trust
[tools]
always_allow = [
    "files:read_file",   # harmless
    "search:*",
]

[mcp_servers.files]   # my notes
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "/home/ana/notes"]
env = { LOG_LEVEL = "warn" }

[mcp_servers.search]
url = "http://127.0.0.1:8931/mcp"   # local
'''


def _written(tmp_path, text: str = HAND_WRITTEN):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_one_changed_value_is_the_only_change_and_comments_order_and_blank_lines_stay(tmp_path):
    path = _written(tmp_path)
    config = load_config(path)
    config.theme = "dracula"

    save_config(config, path)

    assert path.read_text(encoding="utf-8") == HAND_WRITTEN.replace('"nord"', '"dracula"')


def test_saving_unchanged_settings_adds_no_defaults_and_leaves_the_file_as_it_was(tmp_path):
    path = _written(tmp_path, '# mine\ntheme = "nord"  # inline\n')
    save_config(load_config(path), path)
    assert path.read_text(encoding="utf-8") == '# mine\ntheme = "nord"  # inline\n'

    config = load_config(path)
    config.show_sidebar = False
    save_config(config, path)
    text = path.read_text(encoding="utf-8")
    assert text == '# mine\ntheme = "nord"  # inline\nshow_sidebar = false\n'
    assert "[network]" not in text and "user_id" not in text and "[prices]" not in text


def test_a_removed_mcp_server_table_disappears_and_the_other_keeps_its_comments(tmp_path):
    path = _written(tmp_path)
    config = load_config(path)
    del config.mcp_servers["search"]

    save_config(config, path)

    text = path.read_text(encoding="utf-8")
    assert "[mcp_servers.search]" not in text and "8931" not in text
    assert "[mcp_servers.files]   # my notes\n" in text and "# My settings. keep me\n" in text
    assert set(load_config(path).mcp_servers) == {"files"}


def test_a_setting_cleared_leaves_the_file_and_a_list_grown_or_shrunk_keeps_its_layout(tmp_path):
    path = _written(tmp_path)
    config = load_config(path)
    config.default_model = None
    config.tools.always_allow.append("files:write_file")
    save_config(config, path)
    text = path.read_text(encoding="utf-8")
    assert "default_model" not in text and load_config(path).default_model is None
    assert '    "files:read_file",   # harmless\n    "search:*",\n' in text and '"files:write_file"' in text

    config.tools.always_allow.remove("search:*")
    save_config(config, path)
    text = path.read_text(encoding="utf-8")
    assert '"search:*"' not in text and '    "files:read_file",   # harmless\n' in text
    assert load_config(path).tools.always_allow == ["files:read_file", "files:write_file"]


def test_values_inside_inline_tables_and_dotted_keys_change_in_place(tmp_path):
    path = _written(tmp_path)
    config = load_config(path)
    config.mcp_servers["files"].env["LOG_LEVEL"] = "debug"
    config.network.read_timeout = 90  # a dotted key
    config.network.connect_timeout = 3  # its neighbour, not in the file yet

    save_config(config, path)

    text = path.read_text(encoding="utf-8")
    assert 'env = { LOG_LEVEL = "debug" }' in text
    assert "network.read_timeout = 90.0\nnetwork.connect_timeout = 3.0\n" in text and "[network]" not in text
    assert load_config(path) == config


def test_a_new_file_holds_only_the_settings_that_are_not_defaults(tmp_path):
    path = tmp_path / "new" / "config.toml"
    config = AppConfig(theme="nord", mcp_servers={"files": MCPServerConfig(command="npx")})
    config.tools.always_allow = ["files:read_file"]

    save_config(config, path)

    assert tomllib.loads(path.read_text(encoding="utf-8")) == {
        "theme": "nord", "mcp_servers": {"files": {"command": "npx"}}, "tools": {"always_allow": ["files:read_file"]}}
    assert load_config(path) == config


def _every_section() -> AppConfig:
    return AppConfig(
        default_provider="anthropic", default_model="claude-x", theme="nord", show_sidebar=False, user_id="ana",
        providers=ProvidersConfig(ollama=ProviderSettings(base_url="http://gpu:11434", default_model="qwen3"),
                                  openai=ProviderSettings(base_url="http://127.0.0.1:8080/v1")),
        memory=MemoryConfig(strategy="first_last", params={"first": 2, "last": 8}, approve_model_facts=True),
        network=NetworkConfig(stall_after=5, connect_timeout=3, first_byte_timeout=60, read_timeout=30),
        keymap={"thread.new": "ctrl+t", "a.b": "f5"},
        mcp_servers={
            "files": MCPServerConfig(command="npx", args=["-y", "srv"], env={"LOG_LEVEL": "warn"}, cwd="/tmp",
                                     enabled=False, tools=["read_file"], timeout=12),
            "search": MCPServerConfig(url="http://127.0.0.1:8931/mcp", headers={"Authorization": "Bearer ${TOKEN}"}),
        },
        tools=ToolsConfig(always_allow=["files:read_file", "search:*"]),
        prices={"gpt-4o": PriceConfig(input=2.5, output=10), "my-model": PriceConfig(input=0, output=0)},
        thinking={"qwen3": ThinkingConfig(enabled=True, level="high"), "claude-x": ThinkingConfig(budget_tokens=2048),
                  "plain": ThinkingConfig()},
    )


def test_every_section_round_trips_in_a_new_file_and_over_a_commented_one(tmp_path):
    config = _every_section()
    assert load_config(save_config(config, tmp_path / "new.toml")) == config

    path = _written(tmp_path)
    save_config(config, path)
    assert load_config(path) == config
    text = path.read_text(encoding="utf-8")
    assert "# My settings. keep me\n" in text and '# who I am' in text and "# tools I trust\n" in text
    before = text
    save_config(load_config(path), path)
    assert path.read_text(encoding="utf-8") == before  # nothing moves on a second save


def test_a_file_that_is_not_valid_toml_or_not_valid_settings_is_refused_and_kept(tmp_path):
    path = _written(tmp_path, "# mine\ntheme = = broken\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        save_config(AppConfig(theme="nord"), path)
    assert path.read_text(encoding="utf-8") == "# mine\ntheme = = broken\n"

    path.write_text('# mine\ncolour = "red"\n[mcp_servers.files]\ncommand = "npx"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="bad value at colour"):
        save_config(AppConfig(theme="nord"), path)  # the app ran on defaults: saving them would drop the server
    assert "[mcp_servers.files]" in path.read_text(encoding="utf-8")


async def test_allow_always_writes_only_always_allow_and_keeps_the_comments(tmp_path):
    path = _written(tmp_path, '# keep me\ntheme = "nord"  # inline\n\n[mcp_servers.files]\ncommand = "npx"  # runner\n')
    approvals = ToolApprovals.from_config(load_config(path), ask=lambda name, server, arguments: "always", path=path)

    assert await approvals("read_file", "files", {"path": "/x"}) is True

    assert path.read_text(encoding="utf-8") == ('# keep me\ntheme = "nord"  # inline\n\n[mcp_servers.files]\n'
                                                'command = "npx"  # runner\n\n[tools]\nalways_allow = ["files:read_file"]\n')


def test_an_entry_added_to_an_inline_table_is_written_inline(tmp_path):
    path = _written(tmp_path, '# mine\nprices = { "gpt-4o" = { input = 2.5, output = 10 } }  # list prices\n')
    config = load_config(path)
    config.prices["my-model"] = PriceConfig(input=1, output=2)

    save_config(config, path)

    text = path.read_text(encoding="utf-8")
    assert text.startswith('# mine\nprices = { "gpt-4o" = { input = 2.5, output = 10 },') and "[prices" not in text
    assert text.endswith("}  # list prices\n")
    assert load_config(path) == config
