"""``aiagents-tui models list | pull | rm`` as a user runs it: a real process, on a pipe and on a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
import sys
import time

import pytest

COMMAND = [sys.executable, "-m", "tui_agents.cli", "models"]


def run(fake, *args: str, host: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OLLAMA_HOST": host or fake.host_port, "NO_COLOR": "1", "COLUMNS": "160"}
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)


def run_on_tty(fake, *args: str, answer: bytes | None = None) -> tuple[int, str]:
    """Run on a pseudo-terminal (stdin and stdout), typing ``answer`` when a question shows."""
    env = {**os.environ, "OLLAMA_HOST": fake.host_port, "COLUMNS": "120", "TERM": "xterm-256color"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the command
        os.execvpe(sys.executable, [*COMMAND, *args], env)
    output = b""
    deadline = time.monotonic() + 60
    answered = answer is None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            output += data
            if not answered and b"[y/N]" in output:
                os.write(fd, answer)
                answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_list_shows_each_model_with_its_details(fake_llm):
    fake_llm.models = ["qwen3:4b", "gemma3:4b"]
    fake_llm.model_details["gemma3:4b"] = {"capabilities": ["completion", "vision"], "context_length": 131072}
    fake_llm.model_details["qwen3:4b"] = {"capabilities": ["completion", "tools", "thinking"],
                                          "context_length": 40960}
    fake_llm.loaded = ["qwen3:4b"]
    result = run(fake_llm, "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "PARAMS", "QUANT", "FAMILY", "CONTEXT", "CAPABILITIES",
                                "MODIFIED", "LOADED"]
    qwen = next(line for line in lines if line.startswith("qwen3:4b"))
    assert "2.0 GB" in qwen and "Q4_K_M" in qwen and "40,960" in qwen and "tools, thinking" in qwen
    assert qwen.rstrip().endswith("yes")
    assert "vision" in next(line for line in lines if line.startswith("gemma3:4b"))


def test_pull_on_a_pipe_prints_one_line_per_stage(fake_llm):
    fake_llm.pullable["qwen3:4b"] = 2_000_000
    result = run(fake_llm, "pull", "qwen3:4b")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["pulling manifest", "pulling abababababab", "verifying sha256 digest",
                                          "writing manifest", "success", "Pulled qwen3:4b."]


def test_pull_on_a_terminal_draws_a_progress_bar(fake_llm):
    fake_llm.pullable["qwen3:4b"] = 2_000_000
    code, output = run_on_tty(fake_llm, "pull", "qwen3:4b")
    assert code == 0, output
    assert "100%" in output and "2.0/2.0 MB" in output and "Pulled qwen3:4b." in output


@pytest.mark.parametrize(("setup", "message"), [
    ({}, "aiagents-tui: Ollama has no model called nope:1b; check the name at ollama.com/library.\n"),
    ({"pullable": {"nope:1b": 1000}, "pull_error": "write x: no space left on device"},
     "aiagents-tui: Ollama ran out of disk space while pulling nope:1b; free some space and pull again.\n"),
])
def test_pull_failures_are_one_plain_line(fake_llm, setup, message):
    for key, value in setup.items():
        setattr(fake_llm, key, value)
    result = run(fake_llm, "pull", "nope:1b")
    assert (result.returncode, result.stderr) == (1, message)


def test_ollama_not_running_is_one_plain_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run(None, "list", host=f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.startswith(f"aiagents-tui: Could not connect to Ollama at http://127.0.0.1:{port}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_rm_with_yes_deletes_and_a_missing_model_fails_plainly(fake_llm):
    fake_llm.models = ["old:1b"]
    assert run(fake_llm, "rm", "-y", "old:1b").stdout == "Deleted old:1b.\n"
    assert fake_llm.models == []
    again = run(fake_llm, "rm", "-y", "old:1b")
    assert again.returncode == 1 and again.stderr.startswith("aiagents-tui: There is no model called old:1b")


def test_rm_without_a_terminal_or_yes_deletes_nothing(fake_llm):
    fake_llm.models = ["old:1b"]
    result = run(fake_llm, "rm", "old:1b")
    assert result.returncode == 2 and "without -y" in result.stderr
    assert fake_llm.models == ["old:1b"]


@pytest.mark.parametrize(("answer", "deleted"), [(b"y\n", True), (b"\n", False)])
def test_rm_on_a_terminal_asks_first(fake_llm, answer, deleted):
    fake_llm.models = ["old:1b"]
    code, output = run_on_tty(fake_llm, "rm", "old:1b", answer=answer)
    assert "Delete old:1b (2.0 GB)? [y/N]" in output
    assert (code == 0) is deleted and ("old:1b" not in fake_llm.models) is deleted
