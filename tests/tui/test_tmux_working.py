"""The real app in tmux at 80x24, typed into key by key: the working line, escape, the sidebar overlay.

(Resizing is tested with Pilot in test_narrow.py: a detached tmux window resized here did not redraw the app.)

Skipped where tmux is missing (CI installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.llm_server import Reply

pytestmark = [pytest.mark.timeout(90),
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

ROOT = Path(__file__).resolve().parents[2]


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session)


def _wait_for(session: str, predicate, what: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = _screen(session)
        if predicate(screen):
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen}")
        time.sleep(0.1)


def _type(session: str, text: str) -> None:
    for char in text:
        _tmux("send-keys", "-t", session, "-l", char)
        time.sleep(0.05)
    time.sleep(0.3)  # as a person would, not in the same read as the last letter


def _send_when_ready(session: str) -> None:
    """Press enter; again, as a person would, while the app says no provider is ready yet (its first check)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _tmux("send-keys", "-t", session, "Enter")
        time.sleep(1.0)
        if "│ hello" not in _screen(session):
            return
    raise AssertionError(f"the message was never sent; the screen:\n{_screen(session)}")


@pytest.fixture
def app_in_tmux(tmp_path, fake_llm):
    session = f"aiagents-daily3-{os.getpid()}"
    config = tmp_path / "config.toml"
    config.write_text('default_provider = "ollama"\n[network]\nstall_after = 2\n', encoding="utf-8")
    env = {"OLLAMA_HOST": fake_llm.host_port, "AIAGENTS_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    command = " ".join([f"{k}={v}" for k, v in env.items()] + [
        sys.executable, "-c", "'from tui_agents.cli import main; main()'", "--db", str(tmp_path / "db.sqlite"),
        "--model", "fake-model-small"])
    _tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        _wait_for(session, lambda s: "ollama · fake-model-small" in s, "the app")
        yield session
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_a_person_sees_the_app_working_stops_it_and_opens_the_sidebar_at_80_columns(app_in_tmux, fake_llm):
    session = app_in_tmux
    fake_llm.script(Reply(text="Awake now, DONE.", first_delay=4))
    _type(session, "hello")
    _send_when_ready(session)
    _wait_for(session, lambda s: "waiting for fake-model-small · " in s and "esc stops" in s, "the waiting line")
    _wait_for(session, lambda s: "· 2 s ·" in s or "· 3 s ·" in s, "the seconds counting")
    screen = _wait_for(session, lambda s: "DONE" in s, "the reply")
    _wait_for(session, lambda s: "esc stops" not in s, "the working line going")

    fake_llm.reset()
    fake_llm.script(Reply(text="too late", first_delay=30))
    _type(session, "again")
    _tmux("send-keys", "-t", session, "Enter")
    _wait_for(session, lambda s: "waiting for fake-model-small" in s, "the waiting line again")
    _tmux("send-keys", "-t", session, "Escape")
    screen = _wait_for(session, lambda s: "interrupted" in s, "the stop")
    assert "esc stops" not in screen
    fake_llm.reset()

    assert "Search (ctrl+f)" not in screen  # 80 columns: the sidebar is collapsed
    _tmux("send-keys", "-t", session, "C-b")
    _wait_for(session, lambda s: "Search (ctrl+f)" in s, "the sidebar overlay")
    _tmux("send-keys", "-t", session, "Escape")
    _wait_for(session, lambda s: "Search (ctrl+f)" not in s, "escape hiding the overlay")
    _type(session, "typed")
    _wait_for(session, lambda s: "│ typed" in s, "typing going to the composer")
