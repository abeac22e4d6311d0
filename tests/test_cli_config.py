"""The command line, the settings file and the screen sanitizer."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from tui_agents import __version__, cli
from tui_agents.config import AppConfig, MemoryConfig, load_config, resolve_db_path, save_config
from tui_agents.errors import ConfigError
from tui_agents.sanitize import highlight_snippet, sanitize


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"aiagents-tui {__version__}"


def test_paths_prints_config_data_and_database(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AIAGENTS_CONFIG", str(tmp_path / "cfg.toml"))
    assert cli.main(["paths", "--db", str(tmp_path / "x.db")]) == 0
    out = capsys.readouterr().out
    assert f"config:   {tmp_path / 'cfg.toml'}" in out
    assert f"database: {tmp_path / 'x.db'}" in out
    assert "data:" in out


def test_database_path_order_flag_then_env_then_default(tmp_path, monkeypatch):
    default = resolve_db_path(None)
    assert default.name == "aiagents.db" and str(tmp_path / "xdg-data") in str(default)
    monkeypatch.setenv("AIAGENTS_DB", str(tmp_path / "env.db"))
    assert resolve_db_path(None) == tmp_path / "env.db"
    assert resolve_db_path(tmp_path / "flag.db") == tmp_path / "flag.db"


def test_top_level_db_flag_reaches_subcommands(capsys, tmp_path):
    assert cli.main(["--db", str(tmp_path / "top.db"), "paths"]) == 0
    assert str(tmp_path / "top.db") in capsys.readouterr().out


def test_keys_list_with_no_keyring_shows_no_keys(capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-shown-1234")
    assert cli.main(["keys", "list"]) == 0
    out = capsys.readouterr().out
    assert "openai: key set" in out and "anthropic: no key" in out
    assert "sk-test" not in out


def test_keys_set_without_a_keyring_names_the_env_var(capsys, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "sk-secret-value")
    assert cli.main(["keys", "set", "anthropic"]) == 1
    err = capsys.readouterr().err
    assert "ANTHROPIC_API_KEY" in err and "sk-secret" not in err


def test_importing_the_cli_does_not_load_textual_or_pydantic():
    code = "import sys, tui_agents.cli; print(any(m.split('.')[0] in ('textual', 'pydantic') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_config_round_trips_through_toml(tmp_path):
    config = AppConfig(default_provider="anthropic", default_model="claude-x", keymap={"thread.new": "ctrl+t"},
                       memory=MemoryConfig(strategy="first_last", params={"first": 2, "last": 8}))
    config.providers.ollama.base_url = 'http://host:1/"quoted"'
    path = save_config(config, tmp_path / "sub" / "config.toml")
    assert load_config(path) == config
    assert tomllib.loads(path.read_text())["keymap"] == {"thread.new": "ctrl+t"}
    assert not list(path.parent.glob(".config-*"))  # no temp file left behind


def test_missing_config_gives_defaults_and_bad_config_is_a_clear_error(tmp_path):
    assert load_config(tmp_path / "none.toml") == AppConfig()
    bad = tmp_path / "bad.toml"
    bad.write_text('default_provider = "nope"\n')
    with pytest.raises(ConfigError, match="default_provider"):
        load_config(bad)
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_sanitize_strips_control_characters_but_keeps_newlines_and_tabs():
    text = "a\x1b]0;title\x07b\x1b[2Jc\x9b31md\x7fe\r\nf\tg\x00"
    assert sanitize(text) == "a]0;titleb[2Jc31mde\nf\tg"


def test_snippet_highlight_is_literal():
    text = highlight_snippet("x [[hit]] y [bold]z[/bold] [[two]]")
    assert text.plain == "x hit y [bold]z[/bold] two"
    assert len(text.spans) == 2
