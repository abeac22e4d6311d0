"""The runner's tool loop over all three wire formats, against the fake LLM server over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.engine.test_runner import (
    KINDS,
    chat_requests,
    collect,
    conn,  # noqa: F401 - fixture
    new_thread,
    providers,  # noqa: F401 - fixture
    rows,
    runner_for,
    wait_until,
)
from tests.fakes import Reply, ToolCallSpec
from tui_agents.errors import ToolError
from tui_agents.events import ToolCallFinished, ToolCallStarted, TurnFinished
from tui_agents.tools import register_tool, tool


class _Meeting:
    """Two tools that each wait for the other to start: only concurrent calls can both succeed."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.ping = asyncio.Event()
        self.pong = asyncio.Event()
        self.blocked = asyncio.Event()


MEETING = _Meeting()


@tool(description="Answers ping once rt_pong is running too.", name="rt_ping")
async def rt_ping(label: str) -> str:
    MEETING.ping.set()
    await asyncio.wait_for(MEETING.pong.wait(), 5)
    return f"ping {label}"


@tool(description="Answers pong once rt_ping is running too.", name="rt_pong")
async def rt_pong(label: str) -> str:
    MEETING.pong.set()
    await asyncio.wait_for(MEETING.ping.wait(), 5)
    return f"pong {label}"


@tool(description="Always fails.", name="rt_explode")
def rt_explode(reason: str) -> str:
    raise ValueError(f"the fuse was {reason}")


@tool(description="Weather for a city.", name="rt_weather")
async def rt_weather(city: str) -> str:
    return f"Sunny in {city}"


@tool(description="Never finishes on its own.", name="rt_block", timeout=None)
async def rt_block() -> str:
    MEETING.blocked.set()
    await asyncio.Event().wait()
    return "unreachable"


@pytest.fixture(autouse=True)
def _fresh_meeting():
    MEETING.reset()
    for decorated in (rt_ping, rt_pong, rt_explode, rt_weather, rt_block):
        register_tool(decorated.tool)  # by name too, whatever other test modules did to the registry


def call(kind: str, name: str, arguments: dict[str, Any], call_id: str) -> ToolCallSpec:
    """A scripted tool call; Ollama sends no call ids, like the real server."""
    return ToolCallSpec(name, arguments, id=None if kind == "ollama" else call_id)


def last_tool_exchange(kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, tuple[str, bool]]]:
    """The calls of the last assistant tool turn ({name: arguments}) and their results ({name: (text, is_error)}).

    Results are matched to calls by id where the wire format has ids, and the
    test fails if a result answers a call that is not there.
    """
    messages = body["messages"]
    calls: dict[str, Any] = {}
    names: dict[str, str] = {}
    results: dict[str, tuple[str, bool]] = {}
    if kind == "anthropic":
        assistant = [m for m in messages if m["role"] == "assistant"][-1]
        for block in assistant["content"]:
            if block["type"] == "tool_use":
                calls[block["name"]] = block["input"]
                names[block["id"]] = block["name"]
        for block in messages[messages.index(assistant) + 1]["content"]:
            if block["type"] == "tool_result":
                text = block["content"] if isinstance(block["content"], str) else block["content"][0]["text"]
                results[names[block["tool_use_id"]]] = (text, bool(block.get("is_error")))
    elif kind == "openai":
        assistant = [m for m in messages if m["role"] == "assistant"][-1]
        for item in assistant["tool_calls"]:
            calls[item["function"]["name"]] = json.loads(item["function"]["arguments"])
            names[item["id"]] = item["function"]["name"]
        for message in messages[messages.index(assistant) + 1:]:
            results[names[message["tool_call_id"]]] = (message["content"], message["content"].startswith("Error"))
    else:
        assistant = [m for m in messages if m["role"] == "assistant"][-1]
        for item in assistant["tool_calls"]:
            calls[item["function"]["name"]] = item["function"]["arguments"]
        for message in messages[messages.index(assistant) + 1:]:
            assert message["role"] == "tool" and message["tool_name"] in calls
            results[message["tool_name"]] = (message["content"], message["content"].startswith("Error"))
    return calls, results


@pytest.mark.parametrize("kind", KINDS)
async def test_parallel_tool_calls_run_concurrently_and_go_back_paired(conn, providers, fake_llm, kind):
    fake_llm.script(
        Reply(text="Let me check.", tool_calls=[call(kind, "rt_ping", {"label": "a"}, "call_a"),
                                                call(kind, "rt_pong", {"label": "b"}, "call_b")]),
        Reply(text="Both answered."),
    )
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers(kind), tools=[rt_ping, "rt_pong"])

    events = await collect(runner.run_stream(thread_id, "alice", "Ping and pong, please."))

    assert isinstance(events[-1], TurnFinished) and events[-1].text == "Both answered."
    kinds = [type(e).__name__ for e in events if isinstance(e, (ToolCallStarted, ToolCallFinished))]
    assert kinds == ["ToolCallStarted", "ToolCallStarted", "ToolCallFinished", "ToolCallFinished"]
    finished = {e.name: e for e in events if isinstance(e, ToolCallFinished)}
    assert {n: (e.status, e.result) for n, e in finished.items()} == {
        "rt_ping": ("ok", "ping a"), "rt_pong": ("ok", "pong b")}

    first, second = chat_requests(fake_llm, kind)
    sent_tools = first.body["tools"]
    assert sorted(t.get("name") or t["function"]["name"] for t in sent_tools) == ["rt_ping", "rt_pong"]
    calls, results = last_tool_exchange(kind, second.body)
    assert calls == {"rt_ping": {"label": "a"}, "rt_pong": {"label": "b"}}
    assert results == {"rt_ping": ("ping a", False), "rt_pong": ("pong b", False)}

    saved = await rows(conn, thread_id)
    assert [r["role"] for r in saved] == ["user", "assistant", "tool", "tool", "assistant"]
    asking = saved[1]
    assert asking["content"] == "Let me check." and asking["status"] == "complete"
    assert sorted(c["name"] for c in asking["tool_calls"]) == ["rt_ping", "rt_pong"]
    call_ids = {c["id"] for c in asking["tool_calls"]}
    for result in saved[2:4]:
        assert result["tool_call_id"] in call_ids
        meta = result["meta"]
        assert meta["status"] == "ok" and meta["duration_ms"] >= 0 and meta["started_at"] > 0
        assert meta["arguments"] == calls[meta["name"]]
        assert finished[meta["name"]].result_message_id == result["id"]
    assert saved[4]["content"] == "Both answered." and saved[4]["status"] == "complete"


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_tool_failures_go_back_to_the_model_as_error_results(conn, providers, fake_llm, kind):
    fake_llm.script(
        Reply(tool_calls=[call(kind, "rt_explode", {"reason": "wet"}, "c1"),
                          call(kind, "rt_missing", {}, "c2")]),
        Reply(text="Sorry, that failed."),
    )
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers(kind), tools=["rt_explode"])

    assert await runner.run(thread_id, "alice", "Light it") == "Sorry, that failed."

    _, results = last_tool_exchange(kind, chat_requests(fake_llm, kind)[-1].body)
    assert results["rt_explode"][1] is True and "the fuse was wet" in results["rt_explode"][0]
    assert results["rt_missing"][1] is True and "rt_missing" in results["rt_missing"][0]
    statuses = {r["meta"]["name"]: r["meta"]["status"] for r in await rows(conn, thread_id) if r["role"] == "tool"}
    assert statuses == {"rt_explode": "error", "rt_missing": "error"}


async def test_tool_loop_stops_after_max_iterations_with_history_still_paired(conn, providers, fake_llm):
    loop = Reply(tool_calls=[ToolCallSpec("rt_weather", {"city": "Oslo"})])
    fake_llm.script(loop, loop)
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=["rt_weather"], max_iterations=2)

    with pytest.raises(ToolError, match="2 rounds"):
        await runner.run(thread_id, "alice", "Weather?")

    assert len(chat_requests(fake_llm)) == 2
    saved = await rows(conn, thread_id)
    assert [r["role"] for r in saved] == ["user", "assistant", "tool", "assistant", "tool"]
    fake_llm.script(Reply(text="It is sunny in Oslo."))
    assert await runner.run(thread_id, "alice", "So?") == "It is sunny in Oslo."
    calls, results = last_tool_exchange("anthropic", chat_requests(fake_llm)[-1].body)
    assert calls == {"rt_weather": {"city": "Oslo"}} and results["rt_weather"] == ("Sunny in Oslo", False)


async def test_cancelling_during_a_tool_saves_a_result_for_every_call(conn, providers, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("rt_block", {}, id="blk"), ToolCallSpec("rt_weather", {"city": "Rome"}, id="w")]))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("anthropic"), tools=["rt_block", "rt_weather"])

    task = asyncio.create_task(runner.run(thread_id, "alice", "Block forever"))
    await wait_until(MEETING.blocked.is_set)
    await asyncio.sleep(0.3)  # the call runs a while before the stop: its saved time says so
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    saved = await rows(conn, thread_id)
    results = {r["meta"]["name"]: r for r in saved if r["role"] == "tool"}
    blocked = results["rt_block"]
    assert blocked["meta"]["status"] == "cancelled" and "cancelled" in blocked["content"]
    assert blocked["meta"]["duration_ms"] >= 250  # the time it ran, not 0
    assert results["rt_weather"]["meta"]["status"] == "ok"
    (caller,) = [r for r in saved if r["role"] == "assistant"]
    assert caller["status"] == "interrupted"  # the turn was stopped, as a stopped text reply is
    fake_llm.script(Reply(text="Moving on."))
    assert await runner.run(thread_id, "alice", "Never mind") == "Moving on."
    calls, answered = last_tool_exchange("anthropic", chat_requests(fake_llm)[-1].body)
    assert set(calls) == set(answered) == {"rt_block", "rt_weather"}


async def test_runner_tool_timeout_gives_the_model_a_timeout_result(conn, providers, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("rt_block", {}, id="t1")]), Reply(text="It timed out."))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("openai"), tools=["rt_block"], tool_timeout=0.2)

    events = await collect(runner.run_stream(thread_id, "alice", "Try it"))

    assert [e.status for e in events if isinstance(e, ToolCallFinished)] == ["timeout"]
    assert events[-1].text == "It timed out."
    (result,) = [r for r in await rows(conn, thread_id) if r["role"] == "tool"]
    assert result["meta"]["status"] == "timeout"


async def test_tools_default_to_the_agent_records_tool_names(conn, providers, fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("rt_weather", {"city": "Lima"}, id="x")]), Reply(text="Sunny."))
    thread_id = await new_thread(conn, tools=["rt_weather", "rt_not_registered"])
    runner = runner_for(conn, providers("openai"))

    assert await runner.run(thread_id, "alice", "Weather in Lima?") == "Sunny."

    first, second = chat_requests(fake_llm)
    assert [t["function"]["name"] for t in first.body["tools"]] == ["rt_weather"]
    assert last_tool_exchange("openai", second.body)[1] == {"rt_weather": ("Sunny in Lima", False)}
