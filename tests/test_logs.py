"""The app's log file: warnings and errors only, keys masked, and `aiagents-tui paths` says where it is."""

from __future__ import annotations

import logging

from tui_agents.logs import setup_logging


def test_warnings_reach_the_rotating_file_with_keys_masked_and_info_left_out(tmp_path, monkeypatch, package_logger):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdefgh12345678")
    path = setup_logging(tmp_path / "logs" / "app.log")
    log = logging.getLogger("tui_agents.tui.app")
    log.info("the user wrote %s", "a private message")
    log.warning("the server rejected key %s", "sk-live-abcdefgh12345678")
    for handler in package_logger.handlers:
        handler.flush()
    text = path.read_text()
    assert "rejected key ****" in text
    assert "sk-live" not in text and "private message" not in text


def test_paths_prints_the_log_file(tmp_path, monkeypatch, capsys):
    from tui_agents.cli import main

    monkeypatch.setenv("AIAGENTS_LOG", str(tmp_path / "here.log"))
    assert main(["paths"]) == 0
    assert f"log:      {tmp_path / 'here.log'}" in capsys.readouterr().out


def test_an_unwritable_log_dir_leaves_logging_off(tmp_path, package_logger):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert setup_logging(blocker / "app.log") is None
