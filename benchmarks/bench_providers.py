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
  ours end to end     get_provider(...).stream(): HTTP + decode + typed events (our StreamingTransport)
  ours via httpx's default transport   the same, with httpx.AsyncHTTPTransport() (httpcore + h11)
  ours parser only    the adapter's parser fed the body bytes in 64 KiB slices (no HTTP)
  ours framing only   SSEDecoder / NDJSONDecoder alone (no JSON, no events)
  httpx lines         httpx aiter_lines + json.loads (the floor of a hand-rolled client)
  <vendor> SDK        the official SDK, when installed (pip install openai anthropic ollama)

Every client must return exactly N text deltas whose concatenation is the
served text. events/s = N / wall time from request to last event; median of
--runs runs after one warm-up. Runs are interleaved (round r runs every case
once), so a burst of load from elsewhere hits all cases alike.

Usage: python benchmarks/bench_providers.py [--events 100000] [--runs 3] [--small]
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


def serve(port_file: str, n: int) -> None:
    """Serve the pre-rendered bodies until killed (runs in the child process)."""
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

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        with open(port_file + ".tmp", "w") as f:
            f.write(str(server.sockets[0].getsockname()[1]))
        os.replace(port_file + ".tmp", port_file)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Server:
    """The payload server in a child process."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> "Server":
        self.tmp = tempfile.mkdtemp(prefix="bench-providers-")
        port_file = os.path.join(self.tmp, "port")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", port_file,
                                      "--events", str(self.n)])
        deadline = time.time() + 120
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.05)
        with open(port_file) as f:
            self.base = f"http://127.0.0.1:{int(f.read())}"
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


def ours(name: str, base: str, default_transport: bool = False) -> Client:
    import httpx

    from tui_agents.providers import TextDeltaEvent, get_provider
    from tui_agents.types import Message

    url = base + "/v1" if name == "openai" else base
    extra = {"transport": httpx.AsyncHTTPTransport()} if default_transport else {}
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


async def timed(run: Callable[[], Awaitable[list[str]]], n: int, expected: str | None) -> float:
    """events/s of one run, checking the deltas."""
    started = time.perf_counter()
    deltas = await run()
    elapsed = time.perf_counter() - started
    if len(deltas) != n or (expected is not None and "".join(deltas) != expected):
        raise AssertionError(f"got {len(deltas)} deltas, expected {n} (or the text differs)")
    return n / elapsed


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


async def bench(n: int, runs: int, only: list[str]) -> list[tuple[str, str, int, list[float]]]:
    text = expected_text(n)
    rows = []
    with Server(n) as server:
        for name in only:
            body = b"".join(RENDERERS[name](n))
            cases: list[tuple[str, Callable[[], Client], str | None]] = [
                ("ours end to end (get_provider().stream)", lambda: ours(name, server.base), text),
                ("ours end to end via httpx's default transport",
                 lambda: ours(name, server.base, default_transport=True), text),
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
            clients = [(label, make(), expected) for label, make, expected in cases]
            rates: dict[str, list[float]] = {label: [] for label, _, _ in clients}
            try:
                for attempt in range(runs + 1):  # round 0 is the warm-up
                    for label, (run, _close), expected in clients:
                        rate = await timed(run, n, expected)
                        if attempt:
                            rates[label].append(rate)
            finally:
                for _label, (_run, close), _expected in clients:
                    await close()
            for label, _, _ in clients:
                rows.append((name, label, n, rates[label]))
                print(f"  {name:9} {label:47} {statistics.median(rates[label]):>10,.0f} events/s", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="quick check: 10,000 events, 1 run")
    parser.add_argument("--only", default="anthropic,openai,ollama")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.events)
        return
    n, runs = (10_000, 1) if args.small else (args.events, args.runs)
    print(f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
          f"{n:,} one-token events, median of {runs} run(s) after a warm-up", file=sys.stderr)
    rows = asyncio.run(bench(n, runs, args.only.split(",")))
    print(f"| protocol | case | n | events/s (median) | µs/event | range (events/s) |")
    print("|---|---|---:|---:|---:|---|")
    for name, label, count, rates in rows:
        median = statistics.median(rates)
        print(f"| {name} | {label} | {count:,} | {median:,.0f} | {1e6 / median:.1f} | "
              f"{min(rates):,.0f}–{max(rates):,.0f} |")


if __name__ == "__main__":
    main()
