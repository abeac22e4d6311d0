"""The engine's chat session, driven as a script would (no Textual): threads, turns, grants, context."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply
from tui_agents.config import AppConfig, MemoryConfig
from tui_agents.events import TurnFailed, TurnFinished
from tui_agents.session import ChatSession


@pytest.fixture
async def session(tmp_path, fake_llm, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", fake_llm.host_port)
    chat = ChatSession(tmp_path / "chats.db", AppConfig(memory=MemoryConfig(strategy="last_n", params={"n": 2})),
                       "alice")
    await chat.open()
    yield chat
    await chat.close()


async def _events(stream):
    return [event async for event in stream]


async def test_a_new_thread_is_owned_once_and_turns_write_no_grant(session, fake_llm):
    thread = await session.new_thread("ollama", "fake-model-small")
    grants = await session.auth.list_grants(resource_id=thread["id"])
    assert [(g["user_id"], g["role"]) for g in grants] == [("alice", "owner")]
    fake_llm.script(Reply(text="one"), Reply(text="two"))
    first = await _events(session.send(thread["id"], "hello"))
    second = await _events(session.send(thread["id"], "again"))
    assert isinstance(first[-1], TurnFinished) and first[-1].text == "one"
    assert isinstance(second[-1], TurnFinished) and second[-1].text == "two"
    assert len(await session.auth.list_grants(resource_id=thread["id"])) == 1


async def test_fork_and_branch_belong_to_the_user_and_resume_answers_again(session, fake_llm):
    thread = await session.new_thread("ollama", "fake-model-small")
    fake_llm.script(Reply(status=400, error_message="nope"), Reply(text="answered"))
    failed = await _events(session.send(thread["id"], "question"))
    assert isinstance(failed[-1], TurnFailed) and "nope" in str(failed[-1].error)
    resumed = await _events(session.resume(thread["id"]))
    assert isinstance(resumed[-1], TurnFinished) and resumed[-1].text == "answered"
    question = (await session.messages.list(thread["id"]))[0]
    for copy in (await session.fork(thread["id"]), await session.branch(thread["id"], question["id"])):
        assert await session.auth.check("alice", "write", "thread", copy["id"])


async def test_context_is_what_the_next_request_carries(session, fake_llm):
    thread = await session.new_thread("ollama", "fake-model-small")
    await session.stores.facts.set("alice", "city", "Paris")
    for text in ("a", "b"):
        await _events(session.send(thread["id"], text))
    context = await session.context(thread["id"])
    assert [r["content"] for r in context.records] == ["b", "echo: b"]  # last_n with n=2
    assert context.model == "fake-model-small" and context.window > 0
    assert "Paris" in (context.system or "")
    await _events(session.resume(thread["id"]))
    wire = fake_llm.chat_requests()[-1].body["messages"]
    assert [m["content"] for m in wire if m["role"] != "system"] == ["b"]  # resume cuts after the last question


async def test_search_finds_messages_and_survives_a_hostile_query(session, fake_llm):
    thread = await session.new_thread("ollama", "fake-model-small", title="Garden")
    await _events(session.send(thread["id"], "which vegetables like shade"))
    hits = await session.search("shade")
    assert hits and hits[0]["thread_id"] == thread["id"]
    assert await session.search('"AND(') is not None  # made safe before MATCH, never raises


async def test_network_settings_reach_the_providers_and_runners(tmp_path, fake_llm, monkeypatch):
    from tui_agents.config import NetworkConfig
    from tui_agents.providers import ProviderTimeouts

    monkeypatch.setenv("OLLAMA_HOST", fake_llm.host_port)
    config = AppConfig(network=NetworkConfig(stall_after=3, connect_timeout=2, first_byte_timeout=60,
                                             read_timeout=30))
    chat = ChatSession(tmp_path / "chats.db", config, "alice")
    await chat.open()
    try:
        await chat.start_jobs()
        assert chat.provider("ollama").timeouts == ProviderTimeouts(2, 60, 30)
        assert chat.runner("ollama").stall_after == 3
    finally:
        await chat.close()


def test_network_settings_refuse_a_zero_timeout():
    from tui_agents.config import NetworkConfig
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="read_timeout"):
        NetworkConfig(read_timeout=0)
