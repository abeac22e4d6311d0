"""An HTTP/1.1 transport for httpx that hands a streamed body over a whole socket read at a time.

Why it exists: a streamed reply arrives as one HTTP chunk per event, and an
event is often one token. httpx's default stack (httpcore + h11) turns every
HTTP chunk into its own event and passes it up through half a dozen generator
layers, about 10 µs per chunk on our 2-core machines: at high token rates
that was most of a stream's CPU time. Here one socket read (up to 64 KiB) is
decoded in one pass and every complete chunk's payload is returned joined.
The stream parsers accept a body cut anywhere, so the joining is invisible to
them, and nothing waits for more data than the socket has, so no latency is
added.

Scope: plain HTTP/1.1 over TCP or TLS (httpx's certificate roots), keep-alive
connections per origin, httpx's timeouts and exception types. Proxies are
not handled: ``HTTPProvider`` uses httpx's own transport when the environment
configures one.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator

import httpx

__all__ = ["StreamingTransport", "ChunkedDecoder"]

READ_SIZE = 65536
MAX_HEAD = 256 * 1024
"""Longest status line plus headers accepted, in bytes."""
MAX_CHUNK_LINE = 4096
"""Longest chunk-size line (size plus extensions) accepted, in bytes."""
_HEX = b"0123456789abcdefABCDEF"
_HEAD_END = re.compile(rb"\r?\n\r?\n")


class ChunkedDecoder:
    """Decodes a ``transfer-encoding: chunked`` body fed in pieces cut anywhere.

    ``feed`` returns the payload bytes completed so far (possibly several
    chunks joined) and raises ``ValueError`` on a malformed body; ``done`` is
    set once the last chunk and the trailers have been read.
    """

    __slots__ = ("_buffer", "_remaining", "_crlf", "_trailers", "done")

    def __init__(self) -> None:
        self._buffer = b""
        self._remaining = 0  # payload bytes of the current chunk still to come
        self._crlf = False  # the CRLF closing a chunk's payload is still to come
        self._trailers = False  # the last chunk was read: lines until a blank one are trailers
        self.done = False

    @property
    def leftover(self) -> bool:
        """Whether bytes arrived after the end of the body (the connection cannot be reused)."""
        return bool(self._buffer)

    def feed(self, data: bytes) -> bytes:
        """The payload that ``data`` completes."""
        buf = self._buffer + data if self._buffer else data
        end = len(buf)
        pos = 0
        out: list[bytes] = []
        remaining = self._remaining
        while pos < end and not self.done:
            if remaining:
                stop = pos + remaining
                if stop > end:
                    out.append(buf[pos:])
                    remaining = stop - end
                    pos = end
                    break
                out.append(buf[pos:stop])
                pos = stop
                remaining = 0
                self._crlf = True
            if self._crlf:
                if end - pos < 2:
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise ValueError("a chunk's data is longer than its size")
                pos += 2
                self._crlf = False
            newline = buf.find(b"\r\n", pos)
            if newline < 0:
                if end - pos > MAX_CHUNK_LINE:
                    raise ValueError("a chunk-size line is too long")
                break
            if self._trailers:
                self.done = newline == pos  # a blank line ends the trailers
                pos = newline + 2
                continue
            size = buf[pos:newline]
            if not size or size.strip(_HEX):  # not a bare size: extensions, spaces, or junk
                size = size.split(b";", 1)[0].strip(b" \t")
                if not size or size.strip(_HEX):
                    raise ValueError("a chunk size is not a hexadecimal number")
            if len(size) > 16:
                raise ValueError("a chunk size is too large")
            remaining = int(size, 16)
            pos = newline + 2
            self._trailers = remaining == 0
        self._remaining = remaining
        self._buffer = buf[pos:] if pos < end else b""
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)


class _Connection:
    """One keep-alive connection to an origin."""

    __slots__ = ("reader", "writer", "origin", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, origin: tuple[str, str, int]):
        self.reader = reader
        self.writer = writer
        self.origin = origin
        self.idle_since = 0.0

    def usable(self, now: float, expiry: float) -> bool:
        return now - self.idle_since < expiry and not self.reader.at_eof() and not self.writer.is_closing()

    def abort(self) -> None:
        self.writer.transport.abort()


class _StaleConnection(Exception):
    """A reused keep-alive connection turned out to be closed by the server before it answered."""


async def _read(conn: _Connection, timeout: float | None, request: httpx.Request) -> bytes:
    try:
        async with asyncio.timeout(timeout):
            return await conn.reader.read(READ_SIZE)
    except TimeoutError:
        raise httpx.ReadTimeout("Timed out reading the response.", request=request) from None
    except (OSError, ssl.SSLError) as exc:
        raise httpx.ReadError(f"Reading the response failed: {exc}", request=request) from exc


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for key, value in headers if key.lower() == name]


class _Body(httpx.AsyncByteStream):
    """A response body read from a connection; the connection goes back to the pool when it was read whole."""

    def __init__(self, transport: "StreamingTransport", conn: _Connection, request: httpx.Request,
                 framing: str, length: int, first: bytes, keep_alive: bool) -> None:
        self._transport = transport
        self._conn: _Connection | None = conn
        self._request = request
        self._framing = framing  # "chunked", "length", "close" or "none"
        self._length = length
        self._first = first
        self._keep_alive = keep_alive
        self._complete = framing == "none" and not first
        self._timeout = request.extensions.get("timeout", {}).get("read")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None or self._framing == "none":
            return
        data, self._first = self._first, b""
        if self._framing == "chunked":
            decoder = ChunkedDecoder()
            while True:
                if data:
                    try:
                        payload = decoder.feed(data)
                    except ValueError as exc:
                        raise httpx.RemoteProtocolError(f"Malformed chunked body: {exc}.",
                                                        request=self._request) from exc
                    if payload:
                        yield payload
                    if decoder.done:
                        self._complete = not decoder.leftover
                        return
                data = await _read(conn, self._timeout, self._request)
                if not data:
                    raise httpx.RemoteProtocolError("The server closed the connection in the middle of the body "
                                                    "(incomplete chunked read).", request=self._request)
        elif self._framing == "length":
            remaining = self._length
            while remaining:
                if data:
                    piece = data[:remaining]
                    remaining -= len(piece)
                    if len(piece) < len(data):
                        self._keep_alive = False  # more bytes than announced: do not trust this connection
                    yield piece
                    if not remaining:
                        break
                data = await _read(conn, self._timeout, self._request)
                if not data:
                    raise httpx.RemoteProtocolError("The server closed the connection before sending the whole "
                                                    "body (content-length).", request=self._request)
            self._complete = True
        else:  # delimited by the server closing the connection
            while True:
                if data:
                    yield data
                data = await _read(conn, self._timeout, self._request)
                if not data:
                    return

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._transport._release(conn, self._complete and self._keep_alive)


def _ssl_context() -> ssl.SSLContext:
    context = httpx.create_ssl_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


class StreamingTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 for ``httpx.AsyncClient`` with bulk decoding of streamed bodies (see the module docstring)."""

    def __init__(self, *, max_idle_per_origin: int = 10, keepalive_expiry: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._max_idle = max_idle_per_origin
        self._expiry = keepalive_expiry
        self._ssl = ssl_context
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response with its body still to be read."""
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"The URL scheme {url.scheme!r} is not supported.", request=request)
        if self._closed:
            raise RuntimeError("The transport is closed.")
        timeouts = request.extensions.get("timeout", {})
        message = await self._serialize(request)
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        while True:
            conn, reused = await self._acquire(origin, timeouts.get("connect"), request)
            try:
                await self._write(conn, message, timeouts.get("write"), request, reused)
                version, status, reason, headers, rest = await self._read_head(
                    conn, timeouts.get("read"), request, reused)
                framing, length = self._framing(request, status, headers)
            except _StaleConnection:
                conn.abort()
                continue  # the server closed an idle connection as we reused it: once more, on a new one
            except BaseException:
                conn.abort()  # cancelled or failed half way: never reuse it
                raise
            break
        keep_alive = version == b"HTTP/1.1" and not any(
            b"close" in value.lower()
            for value in _header(headers, b"connection") + _header(request.headers.raw, b"connection"))
        body = _Body(self, conn, request, framing, length, rest, keep_alive)
        return httpx.Response(status, headers=headers, stream=body,
                              extensions={"http_version": version, "reason_phrase": reason})

    async def aclose(self) -> None:
        """Close the idle connections; connections in use close when their response does."""
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.abort()
        self._idle.clear()

    # ---- connections

    async def _acquire(self, origin: tuple[str, str, int], timeout: float | None,
                       request: httpx.Request) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now, self._expiry):
                return conn, True
            conn.abort()
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = await asyncio.to_thread(_ssl_context)  # reads the CA bundle from disk
            context = self._ssl
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if context else None)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"Timed out connecting to {host}:{port}.", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"Could not connect to {host}:{port}: {exc}", request=request) from exc
        return _Connection(reader, writer, origin), False

    def _release(self, conn: _Connection, reusable: bool) -> None:
        if not reusable or self._closed or conn.writer.is_closing():
            conn.abort()
            return
        conn.idle_since = time.monotonic()
        idle = self._idle.setdefault(conn.origin, [])
        idle.append(conn)
        while len(idle) > self._max_idle:
            idle.pop(0).abort()

    # ---- request and response head

    @staticmethod
    async def _serialize(request: httpx.Request) -> bytes:
        body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        chunked = any(v.lower() == b"chunked" for k, v in request.headers.raw if k.lower() == b"transfer-encoding")
        if chunked and body:
            body = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)
        elif chunked:
            body = b"0\r\n\r\n"
        lines = [b"%b %b HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
        lines += [b"%b: %b\r\n" % (key, value) for key, value in request.headers.raw]
        lines.append(b"\r\n")
        return b"".join(lines) + body

    @staticmethod
    async def _write(conn: _Connection, message: bytes, timeout: float | None, request: httpx.Request,
                     reused: bool) -> None:
        try:
            conn.writer.write(message)
            async with asyncio.timeout(timeout):
                await conn.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("Timed out sending the request.", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            if reused:
                raise _StaleConnection from exc
            raise httpx.WriteError(f"Sending the request failed: {exc}", request=request) from exc

    @staticmethod
    async def _read_head(conn: _Connection, timeout: float | None, request: httpx.Request, reused: bool
                         ) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]], bytes]:
        """Status line and headers of the final response (1xx interim responses are skipped)."""
        buf = b""
        received = False
        while True:
            match = _HEAD_END.search(buf)
            if match is None:
                if len(buf) > MAX_HEAD:
                    raise httpx.RemoteProtocolError("The response headers are too long.", request=request)
                try:
                    data = await _read(conn, timeout, request)
                except httpx.ReadError:
                    if reused and not received:
                        raise _StaleConnection from None
                    raise
                if not data:
                    if reused and not received:
                        raise _StaleConnection
                    raise httpx.RemoteProtocolError("The server disconnected without sending a response.",
                                                    request=request)
                received = True
                buf += data
                continue
            head, buf = buf[: match.start()], buf[match.end() :]
            lines = head.split(b"\n")
            version, _, rest = lines[0].rstrip(b"\r").partition(b" ")
            code, _, reason = rest.partition(b" ")
            if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
                raise httpx.RemoteProtocolError("The server sent a malformed status line.", request=request)
            headers: list[tuple[bytes, bytes]] = []
            for line in lines[1:]:
                name, colon, value = line.rstrip(b"\r").partition(b":")
                if not colon or not name or name != name.strip():
                    raise httpx.RemoteProtocolError("The server sent a malformed header line.", request=request)
                headers.append((name, value.strip(b" \t")))
            status = int(code)
            if 100 <= status < 200:
                if status == 101:
                    raise httpx.RemoteProtocolError("The server switched protocols, which is not supported.",
                                                    request=request)
                continue  # 100 Continue, 103 Early Hints: the real response follows
            return version, status, reason, headers, buf

    @staticmethod
    def _framing(request: httpx.Request, status: int, headers: list[tuple[bytes, bytes]]) -> tuple[str, int]:
        """How the body ends (RFC 9112 section 6.3): no body, chunked, a content-length, or the connection closing."""
        if request.method == "HEAD" or status in (204, 304):
            return "none", 0
        encodings = _header(headers, b"transfer-encoding")
        if encodings:
            last = b",".join(encodings).split(b",")[-1].strip().lower()
            return ("chunked", 0) if last == b"chunked" else ("close", 0)
        lengths = {v.strip() for value in _header(headers, b"content-length") for v in value.split(b",")}
        if lengths:
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise httpx.RemoteProtocolError("The server sent an invalid content-length.", request=request)
            length = int(next(iter(lengths)))
            return ("length", length) if length else ("none", 0)
        return "close", 0
