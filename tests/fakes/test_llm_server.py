"""The fake server speaks each wire format, follows its script and fails on demand."""

from __future__ import annotations

import json

import httpx
import pytest

from .llm_server import Reply, ToolCallSpec


def _sse_data(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


def test_echo_reply_when_nothing_is_scripted(fake_llm):
    r = httpx.post(f"{fake_llm.base_url}/api/chat",
                   json={"model": "m", "stream": False, "messages": [{"role": "user", "content": "hi there"}]})
    assert r.json()["message"]["content"] == "echo: hi there"
    assert fake_llm.requests[-1].body["model"] == "m"


def test_script_is_consumed_in_order_across_protocols(fake_llm):
    fake_llm.script(Reply(text="first"), Reply(text="second"))
    a = httpx.post(f"{fake_llm.base_url}/v1/messages", json={"model": "c", "messages": [], "max_tokens": 5},
                   headers={"anthropic-version": "2023-06-01"})
    b = httpx.post(f"{fake_llm.base_url}/v1/chat/completions", json={"model": "g", "messages": []})
    assert a.json()["content"][0]["text"] == "first"
    assert b.json()["choices"][0]["message"]["content"] == "second"
    assert fake_llm.pending == 0


def test_openai_stream_has_tool_call_deltas_and_usage_chunk(fake_llm):
    fake_llm.script(Reply(tool_calls=[ToolCallSpec("add", {"a": 1, "b": 2}), ToolCallSpec("neg", {"x": 3})],
                          usage=(7, 9), chunk_chars=4))
    r = httpx.post(f"{fake_llm.base_url}/v1/chat/completions",
                   json={"model": "g", "stream": True, "stream_options": {"include_usage": True}, "messages": []})
    assert r.text.rstrip().endswith("data: [DONE]")
    chunks = _sse_data(r.text)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 9
    args: dict[int, str] = {}
    for c in chunks[:-1]:
        for tc in c["choices"][0]["delta"].get("tool_calls", []):
            args[tc["index"]] = args.get(tc["index"], "") + tc["function"]["arguments"]
    assert {i: json.loads(a) for i, a in args.items()} == {0: {"a": 1, "b": 2}, 1: {"x": 3}}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_anthropic_error_status_has_real_body_and_headers(fake_llm):
    fake_llm.script(Reply(status=429, headers={"retry-after": "1"}))
    r = httpx.post(f"{fake_llm.base_url}/v1/messages", json={"stream": True, "messages": []})
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["type"] == "rate_limit_error"


def test_cut_after_chunks_drops_the_connection(fake_llm):
    fake_llm.script(Reply(text="abcdefghij", chunk_chars=2, cut_after_chunks=2))
    got = b""
    with pytest.raises(httpx.HTTPError):
        with httpx.stream("POST", f"{fake_llm.base_url}/api/chat", json={"messages": []}) as r:
            for chunk in r.iter_raw():
                got += chunk
    assert b'"content":"ab"' in got and b'"content":"cd"' in got and b'"ef"' not in got


def test_a_burst_sends_the_same_chunks_in_fewer_writes_and_still_cuts_where_told(fake_llm):
    import socket

    fake_llm.script(Reply(text="abcdefghij" * 20, chunk_chars=2, burst=200),
                    Reply(text="abcdefghij", chunk_chars=2, burst=50, cut_after_chunks=3))
    host, port = fake_llm.base_url.removeprefix("http://").split(":")
    body = b'{"messages": []}'
    with socket.create_connection((host, int(port))) as sock:  # raw: what arrives in each read
        sock.sendall(b"POST /api/chat HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        got, reads = b"", 0
        while not got.endswith(b"0\r\n\r\n"):
            got += sock.recv(1 << 20)
            reads += 1
    assert got.count(b'"content":"ab"') == 20 and reads <= 5  # 100 chunks, not 100 reads
    got = b""
    with pytest.raises(httpx.HTTPError):
        with httpx.stream("POST", f"{fake_llm.base_url}/api/chat", json={"messages": []}) as r:
            for chunk in r.iter_raw():
                got += chunk
    assert b'"content":"ef"' in got and b'"gh"' not in got


def test_stall_keeps_the_connection_open_until_the_client_times_out(fake_llm):
    fake_llm.script(Reply(text="abcdef", chunk_chars=3, stall_after_chunks=1))
    with pytest.raises(httpx.ReadTimeout):
        with httpx.stream("POST", f"{fake_llm.base_url}/api/chat", json={"messages": []},
                          timeout=httpx.Timeout(5, read=0.3)) as r:
            for _ in r.iter_raw():
                pass


async def test_works_from_async_tests_and_records_headers(fake_llm):
    fake_llm.script(Reply(text="héllo wörld", chunk_chars=3, error_event="Overloaded"))
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{fake_llm.base_url}/v1/messages", json={"stream": True, "messages": []},
                              headers={"x-api-key": "k1", "anthropic-version": "2023-06-01"})
    assert "event: error" in r.text and "message_stop" not in r.text
    assert fake_llm.requests[-1].headers["x-api-key"] == "k1"


def test_listings(fake_llm):
    fake_llm.models = ["a", "b"]
    assert [m["name"] for m in httpx.get(f"{fake_llm.base_url}/api/tags").json()["models"]] == ["a", "b"]
    assert [m["id"] for m in httpx.get(f"{fake_llm.base_url}/v1/models").json()["data"]] == ["a", "b"]
    anth = httpx.get(f"{fake_llm.base_url}/v1/models", headers={"anthropic-version": "2023-06-01"}).json()
    assert anth["data"][0]["type"] == "model" and anth["has_more"] is False
    assert httpx.get(f"{fake_llm.base_url}/api/version").json()["version"]
