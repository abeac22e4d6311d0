"""Restart keeps your place, and a crash shows at once: the real app in tmux, typed at as a person would.

Each key goes through ``tmux send-keys`` one at a time and the screen is read back
with ``capture-pane``; the app talks to the fake LLM server over loopback and keeps
its database, settings and log in tmp_path. Skipped when tmux is missing, except
under CI=true, where it must run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.llm_server import Reply

ROOT = Path(__file__).resolve().parents[2]
TMUX = shutil.which("tmux")

if TMUX is None and os.environ.get("CI") != "true":
    pytest.skip("tmux is not installed (under CI=true these tests must run)", allow_module_level=True)

pytestmark = pytest.mark.timeout(120)

APP = "from tui_agents.cli import main; raise SystemExit(main())"


class Terminal:
    """The app in a tmux session of its own (its own server socket: nothing else of the user's is touched)."""

    def __init__(self, tmp_path: Path, env: dict[str, str], size: tuple[int, int] = (120, 40)) -> None:
        self.socket = tmp_path / "tmux.sock"
        self.env = env
        self.size = size

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert TMUX is not None, "tmux is required under CI=true"
        # a clean environment: the server's global one must not carry pytest's COLUMNS/LINES into the app
        clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.socket.parent),
                 "TERM": "xterm-256color"}
        return subprocess.run([TMUX, "-S", str(self.socket), *args], capture_output=True, text=True, check=check,
                              timeout=20, env=clean)

    def start(self, *app_args: str) -> None:
        """Run ``aiagents-tui app_args`` in a new session."""
        command = " ".join(["exec", sys.executable, "-c", repr(APP), "--provider", "ollama", "--model", "fake-model",
                            *app_args])
        env_args = [arg for key, value in self.env.items() for arg in ("-e", f"{key}={value}")]
        width, height = self.size
        self.tmux("new-session", "-d", "-s", "app", "-x", str(width), "-y", str(height), *env_args, command)

    def running(self) -> bool:
        return self.tmux("has-session", "-t", "app", check=False).returncode == 0

    def pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", "app", "#{pane_pid}").stdout.strip())

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app", check=False).stdout

    def type(self, text: str) -> None:
        """Type ``text`` one key at a time, as a person would."""
        for char in text:
            self.tmux("send-keys", "-t", "app", "-l", char)
            time.sleep(0.02)

    def press(self, key: str) -> None:
        self.tmux("send-keys", "-t", "app", key)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{screen}")

    def wait_text(self, text: str, timeout: float = 30.0) -> str:
        return self.wait_for(lambda screen: text in screen, repr(text), timeout)

    def wait_exit(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.running():
            assert time.monotonic() < deadline, "the app did not exit"
            time.sleep(0.1)

    def close(self) -> None:
        self.tmux("kill-server", check=False)


@pytest.fixture
def terminal(tmp_path: Path, fake_llm) -> Iterator[Terminal]:
    env = {
        "OLLAMA_HOST": fake_llm.host_port,
        "AIAGENTS_DB": str(tmp_path / "db.sqlite"),
        "AIAGENTS_CONFIG": str(tmp_path / "config.toml"),
        "AIAGENTS_LOG": str(tmp_path / "app.log"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PYTHONPATH": str(ROOT),
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
    }
    term = Terminal(tmp_path, env)
    try:
        yield term
    finally:
        term.close()


def _started(term: Terminal) -> None:
    term.wait_text("Threads")  # the sidebar drew: the database is open
    time.sleep(0.3)


def test_a_draft_and_the_thread_come_back_after_ctrl_q(terminal: Terminal) -> None:
    terminal.start()
    _started(terminal)
    terminal.type("hello from tmux")
    terminal.press("Enter")
    terminal.wait_text("echo: hello from tmux")
    terminal.type("my unsent draft")
    terminal.wait_text("my unsent draft")
    terminal.press("C-q")
    terminal.wait_exit()

    terminal.start()
    _started(terminal)
    # the thread is open again at its end, with the draft in the composer
    terminal.wait_for(lambda screen: "my unsent draft" in screen and "echo: hello from tmux" in screen,
                      "the thread and its draft")
    terminal.type(" and more")  # the composer has the focus
    terminal.wait_text("my unsent draft and more")
    terminal.press("C-q")
    terminal.wait_exit()

    terminal.start("--new")
    _started(terminal)
    screen = terminal.wait_text("New chat with")
    assert "echo: hello from tmux" not in screen and "my unsent draft" not in screen


def _streaming_reply(db: Path, timeout: float = 30.0) -> None:
    """Wait until the reply is in the database as ``streaming`` with some text (the app flushes on a timer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            with sqlite3.connect(db, timeout=10) as raw:
                row = raw.execute("SELECT m.status, length(c.text) FROM messages m JOIN contents c ON c.id = "
                                  "m.content_id WHERE m.role = 'assistant'").fetchone()
            if row and row[0] == "streaming" and row[1] > 20:
                return
        time.sleep(0.1)
    raise AssertionError("the reply never reached the database as streaming")


def test_kill_9_mid_reply_is_marked_app_closed_at_the_next_start(terminal: Terminal, fake_llm, tmp_path) -> None:
    fake_llm.script(Reply(text="Once upon a time " * 200, chunk_chars=6, delay=0.1))
    terminal.start()
    _started(terminal)
    terminal.type("tell me a story")
    terminal.press("Enter")
    terminal.wait_text("Once upon a time")
    _streaming_reply(tmp_path / "db.sqlite")
    os.kill(terminal.pid(), 9)
    terminal.wait_exit()

    terminal.start()
    _started(terminal)
    screen = terminal.wait_text("the app closed while this reply was streaming")
    assert "Once upon a time" in screen
    assert "the reply was stopped" not in screen
