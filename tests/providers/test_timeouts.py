"""Provider waits against a fake server that stalls: connect, first byte and between chunks."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.fakes.llm_server import Reply
from tui_agents.errors import InvalidArgumentError, ProviderTimeoutError, StreamInterruptedError
from tui_agents.providers import ProviderTimeouts, TextDeltaEvent, get_provider
from tui_agents.types import Message

from .conftest import PROVIDERS, collect

HELLO = [Message(role="user", content="hello")]


def test_defaults_fit_cloud_apis_and_slow_local_models():
    timeouts = ProviderTimeouts()
    assert timeouts.connect == 10.0
    assert timeouts.first_byte >= 120.0  # a local model may take a minute to load before it writes a byte
    assert timeouts.read >= 60.0  # a reasoning model may pause between chunks


async def test_a_number_still_works_and_sets_every_wait():
    provider = get_provider("ollama", base_url="http://127.0.0.1:9", timeout=2.5)
    try:
        assert provider.timeouts == ProviderTimeouts(connect=2.5, first_byte=2.5, read=2.5)
    finally:
        await provider.aclose()
    assert ProviderTimeouts.of(300) == ProviderTimeouts(connect=10.0, first_byte=300.0, read=300.0)
    assert ProviderTimeouts.of(None) == ProviderTimeouts()
    assert ProviderTimeouts.of(httpx.Timeout(30.0, connect=3.0)) == ProviderTimeouts(3.0, 30.0, 30.0)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "10", True, [5]])
def test_bad_timeouts_are_refused_with_a_typed_error(bad):
    with pytest.raises(InvalidArgumentError, match="timeout"):
        ProviderTimeouts.of(bad)
    with pytest.raises(InvalidArgumentError, match="read timeout"):
        ProviderTimeouts(read=bad)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_server_that_never_sends_headers_is_given_up_after_the_first_byte_timeout(
        name, fake_llm, make_provider):
    fake_llm.script(Reply(text="never", first_delay=60))
    provider = make_provider(name, max_retries=2, timeout=ProviderTimeouts(connect=5, first_byte=0.6, read=30))
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError, match="first_byte") as info:
        await asyncio.wait_for(collect(provider.stream(HELLO)), 20)
    elapsed = time.monotonic() - started
    # Not retried: waiting again would multiply the wait by the attempts.
    assert len(fake_llm.chat_requests()) == 1
    assert 0.5 < elapsed < 3.0
    assert info.value.error_type == "first_byte_timeout" and not info.value.retryable


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_slow_first_byte_within_its_timeout_is_not_cut_by_the_read_timeout(name, fake_llm, make_provider):
    # A local model loading: nothing for a while, then a normal stream.
    fake_llm.script(Reply(text="loaded and answering", chunk_chars=5, first_delay=1.5))
    provider = make_provider(name, timeout=ProviderTimeouts(connect=5, first_byte=10, read=1.0))
    events = await asyncio.wait_for(collect(provider.stream(HELLO)), 20)
    assert "".join(e.text for e in events if isinstance(e, TextDeltaEvent)) == "loaded and answering"


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_stall_mid_stream_ends_after_the_read_timeout_with_the_partial_text(name, fake_llm, make_provider):
    fake_llm.script(Reply(text="abcdef", chunk_chars=3, stall_after_chunks=1))
    provider = make_provider(name, max_retries=2, timeout=ProviderTimeouts(connect=5, first_byte=30, read=0.5))
    started = time.monotonic()
    with pytest.raises(StreamInterruptedError) as info:
        await asyncio.wait_for(collect(provider.stream(HELLO)), 20)
    assert time.monotonic() - started < 5
    assert info.value.partial_text == "abc"
    cause = info.value.__cause__
    assert isinstance(cause, ProviderTimeoutError) and cause.error_type == "read_timeout"


async def test_time_the_consumer_spends_between_events_is_not_a_server_silence(fake_llm, make_provider):
    fake_llm.script(Reply(text="one two", chunk_chars=4))
    provider = make_provider("anthropic", timeout=ProviderTimeouts(connect=5, first_byte=5, read=0.8))
    text = []
    async for event in provider.stream(HELLO):
        if isinstance(event, TextDeltaEvent):
            text.append(event.text)
            await asyncio.sleep(1.2)  # slower than the read timeout, on our side
    assert "".join(text) == "one two"


async def test_a_timeout_does_not_swallow_a_cancel_from_outside(fake_llm, make_provider):
    fake_llm.script(Reply(text="never", first_delay=60))
    provider = make_provider("openai", timeout=ProviderTimeouts(connect=5, first_byte=30, read=30))
    task = asyncio.create_task(collect(provider.stream(HELLO)))
    await asyncio.to_thread(fake_llm.wait_for_requests, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


async def test_a_silent_model_listing_is_not_retried_either():
    # A server that accepts the connection and never answers.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    provider = get_provider("ollama", base_url=f"http://127.0.0.1:{port}", max_retries=2,
                            timeout=ProviderTimeouts(connect=2, first_byte=0.4, read=5))
    started = time.monotonic()
    try:
        with pytest.raises(ProviderTimeoutError):
            await asyncio.wait_for(provider.list_models(), 20)
        assert time.monotonic() - started < 2.0
    finally:
        await provider.aclose()
        server.close()


@pytest.fixture
def unanswered_port():
    """A loopback port whose accept queue is full, so a new connection is never completed (Linux)."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.2)
    yield port
    for sock in (*fillers, listener):
        sock.close()


async def test_a_connect_timeout_is_its_own_short_wait_and_is_retried(unanswered_port):
    provider = get_provider("ollama", base_url=f"http://127.0.0.1:{unanswered_port}", max_retries=1,
                            timeout=ProviderTimeouts(connect=0.4, first_byte=30, read=30))
    started = time.monotonic()
    try:
        with pytest.raises(ProviderTimeoutError, match="connect") as info:
            await asyncio.wait_for(collect(provider.stream(HELLO)), 20)
    finally:
        await provider.aclose()
    elapsed = time.monotonic() - started
    assert info.value.retryable
    assert 0.8 <= elapsed < 10  # two attempts of 0.4 s (and a backoff), far below first_byte


async def test_headers_without_a_body_still_count_against_the_first_byte_timeout():
    # A server that answers 200 at once and then says nothing (a model still reading the prompt).
    requests = []

    async def headers_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        await writer.drain()
        await reader.read()

    server = await asyncio.start_server(headers_only, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    provider = get_provider("openai", api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1", max_retries=2,
                            timeout=ProviderTimeouts(connect=2, first_byte=0.5, read=30))
    started = time.monotonic()
    try:
        with pytest.raises(ProviderTimeoutError, match="not begun to answer"):
            await asyncio.wait_for(collect(provider.stream(HELLO)), 20)
        assert time.monotonic() - started < 5  # the first_byte limit, not the 30 s read limit
        assert len(requests) == 1
    finally:
        await provider.aclose()
        server.close()
