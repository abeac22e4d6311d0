"""MCP tools and approval inside real turns: the runner, the fake LLM server over HTTP and a real MCP server."""

from __future__ import annotations

import pytest

from tests.engine.test_runner import (
    chat_requests,
    collect,
    conn,  # noqa: F401 - fixture
    new_thread,
    providers,  # noqa: F401 - fixture
    rows,
    runner_for,
)
from tests.fakes import Reply, ToolCallSpec
from tests.mcp.conftest import pid_alive, stdio_server
from tui_agents import Agent
from tui_agents.approvals import ToolApprovals
from tui_agents.config import AppConfig, load_config, save_config
from tui_agents.events import (
    TextDelta,
    ToolApproval,
    ToolCallFinished,
    ToolServerFailed,
    TurnFinished,
    UsageReported,
)


def _tool_results(body: dict) -> list[str]:
    """The tool results the model was sent (Anthropic wire shape)."""
    out = []
    for message in body["messages"]:
        if isinstance(message["content"], list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    content = block["content"]
                    out.append(content if isinstance(content, str) else content[0]["text"])
    return out


async def test_the_model_calls_an_mcp_tool_and_gets_its_result(conn, providers, fake_llm):
    server = stdio_server("notes")
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("notes__echo", {"text": "from the server"})]),
                    Reply(text="Done."))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=[server])
    events = await collect(runner.run_stream(thread_id, "alice", "Echo something"))
    await runner.aclose()

    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished[0].name == "notes__echo" and finished[0].result == "from the server"
    assert finished[0].server == "notes"
    assert isinstance(events[-1], TurnFinished) and events[-1].text == "Done."
    first = chat_requests(fake_llm)[0].body
    assert "notes__echo" in {tool["name"] for tool in first["tools"]}
    assert _tool_results(chat_requests(fake_llm)[1].body) == ["from the server"]
    tool_rows = [r for r in await rows(conn, thread_id) if r["role"] == "tool"]
    assert tool_rows[0]["meta"]["status"] == "ok" and tool_rows[0]["content"] == "from the server"
    assert tool_rows[0]["meta"]["server"] == "notes"


async def test_server_is_started_once_and_reused_across_turns_then_stopped(conn, providers, fake_llm):
    server = stdio_server("s")
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("s__pid", {})]), Reply(text="one"),
                    Reply(tool_calls=[ToolCallSpec("s__pid", {})]), Reply(text="two"))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=[server])
    first = await collect(runner.run_stream(thread_id, "alice", "pid?"))
    second = await collect(runner.run_stream(thread_id, "alice", "pid again?"))
    pids = [e.result for e in first + second if isinstance(e, ToolCallFinished)]
    assert len(pids) == 2 and pids[0] == pids[1]
    await runner.aclose()
    assert not pid_alive(int(pids[0]))


async def test_mcp_error_result_reaches_the_model_as_a_tool_error(conn, providers, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("t__fail", {"reason": "no such file"})]), Reply(text="Sorry."))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=[stdio_server("t")])
    events = await collect(runner.run_stream(thread_id, "alice", "Break it"))
    await runner.aclose()
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.status == "error" and "no such file" in finished.error
    assert isinstance(events[-1], TurnFinished)
    request = chat_requests(fake_llm)[1].body
    block = next(b for m in request["messages"] if isinstance(m["content"], list)
                 for b in m["content"] if b.get("type") == "tool_result")
    assert block.get("is_error") is True


async def test_a_server_that_cannot_start_is_reported_and_the_turn_goes_on(conn, providers, fake_llm):
    fake_llm.script(Reply(text="Answered without tools."))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("openai"), tools=[stdio_server("broken", mode="fail-start")])
    events = await collect(runner.run_stream(thread_id, "alice", "hello"))
    await runner.aclose()
    failed = [e for e in events if isinstance(e, ToolServerFailed)]
    assert failed and failed[0].server == "broken"
    assert runner.tool_servers[0].error is failed[0].error
    assert "missing configuration" in failed[0].stderr_tail
    assert isinstance(events[-1], TurnFinished) and events[-1].text == "Answered without tools."
    assert "tools" not in chat_requests(fake_llm)[0].body


async def test_a_server_that_crashes_is_reported_at_once_and_started_again_next_turn(conn, providers, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("c__crash", {})]), Reply(text="It died."),
                    Reply(tool_calls=[ToolCallSpec("c__echo", {"text": "back"})]), Reply(text="It is back."))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=[stdio_server("c")])
    events = await collect(runner.run_stream(thread_id, "alice", "crash it"))
    assert isinstance(events[-1], TurnFinished)
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.status == "error" and "stopped" in finished.error
    failed = [e for e in events if isinstance(e, ToolServerFailed)]  # in the crash turn, after the call
    assert len(failed) == 1 and events.index(failed[0]) > events.index(finished)
    assert "crashing on purpose" in failed[0].stderr_tail
    later = await collect(runner.run_stream(thread_id, "alice", "again"))
    assert not any(isinstance(e, ToolServerFailed) for e in later)
    echoed = next(e for e in later if isinstance(e, ToolCallFinished))
    assert (echoed.status, echoed.result) == ("ok", "back")
    assert "c__echo" in {tool["name"] for tool in chat_requests(fake_llm)[2].body["tools"]}
    assert isinstance(later[-1], TurnFinished) and later[-1].text == "It is back."
    await runner.aclose()


async def test_a_crashed_server_that_cannot_start_again_is_told_at_the_next_turn(conn, providers, fake_llm):
    server = stdio_server("c")
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("c__crash", {})]), Reply(text="It died."),
                    Reply(tool_calls=[ToolCallSpec("c__echo", {"text": "back?"})]), Reply(text="Still down."))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=[server])
    crashed = next(e for e in await collect(runner.run_stream(thread_id, "alice", "crash it"))
                   if isinstance(e, ToolServerFailed))
    server.args[-1] = "fail-start"  # its next start fails (a broken install, a config it now rejects)
    later = await collect(runner.run_stream(thread_id, "alice", "again"))
    failed = [e for e in later if isinstance(e, ToolServerFailed)]
    assert len(failed) == 1 and failed[0].error is not crashed.error and server.state == "failed"
    assert "could not start" in str(failed[0].error) and "missing configuration" in failed[0].stderr_tail
    assert "tools" not in chat_requests(fake_llm)[2].body  # the turn goes on without its tools
    call = next(e for e in later if isinstance(e, ToolCallFinished))  # the model calls it from memory
    assert "its MCP server c is down" in call.error
    assert isinstance(later[-1], TurnFinished) and later[-1].text == "Still down."
    await runner.aclose()


async def test_a_call_to_a_tool_of_a_server_that_is_down_says_so(conn, providers, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("broken__echo", {"text": "hi"})]), Reply(text="Noted."))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=[stdio_server("broken", mode="fail-start")])
    events = await collect(runner.run_stream(thread_id, "alice", "echo hi"))
    await runner.aclose()
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert "its MCP server broken is down" in finished.error and "could not start" in finished.error
    assert "There is no tool" not in finished.error


@pytest.mark.parametrize("answer", [True, False])
async def test_approve_is_asked_with_name_server_and_arguments(conn, providers, fake_llm, answer):
    asked = []

    async def approve(name, server, arguments):
        asked.append((name, server, arguments))
        return answer

    fake_llm.script(Reply(tool_calls=[ToolCallSpec("srv__echo", {"text": "hi"})]), Reply(text="ok"))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=[stdio_server("srv")], approve=approve)
    events = await collect(runner.run_stream(thread_id, "alice", "go"))
    await runner.aclose()
    assert asked == [("echo", "srv", {"text": "hi"})]
    decision = next(e for e in events if isinstance(e, ToolApproval))
    assert (decision.name, decision.server, decision.approved) == ("echo", "srv", answer)
    sent = _tool_results(chat_requests(fake_llm)[1].body)
    if answer:
        assert sent == ["hi"]
    else:
        assert sent and "The user declined" in sent[0]


async def test_sync_approve_declines_a_local_tool(conn, providers, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("calculate", {"expression": "2+2"})]), Reply(text="ok"))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("openai"), tools=["calculate"], approve=lambda n, s, a: False)
    events = await collect(runner.run_stream(thread_id, "alice", "add"))
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert finished.status == "declined" and "declined" in finished.error
    (result,) = [r for r in await rows(conn, thread_id) if r["role"] == "tool"]
    assert result["meta"]["status"] == "declined"  # the inspector and a reopened thread say so too


async def test_tool_approvals_run_safe_builtins_refuse_others_without_ask_and_save_always(tmp_path):
    path = tmp_path / "config.toml"
    save_config(AppConfig(theme="nord"), path)
    config = load_config(path)
    approvals = ToolApprovals.from_config(config, path=path)
    assert await approvals("calculate", None, {}) is True
    assert await approvals("read_file", "files", {}) is False  # not interactive: refused

    answers = iter(["always"])
    interactive = ToolApprovals.from_config(config, ask=lambda n, s, a: next(answers), path=path)
    assert await interactive("read_file", "files", {"path": "/x"}) is True
    assert await interactive("read_file", "files", {"path": "/y"}) is True  # not asked again
    saved = load_config(path)
    assert saved.tools.always_allow == ["files:read_file"] and saved.theme == "nord"
    assert await ToolApprovals(["files:*"])("anything", "files", {}) is True
    assert await ToolApprovals(["files:*"])("anything", "other", {}) is False


async def test_agent_takes_an_mcp_server_and_approve_and_stops_it_on_aclose(fake_llm):
    server = stdio_server("a")
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("a__pid", {})]), Reply(text="The pid is known."))
    agent = Agent(role="You help.", provider="anthropic", api_key="test", base_url=fake_llm.base_url,
                  tools=[server, "calculate"], approve=lambda name, server, arguments: True)
    assert await agent.chat("What is your pid?") == "The pid is known."
    pid = int(_tool_results(chat_requests(fake_llm)[1].body)[0])
    assert pid_alive(pid)
    await agent.aclose()
    assert not pid_alive(pid)


async def test_the_reply_records_time_to_first_token_and_duration(conn, providers, fake_llm):
    fake_llm.script(Reply(text="Hello there.", first_delay=0.2, delay=0.01, usage=(5, 3)))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"))
    events = await collect(runner.run_stream(thread_id, "alice", "hi"))
    usage = next(e for e in events if isinstance(e, UsageReported))
    assert usage.ttft_ms >= 200 and usage.duration_ms >= usage.ttft_ms
    reply = next(e for e in events if isinstance(e, TextDelta)).message_id
    record = next(r for r in await rows(conn, thread_id) if r["id"] == reply)
    assert record["meta"]["ttft_ms"] == usage.ttft_ms and record["meta"]["duration_ms"] == usage.duration_ms
    assert record["usage"] == {"input_tokens": 5, "output_tokens": 3}


async def test_a_turn_stopped_while_approval_is_pending_keeps_calls_and_results_paired(conn, providers, fake_llm):
    import asyncio

    asked = asyncio.Event()

    async def approve(name, server, arguments):
        asked.set()
        await asyncio.Event().wait()  # the user never answers

    fake_llm.script(Reply(tool_calls=[ToolCallSpec("calculate", {"expression": "1+1"})]))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=["calculate"], approve=approve)
    turn = asyncio.create_task(collect(runner.run_stream(thread_id, "alice", "add")))
    await asyncio.wait_for(asked.wait(), 15)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    saved = await rows(conn, thread_id)
    calls = [c["id"] for r in saved if r["role"] == "assistant" for c in r["tool_calls"]]
    results = [r["tool_call_id"] for r in saved if r["role"] == "tool"]
    assert calls and results == calls


async def test_a_user_tool_named_like_a_builtin_is_not_treated_as_safe():
    from tui_agents.tools import register_tool, tool

    approvals = ToolApprovals()
    assert await approvals("calculate", None, {}) is True

    @tool(description="Not the builtin.", name="calculate")
    def my_calculate(expression: str) -> str:
        return "42"

    register_tool(my_calculate.tool)  # the conftest restores the registry after the test
    assert await approvals("calculate", None, {}) is False
    assert await ToolApprovals(["calculate"])("calculate", None, {}) is True


async def test_tool_servers_give_an_agent_record_only_the_tools_it_names(conn, providers, fake_llm):
    from tui_agents.store import AgentStore, ThreadStore

    used, unused = stdio_server("files"), stdio_server("other")
    agents, threads = AgentStore(conn), ThreadStore(conn)
    picky = await agents.create("picky", "", tools=["calculate", "files__echo"])
    plain = await agents.create("plain", "", tools=["calculate"])
    fake_llm.script(Reply(text="one"), Reply(text="two"))
    runner = runner_for(conn, providers("anthropic"), tool_servers=[used, unused])
    await collect(runner.run_stream((await threads.create(picky["id"]))["id"], "alice", "hi"))
    await collect(runner.run_stream((await threads.create(plain["id"]))["id"], "alice", "hi"))
    first, second = (r.body for r in chat_requests(fake_llm))
    assert {tool["name"] for tool in first["tools"]} == {"calculate", "files__echo"}
    assert {tool["name"] for tool in second["tools"]} == {"calculate"}
    assert used.running and not unused.running  # a server no record names is never started
    assert runner.tool_servers == [used, unused]
    await runner.aclose()
    assert not used.running


async def test_a_record_can_take_all_of_a_servers_tools(conn, providers, fake_llm):
    from tui_agents.store import AgentStore, ThreadStore

    agent = await AgentStore(conn).create("all", "", tools=["files:*"])
    thread = await ThreadStore(conn).create(agent["id"])
    fake_llm.script(Reply(text="ok"))
    runner = runner_for(conn, providers("anthropic"), tool_servers=[stdio_server("files")])
    await collect(runner.run_stream(thread["id"], "alice", "hi"))
    await runner.aclose()
    assert {"files__echo", "files__add", "files__hang"} <= {t["name"] for t in chat_requests(fake_llm)[0].body["tools"]}
