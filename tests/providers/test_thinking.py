"""Thinking on the three wires: requests as sent, and thinking events apart from the reply."""

from __future__ import annotations

import pytest

from tests.fakes.llm_server import Reply, ToolCallSpec, iter_frames
from tests.providers.conftest import collect
from tui_agents.errors import InvalidArgumentError
from tui_agents.providers.base import TextDeltaEvent, ThinkingBlockEvent, ThinkingDeltaEvent
from tui_agents.providers.thinking import ThinkTagSplitter, normalize_thinking
from tui_agents.types import Message, ToolCall

USER = [Message(role="user", content="Why is the sky blue?")]


def _split(events):
    thinking = "".join(e.text for e in events if isinstance(e, ThinkingDeltaEvent))
    text = "".join(e.text for e in events if isinstance(e, TextDeltaEvent))
    return thinking, text


async def test_anthropic_thinking_request_and_stream(fake_llm, make_provider):
    fake_llm.script(Reply(text="Rayleigh scattering.", thinking="Light scatters; blue most.",
                          signature="sig-abc", redacted_thinking=("ENCRYPTED==",)))
    provider = make_provider("anthropic", thinking={"budget_tokens": 2048}, temperature=0.3)
    events = await collect(provider.stream(USER))
    body = fake_llm.chat_requests()[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048  # the budget must fit inside max_tokens
    assert "temperature" not in body  # the API refuses a changed temperature with thinking
    assert _split(events) == ("Light scatters; blue most.", "Rayleigh scattering.")
    blocks = [e.block for e in events if isinstance(e, ThinkingBlockEvent)]
    assert blocks == [{"type": "thinking", "thinking": "Light scatters; blue most.", "signature": "sig-abc"},
                      {"type": "redacted_thinking", "data": "ENCRYPTED=="}]


async def test_anthropic_sends_thinking_blocks_back_with_tool_results(fake_llm, make_provider):
    fake_llm.script(Reply(thinking="I should look it up.", signature="sig-1", redacted_thinking=("R1",),
                          tool_calls=[ToolCallSpec("lookup", {"q": "sky"}, id="toolu_1")]),
                    Reply(text="Because of scattering."))
    provider = make_provider("anthropic", thinking=True)
    first = await provider.complete(USER)
    assert first.message.thinking == "I should look it up."
    history = [*USER, first.message,
               Message(role="tool", content="Rayleigh", tool_call_id="toolu_1")]
    await collect(provider.stream(history))
    sent = fake_llm.chat_requests()[1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "I should look it up.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "R1"},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "sky"}},
    ]}


async def test_anthropic_does_not_send_thinking_of_earlier_turns(fake_llm, make_provider):
    provider = make_provider("anthropic")
    old = Message(role="assistant", content="Blue.", thinking="hmm",
                  thinking_blocks=[{"type": "thinking", "thinking": "hmm", "signature": "s"}])
    await collect(provider.stream([*USER, old, Message(role="user", content="And red?")]))
    body = fake_llm.chat_requests()[0].body
    assert body["messages"][1] == {"role": "assistant", "content": "Blue."}
    assert "thinking" not in body  # off unless asked


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_openai_reasoning_deltas_are_thinking(fake_llm, make_provider, field):
    fake_llm.script(Reply(text="42.", thinking="Six times seven.", reasoning_field=field))
    provider = make_provider("openai")
    events = await collect(provider.stream(USER, thinking="high"))
    assert _split(events) == ("Six times seven.", "42.")
    assert fake_llm.chat_requests()[0].body["reasoning_effort"] == "high"


async def test_openai_never_sends_thinking_back(fake_llm, make_provider):
    provider = make_provider("openai")
    old = Message(role="assistant", content="42.", thinking="secret reasoning")
    await collect(provider.stream([*USER, old, Message(role="user", content="Sure?")]))
    body = fake_llm.chat_requests()[0].body
    assert "secret reasoning" not in str(body) and "reasoning_effort" not in body


async def test_ollama_think_request_and_message_thinking(fake_llm, make_provider):
    fake_llm.script(Reply(text="Blue light scatters.", thinking="Recall physics."), Reply(text="ok"),
                    Reply(text="ok"))
    provider = make_provider("ollama", api_key=None, thinking=True)
    events = await collect(provider.stream(USER))
    assert _split(events) == ("Recall physics.", "Blue light scatters.")
    await collect(provider.stream(USER, thinking="low"))
    await collect(provider.stream(USER, thinking=False))
    assert [r.body.get("think") for r in fake_llm.chat_requests()] == [True, "low", False]


async def test_ollama_default_sends_no_think_field(fake_llm, make_provider):
    provider = make_provider("ollama", api_key=None)
    await collect(provider.stream(USER))
    assert "think" not in fake_llm.chat_requests()[0].body


@pytest.mark.parametrize("name", ["openai", "ollama"])
async def test_think_tags_at_the_start_become_thinking_across_chunks(fake_llm, make_provider, name):
    text = "<think>\nLet me count: 2+2.</think>\n\nIt is 4. <think>not a tag here</think>"
    fake_llm.script(Reply(text=text, chunk_chars=3))
    provider = make_provider(name, **({"api_key": None} if name == "ollama" else {}))
    events = await collect(provider.stream(USER))
    assert _split(events) == ("Let me count: 2+2.", "It is 4. <think>not a tag here</think>")


async def test_think_tags_in_the_partial_text_of_a_broken_stream_are_not_reply_text(fake_llm, make_provider):
    fake_llm.script(Reply(text="<think>abc</think>Reply", chunk_chars=4, cut_after_chunks=2))
    provider = make_provider("openai")
    events = []
    with pytest.raises(Exception) as caught:
        async for event in provider.stream(USER):
            events.append(event)
    assert getattr(caught.value, "partial_text", "") == ""
    assert _split(events)[1] == ""


def test_splitter_passes_plain_text_and_keeps_an_unclosed_tag_as_thinking():
    splitter = ThinkTagSplitter()
    assert splitter.feed("  ") == ("", "")
    assert splitter.feed("Hello") == ("", "  Hello")
    assert splitter.feed("<think>") == ("", "<think>")
    open_only = ThinkTagSplitter()
    assert open_only.feed("<th") == ("", "")
    assert open_only.feed("ink>abc</thi") == ("abc", "")
    assert open_only.finish() == ("</thi", "")


@pytest.mark.parametrize("value", ["maximum", {"budget_tokens": 10}, {"tokens": 5000}, 3])
def test_bad_thinking_values_are_typed_errors(value):
    with pytest.raises(InvalidArgumentError, match="thinking must be"):
        normalize_thinking(value)


def test_anthropic_thinking_parses_without_http():
    from tui_agents.providers.anthropic import AnthropicProvider

    provider = AnthropicProvider(api_key="k", base_url="http://127.0.0.1:9")
    parser = provider._new_parser()
    events = []
    for frame in iter_frames("anthropic", Reply(text="hi", thinking="deep thought", chunk_chars=1)):
        events += parser.feed(frame)
    events += parser.finish()
    assert _split(events) == ("deep thought", "hi")
    assert parser.text == ["h", "i"]  # thinking is never the reply's partial text


async def test_complete_returns_thinking_and_blocks(fake_llm, make_provider):
    fake_llm.script(Reply(text="Done.", thinking="Plan.", signature="sig-9"))
    provider = make_provider("anthropic", thinking="low")
    completion = await provider.complete(USER)
    assert completion.message.thinking == "Plan."
    assert completion.message.thinking_blocks == [{"type": "thinking", "thinking": "Plan.", "signature": "sig-9"}]
    assert fake_llm.chat_requests()[0].body["thinking"]["budget_tokens"] == 2048


def test_tool_calls_still_parse_with_thinking():
    call = ToolCall(id="a", name="b", arguments={})
    assert Message(role="assistant", tool_calls=[call], thinking="x").thinking == "x"


def test_anthropic_thinking_in_spaced_json_takes_the_full_parse_and_gives_the_same_events():
    import json

    from tui_agents.providers.anthropic import AnthropicProvider

    def event(name, data, spaced):
        text = json.dumps(data) if spaced else json.dumps(data, separators=(",", ":"))
        return f"event: {name}\ndata: {text}\n\n".encode()

    def run(spaced):
        provider = AnthropicProvider(api_key="k", base_url="http://127.0.0.1:9")
        parser = provider._new_parser()
        frames = [
            event("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 1}}}, spaced),
            event("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
                  spaced),
            *[event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "thinking_delta", "thinking": t}}, spaced)
              for t in ('a"b', "ü", "")],
            event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "signature_delta", "signature": "S"}}, spaced),
            event("content_block_stop", {"type": "content_block_stop", "index": 0}, spaced),
            event("message_stop", {"type": "message_stop"}, spaced),
        ]
        events = [e for frame in frames for e in parser.feed(frame)] + parser.finish()
        return [e for e in events if isinstance(e, (ThinkingDeltaEvent, ThinkingBlockEvent))]

    assert run(True) == run(False) == [
        ThinkingDeltaEvent('a"b'), ThinkingDeltaEvent("ü"),
        ThinkingBlockEvent({"type": "thinking", "thinking": 'a"bü', "signature": "S"})]


async def test_ollama_leaves_room_for_thoughts_in_num_ctx(fake_llm, make_provider):
    provider = make_provider("ollama", api_key=None)
    await collect(provider.stream(USER))
    await collect(provider.stream(USER, thinking=True))
    assert [r.body["options"]["num_ctx"] for r in fake_llm.chat_requests()] == [4096, 16384]
