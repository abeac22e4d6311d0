"""Builders of realistic stored data for the panel and export tests (real SQLite files)."""

from __future__ import annotations

from typing import Any

from tui_agents.store import AgentStore, MessageStore, ThreadStore, UserMemoryStore

USER = "local"
HOSTILE = "evil \x1b[31mred\x1b[0m [bold]markup[/bold] \x07bell"


async def make_agent(conn: Any, name: str = "helper") -> dict[str, Any]:
    """An agent with a plain prompt."""
    return dict(await AgentStore(conn).create(name, "You help.", provider="openai", model="gpt-4o-mini",
                                              tools=["calculator"]))


async def tool_thread(conn: Any, *, title: str = "Tools at work", hostile: bool = False) -> dict[str, Any]:
    """A thread with a guardrail flag, two parallel tool calls (one failing) and an interrupted reply."""
    agent = await make_agent(conn)
    threads, messages = ThreadStore(conn), MessageStore(conn)
    thread = await threads.create(agent["id"], title=title, user_id=USER)
    tid = thread["id"]
    user = await messages.add(tid, "user", "What is 6*7, and the weather in Oslo?",
                              guardrail={"injection": True, "reason": "asks to ignore rules", "action": "warned"})
    calls = [{"id": "call_1", "name": "calculator", "arguments": {"expression": "6*7"}},
             {"id": "call_2", "name": "weather", "arguments": {"city": HOSTILE if hostile else "Oslo"}}]
    assistant = await messages.add(tid, "assistant", "Let me check.", tool_calls=calls, model="gpt-4o-mini",
                                   usage={"input_tokens": 120, "output_tokens": 30})
    await messages.add(tid, "tool", "42", tool_call_id="call_1",
                       meta={"name": "calculator", "arguments": {"expression": "6*7"}, "started_at": 1_700_000_000.25,
                             "duration_ms": 3.2, "status": "ok"})
    await messages.add(tid, "tool", HOSTILE if hostile else "Weather service unreachable", tool_call_id="call_2",
                       meta={"name": "weather", "arguments": calls[1]["arguments"], "started_at": 1_700_000_000.5,
                             "duration_ms": 30000.0, "status": "timeout"})
    final = await messages.add(tid, "assistant", "6*7 is 42; the weather service timed out.",
                               status="interrupted", model="gpt-4o-mini", token_count=12)
    return {"thread": dict(thread), "agent": agent, "user": dict(user), "assistant": dict(assistant),
            "final": dict(final)}


async def seed_facts(conn: Any) -> None:
    """Facts from each source, in two categories."""
    memory = UserMemoryStore(conn)
    await memory.set(USER, "name", "Ada", source="user")
    await memory.set(USER, "timezone", "Europe/Oslo", source="extractor")
    await memory.set(USER, "style", "concise answers", category="preferences", source="tool")
