"""The background workers, run by a real JobQueue over a real SQLite store and the fake LLM server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.fixtures import Reply
from tui_agents.limits import JobQueue
from tui_agents.providers import get_provider
from tui_agents.store import AgentStore, MessageStore, ThreadStore, UserMemoryStore, connect
from tui_agents.workers import clean_title, fallback_title, register_default_handlers

USER = "usr_ana"


@dataclass
class World:
    conn: Any
    queue: JobQueue
    threads: ThreadStore
    messages: MessageStore
    thread_id: str

    async def run(self, name: str, payload: dict[str, Any]) -> Any:
        job_id = await self.queue.enqueue(name, payload)
        return await self.queue.wait_for(job_id, timeout=20)


@pytest.fixture
async def world(tmp_path: Any, fake_llm: Any) -> AsyncIterator[World]:
    conn = await connect(tmp_path / "app.db")
    provider = get_provider("ollama", base_url=fake_llm.base_url, model="llama3.2", max_retries=0)
    queue = JobQueue(retry_base_delay=0.01, poll_interval=0.2)
    register_default_handlers(queue, provider=provider, conn=conn)
    agent = await AgentStore(conn).create(name="helper", system_prompt="Be brief.")
    threads, messages = ThreadStore(conn), MessageStore(conn)
    thread = await threads.create(agent["id"], user_id=USER)
    await messages.add(thread["id"], "user", "I am flying to Lisbon next week, what should I pack for the weather?")
    await messages.add(thread["id"], "assistant", "Light layers and a rain jacket: Lisbon in spring is mild.")
    await queue.start_worker()
    yield World(conn, queue, threads, messages, thread["id"])
    await queue.stop_worker(grace=2)
    await provider.aclose()
    await conn.close()


def last_prompt(fake_llm: Any) -> str:
    """The text the worker sent in its last chat request (system and user turns)."""
    body = fake_llm.chat_requests()[-1].body
    return json.dumps(body["messages"])


async def test_generate_title_asks_the_model_and_saves_an_auto_title(world: World, fake_llm: Any) -> None:
    fake_llm.script(Reply(text='"Packing for a Lisbon Trip."'))
    job = await world.run("generate_title", {"thread_id": world.thread_id})
    assert job.status == "completed"
    thread = await world.threads.get(world.thread_id)
    assert (thread["title"], thread["title_source"]) == ("Packing for a Lisbon Trip", "auto")
    assert job.result == {"title": "Packing for a Lisbon Trip", "source": "model"}
    prompt = last_prompt(fake_llm)
    assert "flying to Lisbon" in prompt and "six words" in prompt


async def test_a_long_or_labelled_title_is_cut_to_six_words(world: World, fake_llm: Any) -> None:
    fake_llm.script(Reply(text="Title: **Weather, packing and travel tips for a week in Lisbon**\nHope this helps!"))
    await world.run("generate_title", {"thread_id": world.thread_id})
    assert (await world.threads.get(world.thread_id))["title"] == "Weather, packing and travel tips for"


async def test_a_failing_model_falls_back_to_the_first_words(world: World, fake_llm: Any) -> None:
    fake_llm.script(Reply(status=400, error_message="bad request"))
    job = await world.run("generate_title", {"thread_id": world.thread_id})
    assert job.status == "completed" and job.result["source"] == "fallback"
    assert (await world.threads.get(world.thread_id))["title"] == "I am flying to Lisbon next"


async def test_a_stalled_server_gives_up_after_the_call_timeout(world: World, fake_llm: Any, monkeypatch) -> None:
    import time

    from tui_agents.workers import _common

    monkeypatch.setattr(_common, "CALL_TIMEOUT", 0.5)  # 30 s in the app; the test need not wait that long
    fake_llm.script(Reply(text="Too late", first_delay=30), Reply(text="{}", first_delay=30))
    started = time.monotonic()
    job = await world.run("generate_title", {"thread_id": world.thread_id})
    assert job.status == "completed" and job.result["source"] == "fallback"
    assert (await world.threads.get(world.thread_id))["title"] == "I am flying to Lisbon next"
    memory = await world.run("extract_user_memory", {"thread_id": world.thread_id, "user_id": USER})
    assert (memory.status, memory.attempts, memory.result) == ("completed", 1, {"saved": [], "timed_out": True})
    assert time.monotonic() - started < 10
    fake_llm.reset()  # drop the stalled connections


async def test_an_empty_answer_falls_back_too(world: World, fake_llm: Any) -> None:
    fake_llm.script(Reply(text='""'))
    await world.run("generate_title", {"thread_id": world.thread_id})
    assert (await world.threads.get(world.thread_id))["title"] == "I am flying to Lisbon next"


async def test_a_user_title_is_never_overwritten(world: World, fake_llm: Any) -> None:
    await world.threads.rename(world.thread_id, "My trip")
    job = await world.run("generate_title", {"thread_id": world.thread_id})
    assert job.status == "completed"
    thread = await world.threads.get(world.thread_id)
    assert (thread["title"], thread["title_source"]) == ("My trip", "user")
    assert fake_llm.chat_requests() == []  # not even asked


async def test_summarize_thread_saves_the_summary(world: World, fake_llm: Any) -> None:
    fake_llm.script(Reply(text="The user asked what to pack for Lisbon.\n  Light layers were suggested."))
    job = await world.run("summarize_thread", {"thread_id": world.thread_id})
    assert job.status == "completed"
    summary = (await world.threads.get(world.thread_id))["summary"]
    assert summary == "The user asked what to pack for Lisbon. Light layers were suggested."
    assert "rain jacket" in last_prompt(fake_llm)


async def test_extract_user_memory_saves_the_facts(world: World, fake_llm: Any) -> None:
    facts = {"facts": [{"key": "next trip", "value": "Lisbon", "category": "travel"}]}
    fake_llm.script(Reply(text=json.dumps(facts)))
    job = await world.run("extract_user_memory", {"thread_id": world.thread_id, "user_id": USER})
    assert (job.status, job.result) == ("completed", {"saved": ["next_trip"]})
    memory = UserMemoryStore(world.conn)
    assert await memory.get(USER, "next_trip") == "Lisbon"
    assert (await memory.get_all(USER))[0]["source"] == "extractor"


async def test_a_payload_without_user_fails_at_once_with_a_clear_error(world: World, fake_llm: Any) -> None:
    job = await world.run("extract_user_memory", {"thread_id": world.thread_id})
    assert (job.status, job.attempts) == ("failed", 1)
    assert "needs a 'user_id'" in (job.error or "")


async def test_a_deleted_thread_fails_the_job_without_retries(world: World, fake_llm: Any) -> None:
    await world.threads.delete(world.thread_id)
    job = await world.run("summarize_thread", {"thread_id": world.thread_id})
    assert (job.status, job.attempts) == ("failed", 1)
    assert job.error and job.error.startswith("NotFoundError")


async def test_a_handler_the_user_registered_wins(tmp_path: Any, fake_llm: Any) -> None:
    queue = JobQueue()

    @queue.handler("generate_title")
    async def mine(payload: dict[str, Any]) -> str:
        return "mine"

    conn = await connect(tmp_path / "app.db")
    added = register_default_handlers(queue, provider=get_provider("ollama", base_url=fake_llm.base_url), conn=conn)
    assert added == ["summarize_thread", "extract_user_memory"]
    await queue.start_worker()
    job = await queue.wait_for(await queue.enqueue("generate_title", {"thread_id": "thr_x"}), timeout=10)
    assert job.result == "mine"
    await queue.stop_worker()
    await conn.close()


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Lisbon Packing Tips", "Lisbon Packing Tips"),
        ("'Lisbon packing tips.'", "Lisbon packing tips"),
        ("“Trip planning!”", "Trip planning"),
        ("Subject: Rust borrow checker woes...", "Rust borrow checker woes"),
        ("  \n\nOne two three four five six seven eight", "One two three four five six"),
        ("", ""),
    ],
)
def test_clean_title(answer: str, title: str) -> None:
    assert clean_title(answer) == title


def test_fallback_title_tidies_the_first_words() -> None:
    assert fallback_title('"How do I  reverse a list in Python?" asked Bob') == "How do I reverse a list"


@pytest.mark.parametrize(
    ("job", "payload", "reply"),
    [
        ("generate_title", {}, "Lisbon packing"),
        ("summarize_thread", {}, "A summary."),
        ("extract_user_memory", {"user_id": USER}, '{"facts": []}'),
    ],
)
async def test_jobs_ask_the_model_the_thread_chats_with(
    world: World, fake_llm: Any, job: str, payload: dict[str, Any], reply: str
) -> None:
    await world.threads.set_model(world.thread_id, "ollama", "qwen2.5:7b")
    fake_llm.script(Reply(text=reply))
    done = await world.run(job, {"thread_id": world.thread_id, **payload})
    assert done.status == "completed"
    assert fake_llm.chat_requests()[-1].body["model"] == "qwen2.5:7b"


async def test_a_model_picked_for_another_provider_is_not_sent(world: World, fake_llm: Any) -> None:
    await world.threads.set_model(world.thread_id, "anthropic", "claude-sonnet-4-5")
    fake_llm.script(Reply(text="Lisbon packing"))
    await world.run("generate_title", {"thread_id": world.thread_id})
    assert fake_llm.chat_requests()[-1].body["model"] == "llama3.2"
