"""``ask`` as a person sees it in a real terminal (tmux): what stays on the screen, not just which bytes were sent.

Each test runs ``ask`` in a tmux pane of its own server, against the fake LLM server, and reads the pane.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, write_mcp_config
from tests.fakes import Reply, ToolCallSpec

TMUX = shutil.which("tmux")
pytestmark = [pytest.mark.timeout(90),
              pytest.mark.skipif(TMUX is None and not os.environ.get("CI"), reason="needs tmux (CI installs it)")]


class Pane:
    """``aiagents-tui ask`` in a tmux pane (80x24); the pane stays once it exits, with ``EXIT=<code>`` under it."""

    def __init__(self, tmp_path: Path, cli, fake_llm) -> None:
        self.socket = tmp_path / "tmux.sock"
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "TERM": "xterm-256color",
                    "PYTHONPATH": str(ROOT), "AIAGENTS_CONFIG": str(cli.config), "AIAGENTS_DB": str(cli.db),
                    "AIAGENTS_LOG": str(tmp_path / "ask.log"), "ANTHROPIC_BASE_URL": fake_llm.base_url,
                    "ANTHROPIC_API_KEY": "sk-ant-test"}

    def tmux(self, *args: str) -> str:
        assert TMUX is not None, "tmux is required under CI=true"
        return subprocess.run([TMUX, "-S", str(self.socket), *args], capture_output=True, text=True, check=True,
                              timeout=20, env={"PATH": self.env["PATH"], "HOME": self.env["HOME"]}).stdout

    def ask(self, *args: str) -> None:
        command = shlex.join([sys.executable, "-m", "tui_agents.cli", "ask", "--provider", "anthropic", *args])
        env = [arg for key, value in self.env.items() for arg in ("-e", f"{key}={value}")]
        self.tmux("new-session", "-d", "-s", "ask", "-x", "80", "-y", "24", *env,
                  f"cd {shlex.quote(str(ROOT))}; {command}; echo EXIT=$?; sleep 60")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "ask")

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {text!r}; the screen was:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run([TMUX or "tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=20)


@pytest.fixture
def pane(tmp_path, cli, fake_llm):
    pane = Pane(tmp_path, cli, fake_llm)
    yield pane
    pane.close()


def test_the_approval_question_stays_on_screen_after_text_that_came_before_the_tool_call(pane, cli, fake_llm):
    write_mcp_config(cli.config)
    fake_llm.script(Reply(text="Let me check that for you.", tool_calls=[ToolCallSpec("t__echo", {"text": "hi"})],
                          chunk_chars=5),
                    Reply(text="All done now."), Reply(text="Title"))
    pane.ask("echo hi")
    pane.wait_for("Allow it?")
    time.sleep(0.5)  # the live display refreshes 15 times a second: it must not draw over the question
    screen = pane.screen()
    assert "Allow it? [y]es once, [a]lways, [N]o:" in screen
    assert screen.count("Let me check that for you.") == 1
    pane.tmux("send-keys", "-t", "ask", "y", "Enter")
    screen = pane.wait_for("EXIT=0")
    assert screen.count("Let me check that for you.") == 1 and "All done now." in screen


def test_escape_sequences_in_a_reply_do_not_reach_the_terminal(pane, fake_llm):
    fake_llm.script(Reply(text="before \x1b[31mRED\x1b[0m \x1b]0;PWNED\x07 after\n"), Reply(text="Title"))
    pane.ask("say it")
    screen = pane.wait_for("EXIT=0")
    assert "before" in screen and "RED" in screen and "after" in screen
    assert "PWNED" not in pane.tmux("display-message", "-p", "-t", "ask", "#{pane_title}")


def test_a_block_taller_than_the_terminal_ends_with_its_last_lines_on_screen(pane, fake_llm):
    code = "\n".join(f"print('line {n}')" for n in range(60))
    fake_llm.script(Reply(text=f"Here:\n\n```python\n{code}\n```\n\nThe END.", chunk_chars=40, delay=0.01),
                    Reply(text="Title"))
    pane.ask("a long one")
    screen = pane.wait_for("EXIT=0")
    assert "line 59" in screen and "The END." in screen


def test_paragraphs_streamed_in_small_pieces_keep_their_blank_lines(pane, fake_llm):
    fake_llm.script(Reply(text="First paragraph here.\n\nSecond paragraph here.\n\nThird one.", chunk_chars=3),
                    Reply(text="Title"))
    pane.ask("three paragraphs")
    lines = [line.strip() for line in pane.wait_for("EXIT=0").splitlines()]
    first = lines.index("First paragraph here.")
    assert lines[first:first + 5] == ["First paragraph here.", "", "Second paragraph here.", "", "Third one."]


def test_while_the_model_has_not_answered_a_line_says_so_and_goes(pane, fake_llm):
    fake_llm.script(Reply(text="Late but here.", first_delay=3.0), Reply(text="Title"))
    pane.ask("slow one")
    assert "waiting for claude" in pane.wait_for("waiting for", timeout=10)
    screen = pane.wait_for("EXIT=0")
    assert "Late but here." in screen and "waiting for" not in screen
