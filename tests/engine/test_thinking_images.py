"""Thinking, images and the context window through the runner and Agent: real SQLite, the fake server over HTTP."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tests.engine.test_runner import chat_requests, collect, conn, new_thread, provider_for, rows  # noqa: F401
from tests.fakes import Reply, ToolCallSpec
from tui_agents import Agent
from tui_agents.errors import CapabilityError, ImageError
from tui_agents.events import TextDelta, ThinkingDelta, TurnFailed, TurnFinished
from tui_agents.memory import get_memory_strategy
from tui_agents.runner import AgentRunner
from tui_agents.store import MessageStore, ThreadStore
from tui_agents.store.images import ImageStore
from tui_agents.tools import tool

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 1000


@tool(description="Looks a word up.", name="ti_lookup")
def ti_lookup(word: str) -> str:
    return f"{word}: a colour"


def runner_for(conn, provider, **kwargs) -> AgentRunner:
    kwargs.setdefault("memory", get_memory_strategy("last_n", n=50))
    memory = kwargs.pop("memory")
    return AgentRunner(conn, None, provider, memory, user_memory=False, **kwargs)


async def test_anthropic_thinking_streams_saves_and_goes_back_with_tool_results(conn, fake_llm):
    fake_llm.script(
        Reply(thinking="I need the lookup tool.", signature="sig-A", redacted_thinking=("ENC==",),
              tool_calls=[ToolCallSpec("ti_lookup", {"word": "blue"}, id="toolu_1")]),
        Reply(thinking="Now answer.", signature="sig-B", text="Blue is a colour."),
    )
    provider = provider_for("anthropic", fake_llm)
    runner = runner_for(conn, provider, tools=[ti_lookup], thinking={"budget_tokens": 1500})
    thread_id = await new_thread(conn)
    events = await collect(runner.run_stream(thread_id, "u", "What is blue?"))
    kinds = [type(e) for e in events if isinstance(e, (ThinkingDelta, TextDelta))]
    assert kinds.index(TextDelta) > kinds.index(ThinkingDelta)  # thoughts come first, apart from the text
    finished = events[-1]
    assert isinstance(finished, TurnFinished) and finished.thinking == "Now answer."
    first, second = chat_requests(fake_llm, "anthropic")
    assert first.body["thinking"] == {"type": "enabled", "budget_tokens": 1500}
    assert second.body["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": "I need the lookup tool.", "signature": "sig-A"},
        {"type": "redacted_thinking", "data": "ENC=="},
    ]
    saved = await rows(conn, thread_id)
    assert [(m["role"], m["content"], m["thinking"]) for m in saved] == [
        ("user", "What is blue?", None),
        ("assistant", "", "I need the lookup tool."),
        ("tool", "blue: a colour", None),
        ("assistant", "Blue is a colour.", "Now answer."),
    ]
    assert saved[1]["thinking_blocks"][1] == {"type": "redacted_thinking", "data": "ENC=="}
    assert saved[3]["meta"]["thinking_ms"] >= 0
    await provider.aclose()


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_thinking_of_earlier_turns_is_saved_but_never_sent_again(conn, fake_llm, kind):
    fake_llm.script(Reply(thinking="SECRET-REASONING", text="First answer."), Reply(text="Second."))
    fake_llm.model_details["thinker"] = {"capabilities": ["completion", "thinking"]}
    provider = provider_for(kind, fake_llm, model="thinker")
    runner = runner_for(conn, provider, thinking=True)
    thread_id = await new_thread(conn)
    assert await runner.run(thread_id, "u", "one") == "First answer."
    await runner.run(thread_id, "u", "two")
    assert (await rows(conn, thread_id))[1]["thinking"] == "SECRET-REASONING"
    assert "SECRET-REASONING" not in chat_requests(fake_llm, kind)[1].raw_body.decode()
    await provider.aclose()


async def test_thinking_does_not_count_toward_the_token_window(conn, fake_llm):
    provider = provider_for("openai", fake_llm)
    thread_id = await new_thread(conn)
    store = MessageStore(conn)
    for i in range(5):
        await store.add(thread_id, "user", f"question {i}")
        await store.add(thread_id, "assistant", f"answer {i}", thinking="long thought " * 5000)
    window = get_memory_strategy("token_window", max_tokens=2000)
    chosen = await window.select(store, thread_id)
    assert len(chosen) == 10  # 50k tokens of thinking would not fit in 2,000 if it counted
    await provider.aclose()


async def test_a_stream_broken_while_thinking_keeps_the_thinking(conn, fake_llm):
    fake_llm.script(Reply(thinking="abcdefghijklmnop", text="never", chunk_chars=4, cut_after_chunks=2))
    provider = provider_for("ollama", fake_llm)
    runner = runner_for(conn, provider)
    thread_id = await new_thread(conn)
    events = await collect(runner.run_stream(thread_id, "u", "hi"))
    assert isinstance(events[-1], TurnFailed)
    reply = (await rows(conn, thread_id))[1]
    assert (reply["status"], reply["content"], reply["thinking"]) == ("error", "", "abcdefgh")
    await provider.aclose()


@pytest.mark.parametrize("kind", ["anthropic", "openai", "ollama"])
async def test_an_image_is_sent_in_each_wire_format_and_again_on_later_turns(conn, fake_llm, kind, tmp_path):
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    fake_llm.model_details["vision-model"] = {"capabilities": ["completion", "vision"]}
    provider = provider_for(kind, fake_llm, model="vision-model")
    runner = runner_for(conn, provider)
    thread_id = await new_thread(conn)
    await runner.run(thread_id, "u", "What is in this picture?", images=[path])
    await runner.run(thread_id, "u", "And the colour?")
    encoded = base64.b64encode(PNG).decode()
    for request in chat_requests(fake_llm, kind):
        user = request.body["messages"][1 if kind != "anthropic" else 0]
        if kind == "anthropic":
            assert user["content"] == [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": encoded}},
                {"type": "text", "text": "What is in this picture?"}]
        elif kind == "openai":
            assert user["content"] == [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}}]
        else:
            assert user == {"role": "user", "content": "What is in this picture?", "images": [encoded]}
    saved = (await rows(conn, thread_id))[0]
    assert saved["images"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    await provider.aclose()


async def test_agent_chat_takes_image_bytes_and_forks_share_them(fake_llm):
    fake_llm.model_details["vision-model"] = {"capabilities": ["completion", "vision"]}
    agent = Agent(role="You see.", provider="ollama", base_url=fake_llm.base_url, model="vision-model")
    async with agent:
        await agent.chat("What is this?", images=[JPEG])
        await ThreadStore(agent.conn).fork(agent.thread_id)
        assert await ImageStore(agent.conn).stats() == {"count": 1, "bytes": len(JPEG)}
        [request] = chat_requests(fake_llm, "ollama")
        assert request.body["messages"][-1]["images"] == [base64.b64encode(JPEG).decode()]


async def test_an_image_over_the_api_limit_fails_before_anything_is_saved(conn, fake_llm):
    provider = provider_for("anthropic", fake_llm)
    runner = runner_for(conn, provider)
    thread_id = await new_thread(conn)
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (4 * 1024 * 1024)
    with pytest.raises(ImageError, match="over the 3.8 MB Anthropic accepts"):
        await runner.run(thread_id, "u", "look", images=[big])
    assert await rows(conn, thread_id) == [] and chat_requests(fake_llm) == []
    await provider.aclose()


async def test_a_file_that_is_not_an_image_is_a_typed_error(conn, fake_llm, tmp_path):
    provider = provider_for("openai", fake_llm)
    runner = runner_for(conn, provider)
    thread_id = await new_thread(conn)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(ImageError, match="not a PNG, JPEG, GIF or WebP"):
        await runner.run(thread_id, "u", "look", images=[notes])
    with pytest.raises(ImageError, match="no image file"):
        await runner.run(thread_id, "u", "look", images=[tmp_path / "missing.png"])
    assert await rows(conn, thread_id) == []
    await provider.aclose()


async def test_a_model_without_vision_or_tools_is_told_before_the_request(conn, fake_llm):
    fake_llm.model_details["text-only"] = {"capabilities": ["completion"]}
    provider = provider_for("ollama", fake_llm, model="text-only")
    runner = runner_for(conn, provider)
    thread_id = await new_thread(conn)
    with pytest.raises(CapabilityError, match="cannot see images"):
        await runner.run(thread_id, "u", "look", images=[PNG])
    assert chat_requests(fake_llm) == []
    assert [m["content"] for m in await rows(conn, thread_id)] == ["look"]  # nothing typed is lost
    await provider.aclose()


async def test_a_model_without_tools_answers_without_them_and_says_so(conn, fake_llm):
    from tui_agents.events import ToolsSkipped

    fake_llm.model_details["text-only"] = {"capabilities": ["completion"]}
    fake_llm.script(Reply(text="Here it is."))
    provider = provider_for("ollama", fake_llm, model="text-only")
    tooled = runner_for(conn, provider, tools=[ti_lookup])
    thread_id = await new_thread(conn)
    events = [event async for event in tooled.run_stream(thread_id, "u", "look it up")]
    assert [e.model for e in events if isinstance(e, ToolsSkipped)] == ["text-only"]
    request = chat_requests(fake_llm)[-1].body
    assert "tools" not in request or not request["tools"]
    assert [m["content"] for m in await rows(conn, thread_id)] == ["look it up", "Here it is."]
    await provider.aclose()


async def test_ollama_num_ctx_fits_the_window_and_the_memory_respects_the_model(conn, fake_llm):
    fake_llm.model_details["small-ctx"] = {"context_length": 8192}
    provider = provider_for("ollama", fake_llm, model="small-ctx")
    runner = runner_for(conn, provider, memory=get_memory_strategy("token_window", max_tokens=100_000))
    thread_id = await new_thread(conn)
    store = MessageStore(conn)
    for i in range(40):  # ~20k tokens: more than the model's 8,192
        await store.add(thread_id, "user", f"question {i} " + "word " * 250)
        await store.add(thread_id, "assistant", f"answer {i}")
    await runner.run(thread_id, "u", "last question")
    [request] = chat_requests(fake_llm, "ollama")
    assert request.body["options"]["num_ctx"] == 8192
    sent = request.body["messages"]
    assert sent[-1]["content"] == "last question"
    words = sum(m["content"].count("word") for m in sent)  # one token each
    assert 3000 < words <= 8192 - 2048  # as much as fits, the oldest left out, none cut silently by Ollama
    assert "question 0 " not in str(sent)
    assert await runner.get_context_window() == 8192
    assert [r.path for r in fake_llm.requests].count("/api/show") == 1  # cached per model
    await provider.aclose()


async def test_ollama_num_ctx_grows_in_powers_of_two_with_the_thread(conn, fake_llm):
    provider = provider_for("ollama", fake_llm, model="big-ctx")
    runner = runner_for(conn, provider)
    thread_id = await new_thread(conn)
    await runner.run(thread_id, "u", "hi")
    await runner.run(thread_id, "u", "x" * 30_000)
    sizes = [r.body["options"]["num_ctx"] for r in chat_requests(fake_llm, "ollama")]
    assert sizes == [4096, 16384]
    await provider.aclose()


async def test_openai_compatible_window_comes_from_the_server(fake_llm):
    llama = provider_for("openai", fake_llm, model="local")
    fake_llm.props_n_ctx = 4096
    assert await llama.get_context_window() == 4096  # llama.cpp's /props, not a 128k default
    vllm = provider_for("openai", fake_llm, model="fake-model-large")
    fake_llm.max_model_len = 32768
    assert await vllm.get_context_window() == 32768
    plain = provider_for("openai", fake_llm, model="other")
    fake_llm.max_model_len = None
    fake_llm.props_n_ctx = None
    assert await plain.get_context_window() == 128_000  # the server says nothing: the table
    for provider in (llama, vllm, plain):
        await provider.aclose()


async def test_agent_thinking_option_reaches_the_wire(fake_llm):
    fake_llm.script(Reply(thinking="hm", text="ok"))
    fake_llm.model_details["gpt-oss"] = {"capabilities": ["completion", "thinking"]}
    async with Agent(role="r", provider="ollama", base_url=fake_llm.base_url, model="gpt-oss",
                     thinking="high") as agent:
        assert await agent.chat("hi") == "ok"
        assert chat_requests(fake_llm, "ollama")[0].body["think"] == "high"
        saved = await MessageStore(agent.conn).list(agent.thread_id)
        assert saved[-1]["thinking"] == "hm"


async def test_the_window_cap_keeps_tool_calls_with_their_results(conn):
    thread_id = await new_thread(conn)
    store = MessageStore(conn)
    await store.add(thread_id, "user", "old " * 400)
    await store.add(thread_id, "assistant", "", tool_calls=[{"id": "c1", "name": "t", "arguments": {}}])
    await store.add(thread_id, "tool", "result " * 300, tool_call_id="c1")
    await store.add(thread_id, "assistant", "done")
    await store.add(thread_id, "user", "new question")
    strategy = get_memory_strategy("last_n", n=50)
    everything = await strategy.select(store, thread_id)
    assert len(everything) == 5
    capped = await strategy.select(store, thread_id, max_tokens=200)
    assert [m["content"][:4] for m in capped] == ["done", "new "]  # the call and its result went together
    kept = await strategy.select(store, thread_id, max_tokens=400)
    assert [m["role"] for m in kept] == ["assistant", "tool", "assistant", "user"]
    alone = await strategy.select(store, thread_id, max_tokens=1)
    assert [m["content"] for m in alone] == ["new question"]  # the newest message always stays


async def test_extra_body_options_are_not_changed_by_num_ctx(conn, fake_llm):
    mine = {"num_gpu": 1}
    provider = provider_for("ollama", fake_llm, extra_body={"options": mine})
    runner = runner_for(conn, provider)
    await runner.run(await new_thread(conn), "u", "hi")
    assert mine == {"num_gpu": 1}
    assert chat_requests(fake_llm, "ollama")[0].body["options"] == {"num_gpu": 1, "num_ctx": 4096}
    await provider.aclose()


async def test_thinking_on_a_model_that_cannot_think_is_told_before_the_request(conn, fake_llm):
    fake_llm.model_details["plain"] = {"capabilities": ["completion"]}
    provider = provider_for("ollama", fake_llm, model="plain", thinking=True)
    runner = runner_for(conn, provider)
    with pytest.raises(CapabilityError, match="cannot think"):
        await runner.run(await new_thread(conn), "u", "hi")
    assert chat_requests(fake_llm) == []
    await provider.aclose()
