"""``ask`` on a terminal (a real pseudo-terminal): rendered Markdown, the approval question, and ctrl+c."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

from tests.cli.conftest import ROOT, write_mcp_config
from tests.fakes import Reply, ToolCallSpec
from tests.mcp.conftest import pid_alive
from tui_agents.config import load_config


def _env(cli, fake_llm, **extra):
    env = {key: value for key, value in os.environ.items() if not key.endswith("_API_KEY")}
    env.update({"PYTHONPATH": str(ROOT), "AIAGENTS_CONFIG": str(cli.config), "AIAGENTS_DB": str(cli.db),
                "ANTHROPIC_BASE_URL": fake_llm.base_url, "ANTHROPIC_API_KEY": "sk-ant-test",
                "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24", **extra})
    return env


def _run_on_pty(args, env, answer_when=None, answer=b"", timeout=60.0):
    """Run the CLI with stdin, stdout and stderr on a pty; type ``answer`` once ``answer_when`` shows."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "tui_agents.cli", *args], stdin=slave, stdout=slave,
                               stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    answered = answer_when is None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        if not answered and answer_when in output:
            os.write(master, answer)
            answered = True
        if process.poll() is not None and not ready:
            break
    process.wait(10)
    os.close(master)
    return process.returncode, output.decode("utf-8", errors="replace")


def test_on_a_terminal_the_reply_is_rendered_markdown(cli, fake_llm):
    fake_llm.script(Reply(text="Some **bold** words.\n\n```python\nprint('hi')\n```\n", chunk_chars=4),
                    Reply(text="Title"))
    code, output = _run_on_pty(["ask", "--provider", "anthropic", "show me"], _env(cli, fake_llm))
    assert code == 0, output
    assert "\x1b[1mbold\x1b[0m words." in output  # bold, as Markdown; "**" only while the word was half there
    assert "```" not in output and "print" in output


def test_on_a_terminal_a_tool_is_asked_about_and_allow_always_is_saved(cli, fake_llm):
    write_mcp_config(cli.config)
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("t__echo", {"text": "approved"})]), Reply(text="It ran."),
                    Reply(text="Title"))
    code, output = _run_on_pty(["ask", "--provider", "anthropic", "echo"], _env(cli, fake_llm),
                               answer_when=b"Allow it?", answer=b"a\n")
    assert code == 0, output
    assert 'echo of MCP server t with {"text": "approved"}' in output
    assert "It ran." in output
    assert load_config(cli.config).tools.always_allow == ["t:echo"]


def test_ctrl_c_during_a_tool_call_stops_the_mcp_server(cli, fake_llm, tmp_path):
    pidfile = tmp_path / "server.pid"
    write_mcp_config(cli.config, '[tools]\nalways_allow = ["t:*"]\n\n')
    text = cli.config.read_text().replace('cwd = ', f'env = {{ MCP_TEST_PIDFILE = "{pidfile}" }}\ncwd = ')
    cli.config.write_text(text)
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("t__hang", {})]), Reply(text="never"))
    env = _env(cli, fake_llm)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    process = subprocess.Popen([sys.executable, "-m", "tui_agents.cli", "ask", "--provider", "anthropic", "hang"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd=ROOT, text=True)
    deadline = time.monotonic() + 60
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)
    server_pid = int(pidfile.read_text())
    time.sleep(1.0)  # the call of "hang" is in flight
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "aiagents-tui: interrupted; the partial reply is saved."
    deadline = time.monotonic() + 10
    while pid_alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(server_pid)
