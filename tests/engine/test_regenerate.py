"""Regenerating a reply in place: the new reply becomes another alternative on the same slot."""

from __future__ import annotations

import asyncio

import pytest

from tests.engine.test_runner import collect, conn, new_thread, providers, rows, runner_for  # noqa: F401
from tests.fakes import Reply
from tui_agents import Agent
from tui_agents.errors import InvalidArgumentError, ServerError
from tui_agents.events import AlternativeStarted, TextDelta, TurnFailed, TurnFinished
from tui_agents.store import MessageStore


def _sent(fake_llm) -> list[str]:
    """The message texts of the last chat request (Ollama wire format)."""
    body = [r for r in fake_llm.requests if r.path == "/api/chat"][-1].body
    return [m["content"] for m in body["messages"] if m["role"] != "system"]


async def test_regenerate_keeps_the_old_reply_and_the_next_turn_sends_the_chosen_one(conn, providers, fake_llm):
    fake_llm.script(Reply(text="Red."), Reply(text="Blue."), Reply(text="ok"), Reply(text="ok"))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("ollama"))
    await runner.run(thread_id, "u", "Name a colour")
    first = (await rows(conn, thread_id))[-1]

    events = await collect(runner.regenerate_stream(thread_id, "u"))
    assert events[0] == AlternativeStarted(thread_id, first["id"], 1, 2)
    assert isinstance(events[-1], TurnFinished) and events[-1].text == "Blue."
    assert _sent(fake_llm) == ["Name a colour"]  # the old reply is not shown to the model
    assert [m["content"] for m in await rows(conn, thread_id)] == ["Name a colour", "Blue."]

    await runner.run(thread_id, "u", "Why?")
    assert _sent(fake_llm) == ["Name a colour", "Blue.", "Why?"]
    messages = MessageStore(conn)
    chosen = await messages.select_alternative(first["id"], 0)
    assert (chosen["index"], chosen["count"]) == (0, 2)
    await runner.run(thread_id, "u", "Really?")
    assert _sent(fake_llm) == ["Name a colour", "Red.", "Why?", "ok", "Really?"]


async def test_a_failed_regeneration_keeps_the_old_reply_chosen(conn, providers, fake_llm):
    fake_llm.script(Reply(text="Red."), Reply(status=500, error_message="boom"))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("ollama"))
    await runner.run(thread_id, "u", "Name a colour")
    events = await collect(runner.regenerate_stream(thread_id, "u"))
    assert isinstance(events[-1], TurnFailed) and isinstance(events[-1].error, ServerError)
    stored = await rows(conn, thread_id)
    assert [m["content"] for m in stored] == ["Name a colour", "Red."]
    assert await MessageStore(conn).alternatives(stored[-1]["id"]) is None


async def test_a_stopped_regeneration_keeps_both_replies(conn, providers, fake_llm):
    fake_llm.script(Reply(text="Red."), Reply(text="Blue " * 400, chunk_chars=5, delay=0.01))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("ollama"), flush_interval=0.05)
    await runner.run(thread_id, "u", "Name a colour")
    started = asyncio.Event()

    async def consume() -> None:
        async for event in runner.regenerate_stream(thread_id, "u"):
            if isinstance(event, TextDelta):
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 15)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    reply = (await rows(conn, thread_id))[-1]
    assert reply["status"] == "interrupted" and reply["content"].startswith("Blue")
    info = await MessageStore(conn).alternatives(reply["id"])
    assert (info["index"], info["count"]) == (1, 2)


async def test_regenerating_an_unanswered_message_just_answers_it(conn, providers, fake_llm):
    fake_llm.script(Reply(status=500, error_message="down"), Reply(text="Here."))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("ollama"))
    failed = await collect(runner.run_stream(thread_id, "u", "Hello"))
    assert isinstance(failed[-1], TurnFailed)
    events = await collect(runner.regenerate_stream(thread_id, "u"))
    assert not any(isinstance(e, AlternativeStarted) for e in events)
    assert [m["content"] for m in await rows(conn, thread_id)] == ["Hello", "Here."]


async def test_agent_regenerate_answers_the_current_thread_again(fake_llm):
    fake_llm.script(Reply(text="One."), Reply(text="Two."))
    async with Agent(role="Be brief.", provider="ollama", base_url=fake_llm.base_url, model="m") as agent:
        with pytest.raises(InvalidArgumentError, match="send a message first"):
            await agent.regenerate()
        assert await agent.chat("Count") == "One."
        assert await agent.regenerate() == "Two."
        history = await MessageStore(agent.conn).list(agent.thread_id)
        assert [m["content"] for m in history] == ["Count", "Two."]
        info = await MessageStore(agent.conn).alternatives(history[-1]["id"])
        assert (info["index"], info["count"]) == (1, 2)


async def test_a_reply_with_tool_calls_is_regenerated_and_chosen_again_as_one_alternative(conn, providers, fake_llm):
    from tests.fakes import ToolCallSpec
    from tui_agents.tools import tool

    @tool(description="The time now (test).", name="regen_clock")
    def regen_clock() -> str:
        return "12:00"

    fake_llm.script(Reply(tool_calls=[ToolCallSpec("regen_clock", {})]), Reply(text="It is noon."),
                    Reply(text="No idea."), Reply(text="ok"))
    thread_id = await new_thread(conn)
    runner = runner_for(conn, providers("ollama"), tools=[regen_clock])
    await runner.run(thread_id, "u", "What time is it?")
    first = await rows(conn, thread_id)
    assert [m["role"] for m in first] == ["user", "assistant", "tool", "assistant"]

    assert await runner.regenerate(thread_id, "u") == "No idea."
    assert [m["content"] for m in await rows(conn, thread_id)] == ["What time is it?", "No idea."]
    assert await MessageStore(conn).tool_calls(thread_id) == []

    await MessageStore(conn).select_alternative(first[1]["id"], 0)
    await runner.run(thread_id, "u", "Thanks")
    body = [r for r in fake_llm.requests if r.path == "/api/chat"][-1].body
    assert [m["role"] for m in body["messages"] if m["role"] != "system"] == [
        "user", "assistant", "tool", "assistant", "user"]
    assert "No idea." not in str(body)
