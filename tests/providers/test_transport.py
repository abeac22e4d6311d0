"""The streaming HTTP/1.1 transport against real loopback servers: framing, keep-alive, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_agents.providers import get_provider
from tui_agents.providers._transport import ChunkedDecoder, StreamingTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A loopback server whose every connection runs ``handler``; counts connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0

    async def __aenter__(self) -> "Server":
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self._server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and body (content-length bodies only); b"" when the client closed."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=StreamingTransport(), timeout=10) as c:
        yield c


def reply(status_and_headers: bytes, body: bytes, keep: bool = True) -> Handler:
    """A handler answering every request on the connection with the same bytes."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader):
            writer.write(status_and_headers + b"\r\n\r\n" + body)
            await writer.drain()
            if not keep:
                return

    return handler


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(st.binary(min_size=0, max_size=40), max_size=8), cuts=st.lists(st.integers(0, 400)))
def test_chunked_body_cut_anywhere_decodes_to_the_payload(pieces, cuts):
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\nx-trailer: 1\r\n\r\n"
    points = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    decoder = ChunkedDecoder()
    out = b"".join(decoder.feed(body[a:b]) for a, b in zip(points, points[1:]))
    assert out == b"".join(pieces)
    assert decoder.done and not decoder.leftover


@pytest.mark.parametrize("bad", [b"zz\r\nab\r\n0\r\n\r\n", b"2\r\nabc\r\n0\r\n\r\n", b"-1\r\n"])
def test_malformed_chunked_body_is_refused(bad):
    with pytest.raises(ValueError):
        ChunkedDecoder().feed(bad)


async def test_chunked_reply_streams_whole_and_the_connection_is_reused(client):
    body = chunked(b"data: one\n\n", b"data: tw", b"o\n\n")
    async with Server(reply(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked", body)) as server:
        for _ in range(3):
            async with client.stream("POST", server.url + "/x", content=b"{}") as response:
                assert response.status_code == 200
                assert b"".join([part async for part in response.aiter_bytes()]) == b"data: one\n\ndata: two\n\n"
        assert server.connections == 1


async def test_content_length_and_close_delimited_bodies(client):
    async with Server(reply(b"HTTP/1.1 200 OK\r\ncontent-length: 5", b"hello")) as server:
        assert (await client.get(server.url)).text == "hello"
        assert (await client.get(server.url)).text == "hello"
        assert server.connections == 1
    async with Server(reply(b"HTTP/1.1 200 OK\r\nconnection: close", b"until the end", keep=False)) as server:
        assert (await client.get(server.url)).text == "until the end"
        assert (await client.get(server.url)).text == "until the end"
        assert server.connections == 2


async def test_no_content_and_interim_responses(client):
    async with Server(reply(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content", b"")) as server:
        response = await client.delete(server.url)
        assert response.status_code == 204 and response.content == b""


async def test_a_keep_alive_connection_closed_by_the_server_is_replaced(client):
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()  # then close, though the reply promised keep-alive

    async with Server(once) as server:
        assert (await client.get(server.url)).text == "ok"
        await asyncio.sleep(0.05)
        assert (await client.get(server.url)).text == "ok"
        assert server.connections == 2


async def test_body_cut_short_is_a_protocol_error(client):
    async with Server(reply(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked", b"5\r\nab", keep=False)) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url)
    async with Server(reply(b"HTTP/1.1 200 OK\r\ncontent-length: 10", b"abc", keep=False)) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url)


async def test_silent_server_times_out_and_refused_port_fails_to_connect():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # never answer

    async with httpx.AsyncClient(transport=StreamingTransport(), timeout=0.5) as c:
        async with Server(silent) as server:
            with pytest.raises(httpx.ReadTimeout):
                await c.get(server.url)
            url = server.url
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.ConnectError):
            await c.get(url)


async def test_garbage_instead_of_http_is_a_protocol_error(client):
    async with Server(reply(b"SSH-2.0-OpenSSH", b"", keep=False)) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url)


async def test_providers_use_it_unless_a_proxy_is_configured(monkeypatch):
    plain = get_provider("ollama", base_url="http://127.0.0.1:9")
    try:
        assert isinstance(plain._client._transport, StreamingTransport)
    finally:
        await plain.aclose()
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    proxied = get_provider("ollama", base_url="http://127.0.0.1:9")
    try:
        assert not isinstance(proxied._client._transport, StreamingTransport)
    finally:
        await proxied.aclose()


async def test_https_apis_keep_the_httpx_tls_stack():
    cloud = get_provider("anthropic", api_key="test", base_url="https://api.anthropic.com")
    try:
        assert not isinstance(cloud._client._transport, StreamingTransport)
    finally:
        await cloud.aclose()
