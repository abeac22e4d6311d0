"""Replies streamed from the fake server over real HTTP decode to the right events and errors."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.fakes import Reply, ToolCallSpec
from tui_agents.errors import (
    AuthenticationError,
    BadRequestError,
    ContextTooLongError,
    ModelNotFoundError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    ProviderPermissionError,
    ProviderTimeoutError,
    RateLimitedError,
    ServerError,
    StreamInterruptedError,
)
from tui_agents.providers import (
    StopEvent,
    TextDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEndEvent,
    ToolCallStartEvent,
    UsageEvent,
)
from tui_agents.types import Message

from .conftest import PROVIDERS, TEST_KEY, collect

HELLO = [Message(role="user", content="hello")]


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDeltaEvent))


@pytest.mark.parametrize("name", PROVIDERS)
async def test_plain_text_streams_in_pieces_with_usage_and_stop(name, fake_llm, make_provider):
    fake_llm.script(Reply(text="Grüße, 世界! 🌍 ok", chunk_chars=3, usage=(31, 7)))
    events = await collect(make_provider(name).stream(HELLO))
    assert text_of(events) == "Grüße, 世界! 🌍 ok"
    assert sum(isinstance(e, TextDeltaEvent) for e in events) > 3
    usage = [e.usage for e in events if isinstance(e, UsageEvent)][-1]
    assert (usage.input_tokens, usage.output_tokens) == (31, 7)
    assert events[-1] == StopEvent("end_turn", events[-1].raw_reason)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_one_tool_call_gives_start_deltas_and_parsed_arguments(name, fake_llm, make_provider):
    fake_llm.script(Reply(text="Let me check.", tool_calls=[ToolCallSpec("get_weather", {"city": "Zürich", "days": 3})],
                          chunk_chars=5))
    completion = await make_provider(name).complete(HELLO)
    assert completion.message.content == "Let me check."
    [call] = completion.message.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Zürich", "days": 3})
    assert call.id
    assert completion.stop_reason == "tool_use"


@pytest.mark.parametrize("name", PROVIDERS)
async def test_parallel_tool_calls_with_fragmented_arguments(name, fake_llm, make_provider):
    calls = [ToolCallSpec("add", {"a": 1, "b": [2, 3]}, id="call_A"), ToolCallSpec("lookup", {"q": "x" * 40}, id="call_B")]
    fake_llm.script(Reply(tool_calls=calls, chunk_chars=4))
    events = await collect(make_provider(name).stream(HELLO))
    starts = [e for e in events if isinstance(e, ToolCallStartEvent)]
    ends = [e for e in events if isinstance(e, ToolCallEndEvent)]
    assert [(s.index, s.id, s.name) for s in starts] == [(0, "call_A", "add"), (1, "call_B", "lookup")]
    assert [(e.index, e.call.arguments) for e in ends] == [(0, {"a": 1, "b": [2, 3]}), (1, {"q": "x" * 40})]
    for index in (0, 1):
        fragments = "".join(e.arguments_delta for e in events if isinstance(e, ToolCallDeltaEvent) and e.index == index)
        assert json.loads(fragments) == ends[index].call.arguments
    assert events[-1].reason == "tool_use"


async def test_ollama_makes_stable_unique_ids_when_the_server_sends_none(fake_llm, make_provider):
    reply = Reply(tool_calls=[ToolCallSpec("a", {"x": 1}), ToolCallSpec("a", {"x": 1})])
    fake_llm.script(reply)
    first = await make_provider("ollama").complete(HELLO)
    ids = [c.id for c in first.message.tool_calls]
    assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids)


async def test_anthropic_thinking_and_several_text_blocks_are_tolerated(fake_llm, make_provider):
    fake_llm.script(Reply(thinking="hmm, let me think", text="Answer.", tool_calls=[ToolCallSpec("t", {})]))
    completion = await make_provider("anthropic").complete(HELLO)
    assert completion.message.content == "Answer."
    assert [c.name for c in completion.message.tool_calls] == ["t"]


@pytest.mark.parametrize("name", PROVIDERS)
async def test_max_tokens_stop_reason_is_normalised(name, fake_llm, make_provider):
    fake_llm.script(Reply(text="cut sho", stop_reason="max_tokens"))
    events = await collect(make_provider(name).stream(HELLO))
    assert events[-1].reason == "max_tokens"


ERROR_CASES = [
    (401, AuthenticationError),
    (403, ProviderPermissionError),
    (404, ModelNotFoundError),
    (400, BadRequestError),
    (429, RateLimitedError),
    (500, ServerError),
    (529, OverloadedError),
]


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize(("status", "error_class"), ERROR_CASES)
async def test_error_status_maps_to_typed_error_keeping_provider_message(name, status, error_class, fake_llm, make_provider):
    fake_llm.script(Reply(status=status, error_message=f"provider says {status}"))
    with pytest.raises(error_class) as info:
        await collect(make_provider(name).stream(HELLO))
    assert f"provider says {status}" in str(info.value)
    assert info.value.status_code == status
    assert TEST_KEY not in str(info.value)


CONTEXT_BODIES = {
    "anthropic": {"type": "error", "error": {"type": "invalid_request_error",
                                             "message": "prompt is too long: 208310 tokens > 200000 maximum"}},
    "openai": {"error": {"message": "This model's maximum context length is 128000 tokens. However, your messages "
                                    "resulted in 130532 tokens. Please reduce the length of the messages.",
                         "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}},
    "ollama": {"error": "input length exceeds the context length"},
}


@pytest.mark.parametrize("name", PROVIDERS)
async def test_context_too_long(name, fake_llm, make_provider):
    fake_llm.script(Reply(status=400, body=CONTEXT_BODIES[name]))
    with pytest.raises(ContextTooLongError):
        await collect(make_provider(name).stream(HELLO))


async def test_wrong_key_error_never_echoes_the_key(fake_llm, make_provider):
    fake_llm.script(Reply(status=401, body={"error": {"message": f"Incorrect API key provided: {TEST_KEY}.",
                                                      "type": "invalid_request_error", "code": "invalid_api_key"}}))
    with pytest.raises(AuthenticationError) as info:
        await collect(make_provider("openai").stream(HELLO))
    assert TEST_KEY not in str(info.value) and TEST_KEY not in repr(info.value)
    assert "Incorrect API key provided" in str(info.value)


@pytest.mark.parametrize(("name", "header", "value", "wait"),
                         [("anthropic", "retry-after", "1", 1.0), ("openai", "retry-after-ms", "400", 0.4),
                          ("ollama", "retry-after", "1", 1.0)])
async def test_429_with_retry_after_is_waited_out_then_succeeds(name, header, value, wait, fake_llm, make_provider):
    fake_llm.script(Reply(status=429, headers={header: value}), Reply(text="finally"))
    provider = make_provider(name, max_retries=2)
    started = time.monotonic()
    completion = await provider.complete(HELLO)
    assert completion.message.content == "finally"
    assert time.monotonic() - started >= wait * 0.9  # the server's retry-after was honoured
    assert len(fake_llm.chat_requests()) == 2


async def test_retry_after_ms_and_5xx_are_retried(fake_llm, make_provider):
    fake_llm.script(Reply(status=529, headers={"retry-after-ms": "20"}),
                    Reply(status=500, headers={"retry-after-ms": "20"}), Reply(text="ok"))
    completion = await make_provider("anthropic", max_retries=2).complete(HELLO)
    assert completion.message.content == "ok"


async def test_retries_give_up_after_max_retries(fake_llm, make_provider):
    fake_llm.script(*[Reply(status=503, headers={"retry-after-ms": "10"})] * 3, Reply(text="never"))
    with pytest.raises(ServerError):
        await make_provider("openai", max_retries=2).complete(HELLO)
    assert len(fake_llm.chat_requests()) == 3


async def test_a_400_is_not_retried(fake_llm, make_provider):
    fake_llm.script(Reply(status=400), Reply(text="never"))
    with pytest.raises(BadRequestError):
        await make_provider("anthropic", max_retries=3).complete(HELLO)
    assert len(fake_llm.chat_requests()) == 1


@pytest.mark.parametrize("name", PROVIDERS)
async def test_disconnect_mid_stream_keeps_the_partial_text(name, fake_llm, make_provider):
    fake_llm.script(Reply(text="abcdefghijkl", chunk_chars=3, cut_after_chunks=2), Reply(text="not retried"))
    received = []
    with pytest.raises(StreamInterruptedError) as info:
        async for event in make_provider(name, max_retries=2).stream(HELLO):
            received.append(event)
    assert info.value.partial_text == "abcdef" == text_of(received)
    assert len(fake_llm.chat_requests()) == 1  # no retry once the reply has begun


@pytest.mark.parametrize("name", PROVIDERS)
async def test_disconnect_before_any_event_is_retried(name, fake_llm, make_provider):
    fake_llm.script(Reply(text="abc", cut_after_chunks=0), Reply(text="second try"))
    completion = await make_provider(name, max_retries=1).complete(HELLO)
    assert completion.message.content == "second try"


@pytest.mark.parametrize("name", PROVIDERS)
async def test_mid_stream_error_event_is_typed_and_keeps_partial_text(name, fake_llm, make_provider):
    fake_llm.script(Reply(text="partial answer", chunk_chars=4,
                          error_event={"type": "overloaded_error", "message": "Overloaded"} if name != "ollama"
                          else "model runner has unexpectedly stopped"))
    with pytest.raises(StreamInterruptedError) as info:
        await collect(make_provider(name).stream(HELLO))
    assert info.value.partial_text == "partial answer"
    assert isinstance(info.value.__cause__, ProviderError)
    if name == "anthropic":
        assert isinstance(info.value.__cause__, OverloadedError)
        assert info.value.error_type == "overloaded_error"


async def test_anthropic_error_event_before_any_text_is_the_typed_error(fake_llm, make_provider):
    fake_llm.script(Reply(text="", error_event={"type": "overloaded_error", "message": "Overloaded"}))
    with pytest.raises(OverloadedError, match="Overloaded"):
        await collect(make_provider("anthropic").stream(HELLO))


MALFORMED = {
    "anthropic": b'event: message_start\ndata: {"type":"message_start","message":{"usage":{}}}\n\n'
                 b"event: content_block_delta\ndata: {not json\n\n",
    "openai": b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: {"choices": [tru\n\n',
    "ollama": b'{"message":{"role":"assistant","content":"hi"},"done":false}\n{"message": oops}\n',
}


@pytest.mark.parametrize("name", PROVIDERS)
async def test_malformed_line_gives_a_clear_error_without_hanging(name, fake_llm, make_provider):
    fake_llm.script(Reply(raw=MALFORMED[name], chunk_chars=1000))
    with pytest.raises(ProviderError, match="malformed"):
        await asyncio.wait_for(collect(make_provider(name).stream(HELLO)), 15)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_truncated_stream_without_its_end_event_is_an_error(name, fake_llm, make_provider):
    whole = b"".join(_frames(name, Reply(text="hello there", chunk_chars=4)))
    fake_llm.script(Reply(raw=whole[: len(whole) // 2 + 10], chunk_chars=10_000))
    with pytest.raises(ProviderError):
        await collect(make_provider(name).stream(HELLO))


def _frames(name, reply):
    from tests.fakes.llm_server import iter_frames

    return list(iter_frames(name, reply, {"stream": True, "stream_options": {"include_usage": True}}))


@pytest.mark.parametrize("name", PROVIDERS)
async def test_stalled_stream_times_out_with_partial_text(name, fake_llm, make_provider):
    fake_llm.script(Reply(text="abcdef", chunk_chars=3, stall_after_chunks=1))
    with pytest.raises(StreamInterruptedError) as info:
        await asyncio.wait_for(collect(make_provider(name, timeout=1.0).stream(HELLO)), 20)
    assert info.value.partial_text == "abc"
    assert isinstance(info.value.__cause__, ProviderTimeoutError)


async def test_stall_before_first_event_is_a_timeout_error(fake_llm, make_provider):
    fake_llm.script(Reply(text="abc", stall_after_chunks=0))
    with pytest.raises(ProviderTimeoutError):
        await asyncio.wait_for(collect(make_provider("openai", timeout=0.5).stream(HELLO)), 20)


async def test_cancelling_the_consumer_closes_the_http_stream_at_once(fake_llm, make_provider):
    fake_llm.script(Reply(text="abcdef", chunk_chars=3, stall_after_chunks=1))
    provider = make_provider("anthropic", timeout=60)
    first = asyncio.Event()

    async def consume():
        async for _event in provider.stream(HELLO):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 15)
    # The server sees the client hang up although the provider is still open.
    await asyncio.to_thread(fake_llm.wait_until_connections, 0, 15)


async def test_ollama_not_running_says_so(unused_tcp_port, make_provider):
    provider = make_provider("ollama", base_url=f"http://127.0.0.1:{unused_tcp_port}")
    with pytest.raises(ProviderConnectionError, match="ollama serve"):
        await collect(provider.stream(HELLO))
    with pytest.raises(ProviderConnectionError):
        await provider.list_models()


@pytest.mark.parametrize("name", PROVIDERS)
async def test_list_models(name, fake_llm, make_provider):
    fake_llm.models = ["model-b", "model-a"]
    assert sorted(await make_provider(name).list_models()) == ["model-a", "model-b"]


async def test_list_models_with_a_wrong_key_is_an_authentication_error(fake_llm, make_provider):
    fake_llm.require_key = "the-right-key"
    with pytest.raises(AuthenticationError):
        await make_provider("anthropic").list_models()


async def test_ollama_show_and_version(fake_llm, make_provider):
    provider = make_provider("ollama")
    assert await provider.version()
    info = await provider.show("llama3.2")
    assert "tools" in info["capabilities"]


async def test_a_keyless_server_that_wants_a_key_says_so_and_how_to_give_one(fake_llm, make_provider, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    fake_llm.script(Reply(status=401, body={"error": {"message": "Missing bearer token"}}))
    with pytest.raises(AuthenticationError) as info:
        await collect(make_provider("openai", api_key=None).stream(HELLO))
    text = str(info.value)
    assert "wants an API key" in text and "Missing bearer token" in text
    assert "OPENAI_API_KEY" in text and "aiagents-tui keys set openai" in text
