"""The SSE and NDJSON decoders: spec edge cases and chunk boundaries anywhere."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import Reply, ToolCallSpec
from tests.fakes.llm_server import iter_frames
from tui_agents.errors import ConfigError, ProviderError
from tui_agents.providers import get_provider
from tui_agents.providers.anthropic import _AnthropicParser
from tui_agents.providers.decoding import NDJSONDecoder, SSEDecoder
from tui_agents.providers.ollama import _OllamaParser
from tui_agents.providers.openai import _OpenAIParser
from tui_agents.types import Message


def sse(body: bytes, *cuts: int) -> list[tuple[str, str]]:
    decoder = SSEDecoder()
    events = []
    start = 0
    for cut in [*cuts, len(body)]:
        events += decoder.feed(body[start:cut])
        start = cut
    return events + decoder.close()


def test_lf_crlf_and_cr_line_endings_decode_alike():
    for newline in (b"\n", b"\r\n", b"\r"):
        body = newline.join([b"event: a", b"data: 1", b"", b"data: 2", b"", b""])
        assert sse(body) == [("a", "1"), ("message", "2")]


def test_crlf_split_between_chunks_is_one_line_break():
    body = b"data: x\r\n\r\ndata: y\r\n\r\n"
    for cut in range(len(body) + 1):
        assert sse(body, cut) == [("message", "x"), ("message", "y")]


def test_comments_pings_and_unknown_fields_are_ignored():
    body = b": ping\n\n:comment\nfoo: bar\ndata: kept\nid: 7\nretry: 1500\n\n"
    decoder = SSEDecoder()
    assert decoder.feed(body) == [("message", "kept")]
    assert (decoder.last_event_id, decoder.retry) == ("7", 1500)


def test_multi_line_data_joins_with_newlines_and_keeps_extra_spaces():
    body = b"data: line one\ndata:line two\ndata:   three\ndata\n\n"
    assert sse(body) == [("message", "line one\nline two\n  three\n")]


def test_event_name_resets_after_each_event_and_empty_data_is_not_dispatched():
    body = b"event: first\ndata: 1\n\nevent: lonely\n\ndata: 2\n\n"
    assert sse(body) == [("first", "1"), ("message", "2")]


def test_last_event_without_a_trailing_blank_line_is_still_delivered():
    assert sse(b"data: 1\n\ndata: [DONE]") == [("message", "1"), ("message", "[DONE]")]
    assert sse(b"data: 1\n\ndata: [DONE]\n") == [("message", "1"), ("message", "[DONE]")]


def test_utf8_character_split_across_chunks():
    body = "data: 🌍é\n\n".encode()
    for cut in range(len(body) + 1):
        assert sse(body, cut) == [("message", "🌍é")]


def test_ndjson_blank_lines_crlf_and_missing_final_newline():
    decoder = NDJSONDecoder()
    values = decoder.feed(b'{"a": 1}\r\n\n{"b":') + decoder.feed(b' "\xc3') + decoder.feed(b'\xa9"}\n{"c": 3}')
    assert values + decoder.close() == [{"a": 1}, {"b": "é"}, {"c": 3}]


def test_ndjson_bad_line_raises_value_error():
    with pytest.raises(ValueError):
        NDJSONDecoder().feed(b"{nope}\n")


# ---- the same events however the bytes are cut

TEXT = "Héllo wörld — 世界 🌍🚀, ünïcode everywhere. " * 3
REPLY = Reply(text=TEXT, chunk_chars=5, usage=(11, 22),
              tool_calls=[ToolCallSpec("search", {"q": "naïve café ☕", "n": 3}, id="id_1"),
                          ToolCallSpec("noop", {}, id="id_2")])
PARSERS = {"anthropic": _AnthropicParser, "openai": _OpenAIParser, "ollama": _OllamaParser}
_PROVIDERS = {name: get_provider(name, api_key="k", base_url="http://127.0.0.1:9") for name in PARSERS}
TRANSCRIPTS = {name: b"".join(iter_frames(name, REPLY, {"stream": True, "stream_options": {"include_usage": True}}))
               for name in PARSERS}


def decode(name: str, body: bytes, cuts: list[int]) -> list:
    parser = PARSERS[name](_PROVIDERS[name])
    events, start = [], 0
    for cut in [*sorted(cuts), len(body)]:
        events += parser.feed(body[start:cut])
        start = cut
    return events + parser.finish()


def _whole_events(name: str) -> list:
    return decode(name, TRANSCRIPTS[name], [])


@pytest.mark.parametrize("name", list(PARSERS))
def test_transcript_decodes_fully(name):
    events = _whole_events(name)
    assert "".join(e.text for e in events if hasattr(e, "text")) == TEXT
    assert events[-1].reason == "tool_use"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(list(PARSERS)), data=st.data())
def test_rechunking_at_random_byte_boundaries_gives_the_same_events(name, data):
    body = TRANSCRIPTS[name]
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=40))
    assert decode(name, body, cuts) == _whole_events(name)


@settings(max_examples=60, deadline=None)
@given(payloads=st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
                                 max_size=20), min_size=1, max_size=8),
       newline=st.sampled_from(["\n", "\r\n", "\r"]), data=st.data())
def test_sse_round_trip_with_any_text_newline_style_and_cuts(payloads, newline, data):
    body = "".join(f"data: {p}{newline}{newline}" for p in payloads).encode()
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=20)))
    expected = [("message", p) for p in payloads]
    assert sse(body, *cuts) == expected


async def test_parser_over_a_mock_transport():
    """A tiny parser test through httpx.MockTransport (no server), for a hand-written OpenAI body."""
    body = (b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
            b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
            b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\ndata: [DONE]\n\n')
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    provider = get_provider("openai", base_url="http://mock/v1", transport=transport)
    completion = await provider.complete([Message(role="user", content="x")])
    assert (completion.message.content, completion.usage.output_tokens) == ("a", 2)
    await provider.aclose()


def test_unknown_provider_name_is_a_config_error():
    with pytest.raises(ConfigError, match="Unknown provider"):
        get_provider("gemini")


def test_fast_json_loads_matches_json_loads_on_edge_inputs():
    from tui_agents.providers.decoding import loads

    assert loads('{"a":[1,"é"]}') == {"a": [1, "é"]}
    assert loads(' {"a": 1}\r') == {"a": 1}
    assert loads(b'{"b": 2}') == {"b": 2}
    for bad in ("", "{", '{"a": 1} trailing', "nul"):
        with pytest.raises(ValueError):
            loads(bad)


def _anthropic_events(body: bytes) -> list:
    parser = _AnthropicParser(get_provider("anthropic", api_key="k", base_url="http://127.0.0.1:9"))
    return parser.feed(body)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=30), index=st.integers(0, 12))
def test_anthropic_text_delta_fast_path_matches_the_full_parse(text, index):
    import json

    event = {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}
    compact = json.dumps(event, separators=(",", ":"), ensure_ascii=False)  # the fast path's form
    spaced = json.dumps(event, ensure_ascii=True)  # another form: the full parse
    frames = [f"event: content_block_delta\ndata: {d}\n\n".encode() for d in (compact, spaced)]
    assert _anthropic_events(frames[0]) == _anthropic_events(frames[1])
    assert "".join(e.text for e in _anthropic_events(frames[0])) == text


def test_anthropic_fast_path_lookalikes_take_the_full_parse():
    prefix = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    # an extra key after the text, and a bad escape: neither is read as a plain text delta
    extra = prefix + b'"delta":{"type":"text_delta","text":"hi"},"more":1}\n\n'
    assert [e.text for e in _anthropic_events(extra)] == ["hi"]
    bad = prefix + b'"delta":{"type":"text_delta","text":"\\q"}}\n\n'
    with pytest.raises(ProviderError, match="malformed"):
        _anthropic_events(bad)
