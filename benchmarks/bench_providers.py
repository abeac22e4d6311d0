#!/usr/bin/env python3
"""Provider streaming throughput: one-token events from a loopback server, decoded end to end.

A dedicated loopback HTTP/1.1 server (a child process, so it has its own
core) answers each chat request with a pre-rendered body: N one-token text
deltas, each its own HTTP chunk, written in 64 KiB slices so the server is
never the bottleneck. It speaks the three wire formats:

  POST /v1/messages          Anthropic Messages SSE
  POST /v1/chat/completions  OpenAI Chat Completions SSE (with the usage chunk)
  POST /api/chat             Ollama NDJSON

Cases, per protocol:
  ours end to end     get_provider(...).stream(): HTTP (httpx's own transport, httpcore + h11)
                      + decode + typed events
  ours parser only    the adapter's parser fed the body bytes in 64 KiB slices (no HTTP)
  ours framing only   SSEDecoder / NDJSONDecoder alone (no JSON, no events)
  httpx lines         httpx aiter_lines + json.loads (the floor of a hand-rolled client)
  <vendor> SDK        the official SDK, when installed (pip install openai anthropic ollama)

Every client must return exactly N text deltas whose concatenation is the
served text. events/s = N / wall time from request to last event; median of
--runs runs after one warm-up. "client CPU µs/event" is the benchmark
process's CPU time per event (the server is a child process): on a loaded
machine it moves far less than wall time, and 1e6 / it is the rate one free core
would give. Runs are interleaved (round r runs every case
once), so a burst of load from elsewhere hits all cases alike.

Other sections (each its own table):
  --http2             the same server behind TLS offering h2 and http/1.1 by ALPN (the h2 side
                      built on the `h2` library): ours over HTTP/1.1 vs HTTP/2 (httpx http2=True)
  --peers DIR         the engine-peers script DIR/bench_stream_decode.py: its server and its
                      client rows (SDKs, httpx, httpx-sse when installed) with ours beside them
  --long-lines        one long line (1, 4, 16, 64 MiB; the cap raised for it) through SSEDecoder /
                      NDJSONDecoder in 64 KiB chunks: about 4x the time per 4x the line when
                      linear (copy this script into an older tree to time its decoders)

Usage: python benchmarks/bench_providers.py [--events 100000] [--runs 3] [--small]
                                            [--http2] [--peers DIR] [--long-lines] [--skip-main]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

TOKENS = [" the", " model", " streams", " one", " token", " at", " a", " time", ",", " and", " each",
          " delta", " is", " parsed", ".", " Hello", " wörld", " 42", " —", " naïve", " café", " 世界",
          " 🌍", " \"quoted\"", " back\\slash", "\n", " end"]


def token(i: int) -> str:
    return TOKENS[i % len(TOKENS)]


def expected_text(n: int) -> str:
    return "".join(token(i) for i in range(n))


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# ------------------------------------------------------------------ payloads


def render_anthropic(n: int) -> list[bytes]:
    def ev(name: str, data: dict) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + _dumps(data) + b"\n\n"

    frames = [
        ev("message_start", {"type": "message_start", "message": {
            "id": "msg_bench", "type": "message", "role": "assistant", "model": "bench-model", "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                      "output_tokens": 1}}}),
        ev("content_block_start", {"type": "content_block_start", "index": 0,
                                   "content_block": {"type": "text", "text": ""}}),
        ev("ping", {"type": "ping"}),
    ]
    frames += [ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": token(i)}}) for i in range(n)]
    frames += [
        ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                             "usage": {"output_tokens": n}}),
        ev("message_stop", {"type": "message_stop"}),
    ]
    return frames


def render_openai(n: int) -> list[bytes]:
    def sse(delta: dict, finish: str | None = None) -> bytes:
        return b"data: " + _dumps({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "bench-model", "system_fingerprint": "fp_bench", "service_tier": "default",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None}) + b"\n\n"

    frames = [sse({"role": "assistant", "content": "", "refusal": None})]
    frames += [sse({"content": token(i)}) for i in range(n)]
    frames.append(sse({}, "stop"))
    frames.append(b"data: " + _dumps({
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "bench-model",
        "system_fingerprint": "fp_bench", "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n}}) + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    return frames


def render_ollama(n: int) -> list[bytes]:
    ts = "2025-01-01T00:00:00.000000000Z"
    frames = [_dumps({"model": "bench-model", "created_at": ts, "message": {"role": "assistant", "content": token(i)},
                      "done": False}) + b"\n" for i in range(n)]
    frames.append(_dumps({"model": "bench-model", "created_at": ts, "message": {"role": "assistant", "content": ""},
                          "done_reason": "stop", "done": True, "total_duration": 1_000_000_000,
                          "load_duration": 1_000_000, "prompt_eval_count": 12, "prompt_eval_duration": 1_000_000,
                          "eval_count": n, "eval_duration": 900_000_000}) + b"\n")
    return frames


RENDERERS = {"anthropic": render_anthropic, "openai": render_openai, "ollama": render_ollama}
PATHS = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions", "ollama": "/api/chat"}
CTYPES = {"anthropic": b"text/event-stream; charset=utf-8", "openai": b"text/event-stream; charset=utf-8",
          "ollama": b"application/x-ndjson"}


# ------------------------------------------------------------------ server


def serve(port_file: str, n: int, tls_dir: str | None = None) -> None:
    """Serve the pre-rendered bodies until killed (runs in the child process).

    With ``tls_dir`` (holding cert.pem and key.pem) the server speaks TLS and
    offers h2 and http/1.1 by ALPN; an h2 reply sends one DATA frame per event.
    """
    bodies: dict[str, bytes] = {}
    for name, render in RENDERERS.items():
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in render(n)) + b"0\r\n\r\n"
        head = (b"HTTP/1.1 200 OK\r\ncontent-type: " + CTYPES[name]
                + b"\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")
        bodies[PATHS[name]] = head + chunked
    tags = _dumps({"models": [{"name": "bench-model", "model": "bench-model"}]})
    bodies["/api/tags"] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(tags), tags)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1].split("?")[0]
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        await reader.readexactly(int(line.split(":", 1)[1]))
                body = bodies.get(path, b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                view = memoryview(body)
                for start in range(0, len(body), 65536):
                    writer.write(view[start : start + 65536])
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    h2_bodies = {PATHS[name]: (CTYPES[name], render(n)) for name, render in RENDERERS.items()}

    async def dispatch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
            await serve_h2(reader, writer, h2_bodies)
        else:
            await handle(reader, writer)

    async def main() -> None:
        context = None
        if tls_dir:
            import ssl

            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(os.path.join(tls_dir, "cert.pem"), os.path.join(tls_dir, "key.pem"))
            context.set_alpn_protocols(["h2", "http/1.1"])
        server = await asyncio.start_server(dispatch, "127.0.0.1", 0, ssl=context)
        with open(port_file + ".tmp", "w") as f:
            f.write(str(server.sockets[0].getsockname()[1]))
        os.replace(port_file + ".tmp", port_file)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


async def serve_h2(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   bodies: dict[str, tuple[bytes, list[bytes]]]) -> None:
    """One HTTP/2 connection, state kept by the ``h2`` library; flow control respected."""
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    window = asyncio.Event()
    paths: dict[int, str] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def respond(stream_id: int, path: str) -> None:
        if path not in bodies:
            conn.send_headers(stream_id, [(b":status", b"404"), (b"content-length", b"0")], end_stream=True)
            writer.write(conn.data_to_send())
            return
        ctype, frames = bodies[path]
        conn.send_headers(stream_id, [(b":status", b"200"), (b"content-type", ctype), (b"cache-control", b"no-cache")])
        for i, frame in enumerate(frames):
            while conn.local_flow_control_window(stream_id) < len(frame):
                window.clear()
                writer.write(conn.data_to_send())
                await window.wait()
            conn.send_data(stream_id, frame)
            if i % 64 == 63:
                writer.write(conn.data_to_send())
                await writer.drain()
        conn.end_stream(stream_id)
        writer.write(conn.data_to_send())
        await writer.drain()

    try:
        while data := await reader.read(65536):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    headers = dict(event.headers)
                    paths[event.stream_id] = headers[b":path"].decode().split("?")[0]
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    task = asyncio.create_task(respond(event.stream_id, paths.pop(event.stream_id)))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif isinstance(event, h2.events.WindowUpdated):
                    window.set()
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return
            writer.write(conn.data_to_send())
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        for task in tasks:
            task.cancel()
        writer.close()


class Server:
    """The payload server in a child process (behind TLS with h2 when ``tls_dir`` is given)."""

    def __init__(self, n: int, tls_dir: str | None = None) -> None:
        self.n = n
        self.tls_dir = tls_dir

    def __enter__(self) -> "Server":
        self.tmp = tempfile.mkdtemp(prefix="bench-providers-")
        port_file = os.path.join(self.tmp, "port")
        tls = ["--tls", self.tls_dir] if self.tls_dir else []
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", port_file,
                                      "--events", str(self.n), *tls])
        deadline = time.time() + 120
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.05)
        with open(port_file) as f:
            self.base = f"{'https' if self.tls_dir else 'http'}://127.0.0.1:{int(f.read())}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------ clients
# Each factory returns (run, close): run() returns the text deltas it received.

Client = tuple[Callable[[], Awaitable[list[str]]], Callable[[], Awaitable[None]]]
MSGS = [{"role": "user", "content": "bench"}]


def ours(name: str, base: str, transport: object = None) -> Client:
    from tui_agents.providers import TextDeltaEvent, get_provider
    from tui_agents.types import Message

    url = base + "/v1" if name == "openai" else base
    extra = {"transport": transport} if transport is not None else {}
    provider = get_provider(name, api_key="sk-bench", base_url=url, model="bench-model", max_retries=0, timeout=60,
                            **extra)
    messages = [Message(role="user", content="bench")]

    async def run() -> list[str]:
        return [e.text async for e in provider.stream(messages) if type(e) is TextDeltaEvent]

    return run, provider.aclose


def ours_parser(name: str, body: bytes) -> Client:
    from tui_agents.providers import TextDeltaEvent, get_provider
    from tui_agents.providers.anthropic import _AnthropicParser
    from tui_agents.providers.ollama import _OllamaParser
    from tui_agents.providers.openai import _OpenAIParser

    parser_class = {"anthropic": _AnthropicParser, "openai": _OpenAIParser, "ollama": _OllamaParser}[name]
    provider = get_provider(name, api_key="sk-bench", base_url="http://127.0.0.1:9")
    slices = [body[i : i + 65536] for i in range(0, len(body), 65536)]

    async def run() -> list[str]:
        parser = parser_class(provider)
        out: list[str] = []
        for piece in slices:
            out += [e.text for e in parser.feed(piece) if type(e) is TextDeltaEvent]
        out += [e.text for e in parser.finish() if type(e) is TextDeltaEvent]
        return out

    return run, provider.aclose


def ours_framing(name: str, body: bytes) -> Client:
    from tui_agents.providers.decoding import NDJSONDecoder, SSEDecoder

    slices = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    delta_event = "content_block_delta" if name == "anthropic" else "message"

    async def run() -> list[str]:
        # Framing only: count records that carry a delta; the text is checked by the other cases.
        decoder = NDJSONDecoder() if name == "ollama" else SSEDecoder()
        count = 0
        for piece in slices:
            records = decoder.feed(piece)
            count += len(records) if name == "ollama" else sum(1 for ev, _ in records if ev == delta_event)
        decoder.close()
        extra = {"anthropic": 0, "openai": 4, "ollama": 1}[name]  # role, finish, usage, [DONE] / final line
        return ["x"] * (count - extra)

    return run, _noop


async def _noop() -> None:
    return None


def httpx_lines(name: str, base: str) -> Client:
    import httpx

    client = httpx.AsyncClient(timeout=60)
    body = {"model": "bench-model", "messages": MSGS, "stream": True, "max_tokens": 10}

    async def run() -> list[str]:
        out = []
        async with client.stream("POST", base + PATHS[name], json=body) as response:
            async for line in response.aiter_lines():
                if name == "ollama":
                    if line:
                        content = json.loads(line)["message"]["content"]
                        if content:
                            out.append(content)
                    continue
                if not line.startswith("data:"):
                    continue
                data = line[5:].lstrip()
                if data == "[DONE]":
                    break
                obj = json.loads(data)
                if name == "anthropic":
                    if obj.get("type") == "content_block_delta":
                        out.append(obj["delta"]["text"])
                elif obj.get("choices"):
                    content = obj["choices"][0]["delta"].get("content")
                    if content:
                        out.append(content)
        return out

    return run, client.aclose


def openai_sdk(base: str) -> Client:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base + "/v1", api_key="sk-bench", max_retries=0)

    async def run() -> list[str]:
        out = []
        stream = await client.chat.completions.create(model="bench-model", messages=MSGS, stream=True,
                                                      stream_options={"include_usage": True})
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                out.append(chunk.choices[0].delta.content)
        return out

    return run, client.close


def anthropic_sdk(base: str) -> Client:
    from anthropic import AsyncAnthropic

    client = AsyncAnthropic(base_url=base, api_key="sk-ant-bench", max_retries=0)

    async def run() -> list[str]:
        out = []
        stream = await client.messages.create(model="bench-model", max_tokens=10, messages=MSGS, stream=True)
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                out.append(event.delta.text)
        return out

    return run, client.close


def ollama_sdk(base: str) -> Client:
    from ollama import AsyncClient

    client = AsyncClient(host=base)

    async def run() -> list[str]:
        out = []
        async for part in await client.chat(model="bench-model", messages=MSGS, stream=True):
            if part.message.content:
                out.append(part.message.content)
        return out

    async def close() -> None:
        inner = getattr(client, "_client", None)
        if inner is not None:
            await inner.aclose()

    return run, close


SDKS = {"openai": ("openai", openai_sdk), "anthropic": ("anthropic", anthropic_sdk), "ollama": ("ollama", ollama_sdk)}


# ------------------------------------------------------------------ runner

Row = tuple[str, str, int, list[float], list[float]]
"""protocol, case, n, events/s of each run, client CPU µs per event of each run."""


async def timed(run: Callable[[], Awaitable[list[str]]], n: int, expected: str | None) -> tuple[float, float]:
    """events/s of one run and the client's CPU µs per event (the server is another process), checking the deltas."""
    cpu = time.process_time()
    started = time.perf_counter()
    deltas = await run()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    if len(deltas) != n or (expected is not None and "".join(deltas) != expected):
        raise AssertionError(f"got {len(deltas)} deltas, expected {n} (or the text differs)")
    return n / elapsed, cpu * 1e6 / n


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


async def interleaved(group: str, cases: list[tuple[str, Callable[[], Client], str | None]], n: int,
                      runs: int) -> list[Row]:
    """Run every case once per round (round 0 is a warm-up), so load from elsewhere hits all alike."""
    clients = [(label, make(), expected) for label, make, expected in cases]
    rates: dict[str, list[float]] = {label: [] for label, _, _ in clients}
    cpus: dict[str, list[float]] = {label: [] for label, _, _ in clients}
    try:
        for attempt in range(runs + 1):
            for label, (run, _close), expected in clients:
                rate, cpu = await timed(run, n, expected)
                if attempt:
                    rates[label].append(rate)
                    cpus[label].append(cpu)
    finally:
        for _label, (_run, close), _expected in clients:
            result = close()
            if asyncio.iscoroutine(result):
                await result
    rows = []
    for label, _, _ in clients:
        rows.append((group, label, n, rates[label], cpus[label]))
        print(f"  {group:9} {label:55} {statistics.median(rates[label]):>10,.0f} events/s", file=sys.stderr)
    return rows


async def bench(n: int, runs: int, only: list[str]) -> list[Row]:
    text = expected_text(n)
    rows: list[Row] = []
    with Server(n) as server:
        for name in only:
            body = b"".join(RENDERERS[name](n))
            cases: list[tuple[str, Callable[[], Client], str | None]] = [
                ("ours end to end (get_provider().stream)", lambda: ours(name, server.base), text),
                ("ours parser only (no HTTP)", lambda: ours_parser(name, body), text),
                ("ours framing only (SSE/NDJSON decoder)", lambda: ours_framing(name, body), None),
                ("httpx aiter_lines + json.loads", lambda: httpx_lines(name, server.base), text),
            ]
            module, factory = SDKS[name]
            if _installed(module):
                from importlib.metadata import version as dist_version

                version = dist_version(module)
                cases.append((f"{module} SDK {version} (stream=True)", lambda f=factory: f(server.base), text))
            else:
                print(f"# {module} SDK not installed: skipped (pip install {module})", file=sys.stderr)
            rows += await interleaved(name, cases, n, runs)
    return rows


# ------------------------------------------------------------------ HTTP/2


def _self_signed(folder: str) -> None:
    """A throwaway certificate for 127.0.0.1 (openssl CLI)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", os.path.join(folder, "key.pem"), "-out", os.path.join(folder, "cert.pem"),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)


async def bench_http2(n: int, runs: int, only: list[str]) -> list[Row]:
    """Ours over TLS with HTTP/1.1 and with HTTP/2, against one server offering both."""
    import ssl

    import httpx

    text = expected_text(n)
    rows: list[Row] = []
    folder = tempfile.mkdtemp(prefix="bench-providers-tls-")
    try:
        _self_signed(folder)
        context = ssl.create_default_context(cafile=os.path.join(folder, "cert.pem"))
        with Server(n, tls_dir=folder) as server:
            for version, http2 in (("HTTP/1.1", False), ("HTTP/2", True)):  # check what is negotiated
                async with httpx.AsyncClient(http1=not http2, http2=http2, verify=context) as client:
                    got = (await client.post(server.base + "/api/tags")).http_version
                    if got != version:
                        raise AssertionError(f"asked for {version}, the server spoke {got}")
            for name in only:
                cases: list[tuple[str, Callable[[], Client], str | None]] = [
                    (f"ours over TLS, {version} (httpx http2={http2})",
                     lambda http2=http2: ours(name, server.base, httpx.AsyncHTTPTransport(http2=http2, verify=context)),
                     text)
                    for version, http2 in (("HTTP/1.1", False), ("HTTP/2", True))
                ]
                rows += await interleaved(name, cases, n, runs)
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return rows


# ------------------------------------------------------------------ engine-peers


async def bench_peers(folder: str, n: int, runs: int, only: list[str]) -> list[Row]:
    """The engine-peers streaming script's server and client rows, with ours added to each group."""
    sys.path.insert(0, os.path.abspath(folder))
    import bench_stream_decode as peers  # type: ignore[import-not-found]

    want = peers.expected_text(n)
    rows: list[Row] = []
    with peers.Server(n) as server:
        base = f"http://127.0.0.1:{server.port}"
        for group in only:
            cases: list[tuple[str, Callable[[], Client], str | None]] = [
                ("ours: get_provider().stream()", lambda g=group: ours(g, base), want)]
            for row_group, label, factory, _pkgs in peers.ROWS:
                if row_group != group:
                    continue
                try:
                    factory(base)[1]  # imports the peer; closed below through a fresh one
                except ImportError as exc:
                    print(f"# peer row {label!r} skipped: {exc}", file=sys.stderr)
                    continue
                cases.append((f"peer: {label}", lambda f=factory: f(base), want))
            rows += await interleaved(group, cases, n, runs)
    return rows


# ------------------------------------------------------------------ long lines


def bench_long_lines(runs: int) -> list[tuple[str, int, list[float]]]:
    """ms to decode one long line fed in 64 KiB chunks (a warm-up run first, then ``runs``).

    Linear decoding: time grows about 4x per 4x of line. (On this VM a fresh
    large allocation itself costs more than its size, so expect a little more.)
    Runs against an older tree too, whose decoders take no ``max_line``.
    """
    from tui_agents.providers.decoding import NDJSONDecoder, SSEDecoder

    def make(cls: type) -> object:
        try:
            return cls(max_line=128 << 20)
        except TypeError:  # a tree from before the cap
            return cls()

    rows = []
    for mib in (1, 4, 16, 64):
        text = b"x" * (mib * 1048576 - 64)
        bodies = {"SSE": b"data: " + text + b"\n\n", "NDJSON": b'"' + text + b'"\n'}
        for kind, body in bodies.items():
            chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
            times = []
            for attempt in range(runs + 1):
                decoder = make(SSEDecoder if kind == "SSE" else NDJSONDecoder)
                started = time.perf_counter()
                out = [record for chunk in chunks for record in decoder.feed(chunk)] + decoder.close()
                elapsed = time.perf_counter() - started
                assert len(out) == 1
                if attempt:
                    times.append(elapsed * 1000)
            rows.append((kind, mib, times))
            print(f"  {kind:6} {mib:3} MiB line {statistics.median(times):8,.0f} ms", file=sys.stderr)
    return rows


# ------------------------------------------------------------------ main


def _table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}\n")
    print("| protocol | case | n | events/s (median) | µs/event | range (events/s) | client CPU µs/event (median) |")
    print("|---|---|---:|---:|---:|---|---:|")
    for name, label, count, rates, cpus in rows:
        median = statistics.median(rates)
        print(f"| {name} | {label} | {count:,} | {median:,.0f} | {1e6 / median:.1f} | "
              f"{min(rates):,.0f}–{max(rates):,.0f} | {statistics.median(cpus):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="quick check: 10,000 events, 1 run")
    parser.add_argument("--only", default="anthropic,openai,ollama")
    parser.add_argument("--http2", action="store_true", help="also: ours over TLS, HTTP/1.1 vs HTTP/2")
    parser.add_argument("--peers", metavar="DIR", help="also: the engine-peers streaming rows beside ours")
    parser.add_argument("--long-lines", action="store_true", help="also: long-line decoding speed")
    parser.add_argument("--skip-main", action="store_true", help="only the extra sections asked for")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--tls", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.events, args.tls)
        return
    n, runs = (10_000, 1) if args.small else (args.events, args.runs)
    only = args.only.split(",")
    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.python_implementation()} "
          f"{platform.python_version()}, {os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{n:,} one-token events, median of {runs} run(s) after a warm-up")
    if not args.skip_main:
        _table("Plain HTTP/1.1 on loopback", asyncio.run(bench(n, runs, only)))
    if args.http2:
        _table("TLS on loopback, one server offering h2 and http/1.1", asyncio.run(bench_http2(n, runs, only)))
    if args.peers:
        _table(f"engine-peers server and rows ({args.peers}/bench_stream_decode.py) with ours",
               asyncio.run(bench_peers(args.peers, n, runs, only)))
    if args.long_lines:
        print("\n| framing | line | ms (median) | range (ms) | MiB/s (median) |")
        print("|---|---:|---:|---|---:|")
        for kind, mib, times in bench_long_lines(max(runs, 3)):
            median = statistics.median(times)
            print(f"| {kind} | {mib} MiB | {median:,.0f} | {min(times):,.0f}–{max(times):,.0f} | "
                  f"{1000 * mib / median:,.0f} |")
    load = os.getloadavg()
    print(f"\n# load at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
