"""``aiagents-tui ask`` end to end: a real subprocess, the fake LLM server over HTTP, a real SQLite file."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import ROOT, write_mcp_config
from tests.fakes import Reply, ToolCallSpec
from tui_agents.store import MessageStore, ThreadStore, connect


async def _threads(db):
    conn = await connect(db)
    try:
        threads = await ThreadStore(conn).list(limit=10)
        return [(t, await MessageStore(conn).list(t["id"])) for t in threads]
    finally:
        await conn.close()


def test_ask_prints_only_the_reply_and_saves_a_titled_thread(cli, fake_llm):
    fake_llm.script(Reply(text="A monad is a monoid in the category of endofunctors.", chunk_chars=5),
                    Reply(text="Monads explained"))
    result = cli("ask", "--provider", "anthropic", "What is a monad?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "A monad is a monoid in the category of endofunctors.\n"
    (thread, messages), = asyncio.run(_threads(cli.db))
    assert thread["title"] == "Monads explained" and thread["provider"] == "anthropic"
    assert [(m["role"], m["content"], m["status"]) for m in messages] == [
        ("user", "What is a monad?", "complete"),
        ("assistant", "A monad is a monoid in the category of endofunctors.", "complete"),
    ]
    assert "ttft_ms" in messages[1]["meta"]


def test_piped_stdin_is_context_for_the_prompt(cli, fake_llm):
    fake_llm.script(Reply(text="Looks fine."), Reply(text="Review"))
    result = cli("ask", "--provider", "openai", "--model", "gpt-4o", "review this", stdin="-old\n+new\n")
    assert result.returncode == 0, result.stderr
    body = fake_llm.chat_requests()[0].body
    assert body["model"] == "gpt-4o"
    assert body["messages"][-1]["content"] == "review this\n\n-old\n+new"


def test_continue_and_thread_add_to_an_existing_thread(cli, fake_llm):
    fake_llm.script(Reply(text="First."), Reply(text="Title"), Reply(text="Second."), Reply(text="Third."))
    assert cli("ask", "--provider", "ollama", "one").returncode == 0
    assert cli("ask", "--continue", "two").returncode == 0
    (thread, messages), = asyncio.run(_threads(cli.db))
    assert [m["content"] for m in messages] == ["one", "First.", "two", "Second."]
    third = cli("ask", "--thread", thread["id"], "three")
    assert third.returncode == 0 and third.stdout == "Third.\n"
    # the continued thread's history went to the model
    sent = [m["content"] for m in fake_llm.chat_requests()[-1].body["messages"]]
    assert sent[-5:] == ["one", "First.", "two", "Second.", "three"]


def test_no_save_leaves_the_database_untouched(cli, fake_llm):
    fake_llm.script(Reply(text="Saved."), Reply(text="T"), Reply(text="Not saved."))
    assert cli("ask", "--provider", "ollama", "keep me").returncode == 0
    result = cli("ask", "--continue", "--no-save", "forget me")
    assert result.returncode == 0 and result.stdout == "Not saved.\n"
    assert [m["content"] for m in fake_llm.chat_requests()[-1].body["messages"]][-3:] == ["keep me", "Saved.", "forget me"]
    (_, messages), = asyncio.run(_threads(cli.db))
    assert [m["content"] for m in messages] == ["keep me", "Saved."]


def test_errors_are_one_plain_line_and_a_non_zero_exit(cli, fake_llm):
    no_key = cli("ask", "--provider", "anthropic", "hi", env={"ANTHROPIC_API_KEY": ""})
    assert no_key.returncode == 1 and no_key.stdout == ""
    assert no_key.stderr.count("\n") == 1 and "ANTHROPIC_API_KEY" in no_key.stderr

    down = cli("ask", "--provider", "ollama", "hi", env={"OLLAMA_HOST": "http://127.0.0.1:9"})
    assert down.returncode == 1 and down.stderr.count("\n") == 1 and "Traceback" not in down.stderr

    fake_llm.script(Reply(status=404, error_message="model 'nope' not found"))
    unknown = cli("ask", "--provider", "ollama", "--model", "nope", "hi")
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1 and "nope" in unknown.stderr

    no_prompt = cli("ask")
    assert no_prompt.returncode == 1 and "needs a question" in no_prompt.stderr

    missing = cli("ask", "--thread", "thr_missing", "hi")
    assert missing.returncode == 1 and "thr_missing" in missing.stderr


def test_a_tool_needing_approval_is_refused_when_not_interactive(cli, fake_llm):
    write_mcp_config(cli.config)
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("t__echo", {"text": "hi"})]), Reply(text="Could not."),
                    Reply(text="Title"))
    result = cli("ask", "--provider", "anthropic", "echo hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Could not.\n"
    assert "t__echo" in {tool["name"] for tool in fake_llm.chat_requests()[0].body["tools"]}
    assert "refused" in result.stderr and "t:echo" in result.stderr


def test_a_tool_allowed_in_config_runs_in_a_pipe(cli, fake_llm):
    write_mcp_config(cli.config, '[tools]\nalways_allow = ["t:*"]\n\n')
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("t__echo", {"text": "hi there"})]), Reply(text="It said hi."),
                    Reply(text="Title"))
    result = cli("ask", "--provider", "anthropic", "echo hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "It said hi.\n" and "t__echo: ok" in result.stderr
    (_, messages), = asyncio.run(_threads(cli.db))
    assert [m["content"] for m in messages if m["role"] == "tool"] == ["hi there"]


def test_ask_never_imports_textual():
    code = ("import sys; from tui_agents.cli import build_parser; import tui_agents.ask, tui_agents.usage, "
            "tui_agents.runner, tui_agents.store, tui_agents.providers, tui_agents.approvals, tui_agents.pricing, "
            "tui_agents.mcp, mcp, mcp.client.stdio, mcp.client.streamable_http; "
            "print(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_agent_gives_its_prompt_and_model_and_db_flag_picks_the_file(cli, fake_llm, tmp_path):
    from tui_agents.store import AgentStore

    other = tmp_path / "other.db"

    async def make_agent():
        conn = await connect(other)
        await AgentStore(conn).create("pirate", "Talk like a pirate.", provider="openai", model="gpt-4.1-mini")
        await conn.close()

    asyncio.run(make_agent())
    fake_llm.script(Reply(text="Arr."), Reply(text="Pirate talk"))
    result = cli("--db", str(other), "ask", "--agent", "pirate", "hello")
    assert result.returncode == 0 and result.stdout == "Arr.\n", result.stderr
    body = fake_llm.chat_requests()[0].body
    assert fake_llm.chat_requests()[0].path == "/v1/chat/completions" and body["model"] == "gpt-4.1-mini"
    assert body["messages"][0] == {"role": "system", "content": "Talk like a pirate."}
    (thread, messages), = asyncio.run(_threads(other))
    assert thread["model"] == "gpt-4.1-mini" and [m["content"] for m in messages] == ["hello", "Arr."]
    assert not cli.db.exists()  # AIAGENTS_DB was not used: --db wins

    unknown = cli("--db", str(other), "ask", "--agent", "nobody", "hello")
    assert unknown.returncode == 1 and "no agent named 'nobody'; the agents are: pirate." in unknown.stderr
    fake_llm.script(Reply(text="Arr again."), Reply(text="Pirate talk"))
    capitalised = cli("--db", str(other), "ask", "--agent", "Pirate", "hello")  # as the agents screen shows it
    assert capitalised.returncode == 0 and capitalised.stdout == "Arr again.\n", capitalised.stderr


def test_an_empty_reply_is_said_on_stderr(cli, fake_llm):
    fake_llm.script(Reply(text=""), Reply(text="Title"))
    result = cli("ask", "--provider", "anthropic", "say nothing")
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr == "· the model's reply was empty\n"


def test_a_reader_that_stops_early_does_not_break_the_save(cli, fake_llm):
    import os

    long_reply = "word " * 400
    fake_llm.script(Reply(text=long_reply, chunk_chars=20, delay=0.005), Reply(text="Words"))
    env = {key: value for key, value in os.environ.items() if not key.endswith("_API_KEY")}
    env.update({"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "AIAGENTS_CONFIG": str(cli.config),
                "AIAGENTS_DB": str(cli.db), "ANTHROPIC_BASE_URL": fake_llm.base_url, "ANTHROPIC_API_KEY": "k"})
    process = subprocess.Popen([sys.executable, "-m", "tui_agents.cli", "ask", "--provider", "anthropic", "talk"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdout.read(5) == b"word "
    process.stdout.close()  # like `| head -c 5`
    stderr = process.stderr.read().decode()
    assert process.wait(60) == 0, stderr
    assert "Error" not in stderr and "Traceback" not in stderr
    (_, messages), = asyncio.run(_threads(cli.db))
    assert messages[-1]["content"] == long_reply and messages[-1]["status"] == "complete"


def test_the_agent_records_tools_stay_beside_the_mcp_servers(cli, fake_llm):
    from tui_agents.store import AgentStore

    async def make_agent():
        conn = await connect(cli.db)
        await AgentStore(conn).create("assistant", "Be brief.", tools=["calculate", "a_tool_since_removed"])
        await conn.close()

    asyncio.run(make_agent())
    write_mcp_config(cli.config)
    fake_llm.script(Reply(text="ok"), Reply(text="Title"))
    result = cli("ask", "--provider", "anthropic", "hi")
    assert result.returncode == 0, result.stderr
    offered = {tool["name"] for tool in fake_llm.chat_requests()[0].body["tools"]}
    assert {"calculate", "t__echo"} <= offered and "a_tool_since_removed" not in offered


def test_ask_takes_the_network_waits_and_thinking_from_the_config_like_the_app(cli, fake_llm):
    """A stalled stream is announced on stderr after ``[network] stall_after`` and fails after ``read_timeout``
    with its partial reply kept; ``[thinking."MODEL"]`` goes on the request."""
    cli.config.write_text('[network]\nstall_after = 1\nread_timeout = 3\n\n'
                          '[thinking."claude-sonnet-4-5"]\nenabled = true\nbudget_tokens = 2048\n', encoding="utf-8")
    fake_llm.script(Reply(text="The first half, then silence", chunk_chars=5, stall_after_chunks=3))
    result = cli("ask", "--provider", "anthropic", "--model", "claude-sonnet-4-5", "Tell me", timeout=30)
    assert result.returncode != 0
    assert result.stdout.startswith("The first half"[:15])
    assert "no data from the server for 1 s" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2, result.stderr  # the stall note and one error line
    assert fake_llm.chat_requests()[0].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    (_, messages), = asyncio.run(_threads(cli.db))
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "error")]
    assert messages[1]["content"] == "The first half, then silence"[:15]


def test_text_before_and_after_a_tool_call_is_kept_apart_on_stdout(cli, fake_llm):
    write_mcp_config(cli.config, '[tools]\nalways_allow = ["t:*"]\n\n')
    fake_llm.script(Reply(text="Let me check.", tool_calls=[ToolCallSpec("t__echo", {"text": "hi"})]),
                    Reply(text="Done: it said hi."), Reply(text="Title"))
    result = cli("ask", "--provider", "anthropic", "echo hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Let me check.\n\nDone: it said hi.\n"


def _interrupt(cli, fake_llm, *script: Reply, after: float) -> subprocess.CompletedProcess[str]:
    """Run ask in a pipe and press ctrl+c (SIGINT) ``after`` seconds in."""
    fake_llm.script(*script)
    env = {key: value for key, value in os.environ.items() if not key.endswith("_API_KEY")}
    env.update({"PYTHONPATH": str(ROOT), "AIAGENTS_CONFIG": str(cli.config), "AIAGENTS_DB": str(cli.db),
                "ANTHROPIC_BASE_URL": fake_llm.base_url, "ANTHROPIC_API_KEY": "sk-ant-test"})
    process = subprocess.Popen([sys.executable, "-m", "tui_agents.cli", "ask", "--provider", "anthropic", "hello"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               text=True)
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_ctrl_c_before_the_reply_began_says_the_question_is_saved(cli, fake_llm):
    result = _interrupt(cli, fake_llm, Reply(text="too late", first_delay=20), after=2.0)
    assert result.returncode == 130
    assert result.stderr.strip().splitlines()[-1] == \
        "aiagents-tui: interrupted before the reply began; your question is saved."
    (_, messages), = asyncio.run(_threads(cli.db))
    assert [m["role"] for m in messages] == ["user"]


def test_ctrl_c_while_only_the_title_is_coming_ends_well(cli, fake_llm):
    result = _interrupt(cli, fake_llm, Reply(text="The whole answer."), Reply(text="Title", first_delay=20),
                        after=2.5)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "The whole answer.\n" and result.stderr == ""
    (_, messages), = asyncio.run(_threads(cli.db))
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "complete")]


def test_a_slow_title_does_not_hold_up_the_exit(cli, fake_llm):
    fake_llm.script(Reply(text="Answer."), Reply(text="Title", first_delay=25))
    started = time.monotonic()
    result = cli("ask", "--provider", "anthropic", "hello")
    assert result.returncode == 0 and result.stdout == "Answer.\n" and result.stderr == ""
    assert time.monotonic() - started < 15, "ask waited for the title"


def test_a_rate_limit_waited_out_is_told_on_stderr(cli, fake_llm):
    fake_llm.script(Reply(status=429, error_message="Slow down.", headers={"retry-after": "2"}),
                    Reply(text="Answered after the wait."), Reply(text="Title"))
    result = cli("ask", "--provider", "anthropic", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Answered after the wait.\n"
    assert "trying again in 2 s (ctrl+c stops)" in result.stderr


def test_a_tool_server_that_cannot_start_is_one_note_and_the_answer_comes(cli, fake_llm):
    write_mcp_config(cli.config)
    cli.config.write_text(cli.config.read_text().replace('"stdio"', '"fail-start"'))
    fake_llm.script(Reply(text="Answered without it."), Reply(text="Title"))
    result = cli("ask", "--provider", "anthropic", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Answered without it.\n"
    notes = [line for line in result.stderr.splitlines() if line.startswith("· ")]
    assert len(notes) == 1 and notes[0].endswith(". Its tools are left out."), result.stderr
    assert "Traceback" not in result.stderr
