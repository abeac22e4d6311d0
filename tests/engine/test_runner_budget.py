"""token_window leaves room for the system prompt and the user's facts, as the provider counts them."""

from __future__ import annotations

from typing import Any

from tests.engine.test_runner import chat_requests, new_thread, provider_for
from tests.fakes import Reply
from tui_agents.memory import get_memory_strategy
from tui_agents.memory.tokens import TokenCounter
from tui_agents.runner import AgentRunner
from tui_agents.store import MessageStore, UserMemoryStore, connect


async def test_token_window_budget_counts_the_system_prompt_and_facts(tmp_path: Any, fake_llm: Any) -> None:
    counter = TokenCounter()
    await counter.load()
    conn = await connect(tmp_path / "app.db")
    prompt = "You are a careful assistant who answers in detail. " * 30
    thread_id = await new_thread(conn, system_prompt=prompt)
    await UserMemoryStore(conn).set("local", "timezone", "Europe/Lisbon")
    messages = MessageStore(conn)
    for i in range(12):
        text = f"message {i}: " + "words about the weather and the sea " * 8
        await messages.add(thread_id, "user" if i % 2 == 0 else "assistant", text, token_count=counter.count(text))
    budget = 1_000
    provider = provider_for("ollama", fake_llm)
    runner = AgentRunner(conn, None, provider, get_memory_strategy("token_window", max_tokens=budget))
    fake_llm.script(Reply(text="ok"))
    await runner.run(thread_id, "local", "And tomorrow?")

    body = chat_requests(fake_llm, "ollama")[-1].body
    system = body["messages"][0]
    assert system["role"] == "system" and "Europe/Lisbon" in system["content"]
    sent = body["messages"][1:]
    used = counter.count(system["content"]) + sum(counter.count(m["content"]) for m in sent)
    assert used <= budget
    # Without the reserve the window would have held more of the history.
    history_only = await get_memory_strategy("token_window", max_tokens=budget).select(messages, thread_id, counter)
    assert 1 <= len(sent) < len(history_only)
    assert sent[-1]["content"] == "And tomorrow?"
    await provider.aclose()
    await conn.close()
