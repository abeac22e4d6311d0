"""Long stream lines: decoded whole however they are cut, and refused with a typed error past the cap."""

from __future__ import annotations

import json

import pytest

from tests.fakes import Reply
from tui_agents.errors import ProviderError, StreamLineTooLongError
from tui_agents.providers import TextDeltaEvent
from tui_agents.providers.decoding import MAX_LINE, NDJSONDecoder, SSEDecoder
from tui_agents.types import Message

from .conftest import collect

FOUR_MB = "ab€" * (4 * 1024 * 1024 // 5)  # ~4 MiB of UTF-8, with multi-byte characters to cut through


def pieces(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def test_a_4mb_sse_line_in_small_chunks_decodes_whole():
    body = b"event: big\ndata: " + json.dumps({"text": FOUR_MB}, ensure_ascii=False).encode() + b"\n\n"
    decoder = SSEDecoder()
    events = [event for chunk in pieces(body, 4093) for event in decoder.feed(chunk)] + decoder.close()
    assert len(events) == 1
    name, data = events[0]
    assert name == "big" and json.loads(data)["text"] == FOUR_MB


def test_a_4mb_ndjson_line_in_small_chunks_decodes_whole():
    body = json.dumps({"message": {"content": FOUR_MB}}, ensure_ascii=False).encode() + b"\n{\"done\": true}\n"
    decoder = NDJSONDecoder()
    values = [value for chunk in pieces(body, 4093) for value in decoder.feed(chunk)] + decoder.close()
    assert values == [{"message": {"content": FOUR_MB}}, {"done": True}]


@pytest.mark.parametrize("size", [65536, MAX_LINE + 2])  # many reads, or the whole line in one chunk
def test_a_line_past_the_16mb_cap_is_a_typed_error(size):
    line = b"x" * (MAX_LINE + 1)
    for decoder, body in ((SSEDecoder(), b"data: " + line + b"\n\n"), (NDJSONDecoder(), line + b"\n")):
        with pytest.raises(StreamLineTooLongError, match="16 MiB"):
            for chunk in pieces(body, size):
                decoder.feed(chunk)
            decoder.close()


def test_an_sse_event_whose_data_lines_add_up_past_the_cap_is_refused():
    decoder = SSEDecoder(max_line=1000)
    assert decoder.feed(b"data: " + b"y" * 900 + b"\n") == []
    with pytest.raises(StreamLineTooLongError):
        decoder.feed(b"data: " + b"y" * 900 + b"\n")


def test_lines_under_a_small_cap_pass_and_the_error_is_a_provider_error():
    decoder = NDJSONDecoder(max_line=100)
    assert decoder.feed(b'{"a": "' + b"z" * 80 + b'"}\n') == [{"a": "z" * 80}]
    with pytest.raises(ProviderError):  # the adapters' error handling applies to it
        decoder.feed(b"1" * 101)


@pytest.mark.parametrize("name", ["ollama", "openai"])
async def test_a_provider_stops_a_reply_with_a_line_past_the_cap(name, fake_llm, make_provider):
    if name == "ollama":
        body = b'{"message":{"role":"assistant","content":"' + b"a" * (MAX_LINE + 10) + b'"},"done":false}\n'
    else:
        body = b'data: {"choices":[{"index":0,"delta":{"content":"' + b"a" * (MAX_LINE + 10) + b'"}}]}\n\n'
    fake_llm.script(Reply(raw=body, chunk_chars=65536))
    with pytest.raises(StreamLineTooLongError):
        await collect(make_provider(name).stream([Message(role="user", content="hi")]))


async def test_a_provider_streams_a_4mb_delta(fake_llm, make_provider):
    line = json.dumps({"message": {"role": "assistant", "content": FOUR_MB}, "done": False}, ensure_ascii=False)
    end = json.dumps({"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"})
    fake_llm.script(Reply(raw=(line + "\n" + end + "\n").encode(), chunk_chars=8192))
    events = await collect(make_provider("ollama").stream([Message(role="user", content="hi")]))
    assert "".join(e.text for e in events if isinstance(e, TextDeltaEvent)) == FOUR_MB
