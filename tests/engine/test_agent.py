"""The Agent facade: private or shared database, current thread, definitions, auth, tools, errors."""

from __future__ import annotations

import pytest

from tests.engine.test_runner import chat_requests, conn, provider_for, rows  # noqa: F401 - conn is a fixture
from tests.fakes import Reply, ToolCallSpec
from tui_agents import Agent, AgentDefinition, tool
from tui_agents.errors import AuthenticationError, MissingAPIKeyError, PermissionDeniedError
from tui_agents.store import AgentStore, Auth, ThreadStore


@tool(description="Adds two integers.", name="agent_add")
def agent_add(a: int, b: int) -> int:
    return a + b


def system_of(request) -> str:
    system = request.body.get("system")
    if system is None:  # OpenAI and Ollama send it as the first message
        first = request.body["messages"][0]
        return first["content"] if first["role"] == "system" else ""
    return system if isinstance(system, str) else " ".join(block["text"] for block in system)


async def test_chat_keeps_one_thread_until_new_thread(fake_llm):
    fake_llm.script(Reply(text="Hi!"), Reply(text="More."), Reply(text="Fresh start."))
    async with Agent(name="Helper", role="You help.", provider="anthropic", api_key="test",
                     base_url=fake_llm.base_url) as agent:
        assert await agent.chat("Hello") == "Hi!"
        first_thread = agent.thread_id
        assert await agent.chat("Tell me more") == "More."
        assert agent.thread_id == first_thread
        assert len(chat_requests(fake_llm)[-1].body["messages"]) == 3

        agent.new_thread()
        assert agent.thread_id is None
        assert await agent.chat("Another topic") == "Fresh start."
        assert agent.thread_id not in (None, first_thread)
        last = chat_requests(fake_llm)[-1]
        assert len(last.body["messages"]) == 1 and system_of(last).startswith("You help.")
        assert len(await rows(agent.conn, first_thread)) == 4
    assert agent.conn is None  # the private database was closed


async def test_stream_yields_the_reply_in_chunks(fake_llm):
    fake_llm.script(Reply(text="Once upon a time, briefly.", chunk_chars=5, delay=0.01))  # one read per chunk
    async with Agent(role="You tell stories.", provider="ollama", model="llama3.1",
                     base_url=fake_llm.base_url) as agent:
        chunks = [chunk async for chunk in agent.stream("Tell me a story")]
    assert len(chunks) > 1 and "".join(chunks) == "Once upon a time, briefly."
    assert chat_requests(fake_llm)[-1].body["model"] == "llama3.1"


async def test_definition_becomes_the_system_prompt(fake_llm):
    definition = AgentDefinition(role="You are a rental assistant.", goal="Help hosts.",
                                 constraints=["Be concise"])
    fake_llm.script(Reply(text="Checkout is at 11."))
    async with Agent(definition=definition, provider="openai", api_key="test",
                     base_url=fake_llm.base_url + "/v1", model="gpt-4o") as agent:
        assert agent.system_prompt == definition.compile()
        assert await agent.chat("Checkout time?") == "Checkout is at 11."
    assert system_of(chat_requests(fake_llm)[-1]) == definition.compile()


async def test_shared_database_with_auth_grants_the_creator_and_refuses_others(conn, fake_llm):
    auth = Auth(conn)
    provider = provider_for("anthropic", fake_llm)
    fake_llm.script(Reply(text="Hello Alice."))
    agent = Agent(name="desk", role="You staff the desk.", provider=provider, conn=conn, auth=auth)

    assert await agent.chat("Hi", user_id="alice") == "Hello Alice."
    thread = await ThreadStore(conn).get(agent.thread_id)
    assert thread["user_id"] == "alice"
    assert await auth.check("alice", "manage", "thread", thread["id"])
    with pytest.raises(PermissionDeniedError):
        await agent.chat("Me too", user_id="bob")
    assert len(await rows(conn, thread["id"])) == 2  # bob's message was never saved

    record = await AgentStore(conn).get_by_name("desk")
    assert record["id"] == thread["agent_id"] and record["system_prompt"] == "You staff the desk."
    again = Agent(name="desk", role="You staff the front desk.", provider=provider, conn=conn, auth=auth)
    fake_llm.script(Reply(text="Hello again."))
    await again.chat("Hi", user_id="alice")
    assert (await ThreadStore(conn).get(again.thread_id))["agent_id"] == record["id"]  # reused by name
    assert (await AgentStore(conn).get(record["id"]))["system_prompt"] == "You staff the front desk."

    await agent.aclose()  # neither the caller's connection nor provider is closed
    assert len(await rows(conn, thread["id"])) == 2
    await provider.aclose()


async def test_agent_runs_decorated_tools(fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("agent_add", {"a": 25, "b": 4}, id="c1")]), Reply(text="29"))
    async with Agent(role="You do sums.", provider="openai", api_key="test",
                     base_url=fake_llm.base_url + "/v1", tools=[agent_add]) as agent:
        assert await agent.chat("25 + 4?") == "29"
        results = [r for r in await rows(agent.conn, agent.thread_id) if r["role"] == "tool"]
    assert [(r["content"], r["meta"]["status"]) for r in results] == [("29", "ok")]


async def test_provider_errors_surface_typed_and_keep_the_user_message(fake_llm):
    fake_llm.script(Reply(status=401))
    async with Agent(role="x", provider="anthropic", api_key="wrong", base_url=fake_llm.base_url) as agent:
        with pytest.raises(AuthenticationError):
            await agent.chat("Hello?")
        assert [(r["role"], r["content"]) for r in await rows(agent.conn, agent.thread_id)] == [("user", "Hello?")]


async def test_missing_key_is_reported_at_the_first_chat():
    async with Agent(role="x", provider="anthropic") as agent:  # no argument, env var or keyring
        with pytest.raises(MissingAPIKeyError) as info:
            await agent.chat("Hello?")
    assert "ANTHROPIC_API_KEY" in str(info.value)


async def test_closing_the_agent_closes_the_judge_it_built_from_a_name(fake_llm, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", fake_llm.base_url)
    agent = Agent(role="x", provider="ollama", judge_provider="ollama")
    judge = agent.judge_provider
    assert judge is not None and judge is not agent.provider
    await agent.aclose()
    assert judge._client.is_closed and agent.provider._client.is_closed
