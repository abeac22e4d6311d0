#!/usr/bin/env python3
"""Thinking and images: what they cost to stream and to send, engine level, over loopback HTTP.

A loopback HTTP/1.1 server in a child process (its own core) serves pre-rendered
streams in the three wire formats: N one-token reply deltas, or N one-token
thinking deltas followed by the same N reply deltas (Anthropic ``thinking_delta``,
OpenAI ``reasoning_content``, Ollama ``message.thinking``). It picks the body by
the request's model name (``bench-think`` or ``bench-reply``).

Cases, per protocol:
  provider   get_provider(...).stream(): HTTP + decode + typed events, every event consumed
  runner     AgentRunner.run_stream on a SQLite file: the same plus persistence (streaming row, timed
             flushes of text and thinking, final write) and turn events

Thinking target: "thinking N + reply N" takes at most 2x "reply N" (same cost per token).

Images (OpenAI and Ollama wire; Anthropic caps images at 3.75 MB): one runner turn with a
5 MB PNG attached vs the same turn without, on a fresh thread each run. The difference is
what attaching costs: read, sha256, store once, load back, base64, JSON, send 6.7 MB over
loopback. Target: under 100 ms.

Pull progress bar: ``aiagents-tui models pull`` drawing on a terminal (a StringIO that says it is
one) while the fake Ollama server (tests/fakes) streams 2,000 progress lines 1 ms apart; every redraw
of rich's Live display is counted. Target: at most 10 redraws a second.

Usage: python benchmarks/bench_thinking.py [--tokens 2000] [--runs 7] [--image-mb 5]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = [" the", " model", " thinks", " one", " token", " at", " a", " time", ",", " then", " answers", "."]


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def tok(i: int) -> str:
    return WORDS[i % len(WORDS)]


def render_anthropic(n: int, think: bool) -> list[bytes]:
    def ev(name: str, data: dict) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + _dumps(data) + b"\n\n"

    frames = [ev("message_start", {"type": "message_start", "message": {
        "id": "msg_b", "type": "message", "role": "assistant", "model": "m", "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}})]
    index = 0
    if think:
        frames.append(ev("content_block_start", {"type": "content_block_start", "index": 0,
                                                 "content_block": {"type": "thinking", "thinking": "", "signature": ""}}))
        frames += [ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "thinking_delta", "thinking": tok(i)}}) for i in range(n)]
        frames.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                 "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM" * 8}}))
        frames.append(ev("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    frames.append(ev("content_block_start", {"type": "content_block_start", "index": index,
                                             "content_block": {"type": "text", "text": ""}}))
    frames += [ev("content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "text_delta", "text": tok(i)}}) for i in range(n)]
    frames += [ev("content_block_stop", {"type": "content_block_stop", "index": index}),
               ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                    "usage": {"output_tokens": 2 * n if think else n}}),
               ev("message_stop", {"type": "message_stop"})]
    return frames


def render_openai(n: int, think: bool) -> list[bytes]:
    def sse(delta: dict, finish: str | None = None) -> bytes:
        return b"data: " + _dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + b"\n\n"

    frames = [sse({"role": "assistant", "content": ""})]
    if think:
        frames += [sse({"reasoning_content": tok(i)}) for i in range(n)]
    frames += [sse({"content": tok(i)}) for i in range(n)]
    frames += [sse({}, "stop"), b"data: [DONE]\n\n"]
    return frames


def render_ollama(n: int, think: bool) -> list[bytes]:
    def line(message: dict) -> bytes:
        return _dumps({"model": "m", "created_at": "2025-01-01T00:00:00Z", "message": message, "done": False}) + b"\n"

    frames = [line({"role": "assistant", "content": "", "thinking": tok(i)}) for i in range(n)] if think else []
    frames += [line({"role": "assistant", "content": tok(i)}) for i in range(n)]
    frames.append(_dumps({"model": "m", "created_at": "2025-01-01T00:00:00Z", "message": {"role": "assistant",
                          "content": ""}, "done": True, "done_reason": "stop", "prompt_eval_count": 12,
                          "eval_count": n}) + b"\n")
    return frames


RENDERERS = {"anthropic": render_anthropic, "openai": render_openai, "ollama": render_ollama}
PATHS = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions", "ollama": "/api/chat"}


def _response(body: bytes, ctype: bytes, chunks: list[bytes] | None = None) -> bytes:
    if chunks is None:
        return b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (ctype, len(body), body)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in chunks) + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\ncontent-type: " + ctype + b"\r\ntransfer-encoding: chunked\r\n\r\n" + chunked


def serve(port_file: str, n: int) -> None:
    """Serve the pre-rendered bodies until killed (the child process)."""
    bodies: dict[tuple[str, bool], bytes] = {}
    for name, render in RENDERERS.items():
        ctype = b"application/x-ndjson" if name == "ollama" else b"text/event-stream"
        for think in (False, True):
            bodies[(PATHS[name], think)] = _response(b"", ctype, render(n, think))
    show = _dumps({"model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                   "capabilities": ["completion", "vision", "thinking", "tools"], "details": {}})
    bodies[("/api/show", False)] = _response(show, b"application/json")
    bodies[("/props", False)] = _response(_dumps({"default_generation_settings": {"n_ctx": 131072}}),
                                          b"application/json")
    bodies[("/v1/models", False)] = _response(_dumps({"data": []}), b"application/json")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1].split("?")[0]
                body = b""
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        body = await reader.readexactly(int(line.split(":", 1)[1]))
                think = b'"bench-think"' in body[:200] or b'"model":"bench-think"' in body
                reply = bodies.get((path, think)) or bodies.get((path, False)) or \
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
                view = memoryview(reply)
                for start in range(0, len(reply), 65536):
                    writer.write(view[start:start + 65536])
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
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
        self.tmp = tempfile.mkdtemp(prefix="bench-thinking-")
        port_file = os.path.join(self.tmp, "port")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", port_file,
                                      "--tokens", str(self.n)])
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
        self.proc.wait(5)
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


def provider(name: str, base: str, model: str):
    from tui_agents.providers import get_provider

    url = base + "/v1" if name == "openai" else base
    return get_provider(name, api_key="sk-bench", base_url=url, model=model, max_retries=0, timeout=60)


async def time_provider(name: str, base: str, think: bool, n: int) -> tuple[float, float]:
    from tui_agents.providers import TextDeltaEvent, ThinkingDeltaEvent
    from tui_agents.types import Message

    p = provider(name, base, "bench-think" if think else "bench-reply")
    try:
        await p.get_context_window()  # warm the /api/show cache: measured is the stream alone
        started, cpu = time.perf_counter(), time.process_time()
        texts = thoughts = 0
        async for event in p.stream([Message(role="user", content="bench")]):
            if type(event) is TextDeltaEvent:
                texts += 1
            elif type(event) is ThinkingDeltaEvent:
                thoughts += 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await p.aclose()
    assert texts == n and thoughts == (n if think else 0), (name, texts, thoughts)
    return elapsed, cpu


async def _runner(name: str, base: str, model: str, db: Path):
    from tui_agents.memory import get_memory_strategy
    from tui_agents.runner import AgentRunner
    from tui_agents.store import AgentStore, ThreadStore, connect

    conn = await connect(db)
    agent = await AgentStore(conn).create(name=f"bench-{time.monotonic_ns()}", system_prompt="Be brief.")
    p = provider(name, base, model)
    runner = AgentRunner(conn, None, p, get_memory_strategy("last_n", n=20), user_memory=False)
    return conn, p, runner, agent["id"]


async def time_runner(name: str, base: str, think: bool, n: int, db: Path) -> tuple[float, float]:
    from tui_agents.events import TextDelta, ThinkingDelta, TurnFinished
    from tui_agents.store import ThreadStore

    conn, p, runner, agent_id = await _runner(name, base, "bench-think" if think else "bench-reply", db)
    try:
        await p.get_context_window()
        thread = await ThreadStore(conn).create(agent_id)
        started, cpu = time.perf_counter(), time.process_time()
        counts = {TextDelta: 0, ThinkingDelta: 0}
        async for event in runner.run_stream(thread["id"], "u", "bench"):
            if type(event) in counts:
                counts[type(event)] += 1
            elif isinstance(event, TurnFinished):
                assert len(event.text) > 0
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await p.aclose()
        await conn.close()
    assert counts[TextDelta] == n and counts[ThinkingDelta] == (n if think else 0), (name, counts)
    return elapsed, cpu


async def time_image(name: str, base: str, image: bytes | None, db: Path) -> tuple[float, float]:
    """Wall time of one turn, and the CPU time this process spent on it (all its threads)."""
    from tui_agents.store import ThreadStore

    conn, p, runner, agent_id = await _runner(name, base, "bench-reply", db)
    try:
        await p.get_context_window()
        thread = await ThreadStore(conn).create(agent_id)
        started, cpu = time.perf_counter(), time.process_time()
        await runner.run(thread["id"], "u", "What is in this picture?", images=[image] if image else None)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await p.aclose()
        await conn.close()
    return elapsed, cpu


def fake_png(mb: float) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + os.urandom(int(mb * 1024 * 1024) - 8)


async def run_all(args: argparse.Namespace) -> None:
    n, runs = args.tokens, args.runs
    print(f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    with Server(n) as server, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        print(f"\n## Thinking: {n} thinking + {n} reply tokens vs {n} reply tokens (median of {runs}, ms)\n")
        print("Wall time from request to last event; CPU time of this process (all its threads, the server's "
              "excluded) over the same span.\n")
        print("| protocol | level | reply only | thinking + reply | ratio (target <= 2.0) "
              "| CPU reply only | CPU thinking + reply | CPU ratio |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for name in RENDERERS:
            for level, timer in (("provider", time_provider), ("runner", time_runner)):
                extra = (db,) if level == "runner" else ()
                walls: dict[bool, list[float]] = {False: [], True: []}
                cpus: dict[bool, list[float]] = {False: [], True: []}
                await timer(name, server.base, True, n, *extra)  # warm-up
                for _ in range(runs):
                    for think in (False, True):  # interleaved: load from elsewhere hits both alike
                        wall, cpu = await timer(name, server.base, think, n, *extra)
                        walls[think].append(wall)
                        cpus[think].append(cpu)
                plain, both = (statistics.median(walls[k]) * 1000 for k in (False, True))
                cpu_plain, cpu_both = (statistics.median(cpus[k]) * 1000 for k in (False, True))
                print(f"| {name} | {level} | {plain:.1f} | {both:.1f} | {both / plain:.2f} | {cpu_plain:.1f} "
                      f"| {cpu_both:.1f} | {cpu_both / cpu_plain:.2f} |", flush=True)
        image = fake_png(args.image_mb)
        print(f"\n## Attaching a {args.image_mb:g} MB image to a turn (median of {runs}, ms)\n")
        print("| protocol | turn without | turn with image | added (target < 100) | added CPU of this process |")
        print("|---|---:|---:|---:|---:|")
        for name in ("openai", "ollama"):
            walls: dict[bool, list[float]] = {False: [], True: []}
            cpus: dict[bool, list[float]] = {False: [], True: []}
            await time_image(name, server.base, image, db)
            for _ in range(runs):
                for attach in (False, True):
                    wall, cpu = await time_image(name, server.base, image if attach else None, db)
                    walls[attach].append(wall)
                    cpus[attach].append(cpu)
            plain, with_image = (statistics.median(walls[k]) * 1000 for k in (False, True))
            cpu_added = (statistics.median(cpus[True]) - statistics.median(cpus[False])) * 1000
            print(f"| {name} | {plain:.1f} | {with_image:.1f} | {with_image - plain:.1f} | {cpu_added:.1f} |",
                  flush=True)


async def pull_redraws() -> None:
    import io

    import rich.live

    from tests.fakes.llm_server import FakeLLMServer
    from tui_agents.modelscli import _pull_with_bar
    from tui_agents.providers.ollama_models import OllamaModels

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    redraws = 0
    original = rich.live.Live.refresh

    def counted(self: rich.live.Live) -> None:
        nonlocal redraws
        redraws += 1
        original(self)

    rich.live.Live.refresh = counted  # type: ignore[method-assign]
    with FakeLLMServer() as fake:
        fake.pullable["bench:1b"] = 2_000_000_000
        fake.pull_steps, fake.pull_delay = 2000, 0.001
        async with OllamaModels(base_url=fake.base_url) as models:
            started = time.perf_counter()
            await _pull_with_bar(models, "bench:1b", Terminal())
            elapsed = time.perf_counter() - started
    rich.live.Live.refresh = original  # type: ignore[method-assign]
    print("\n## Pull progress bar on a terminal\n")
    print("| progress lines | seconds | redraws | redraws/s (target <= 10) |")
    print("|---:|---:|---:|---:|")
    print(f"| 2,005 | {elapsed:.2f} | {redraws} | {redraws / elapsed:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--image-mb", type=float, default=5.0)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.tokens)
        return
    asyncio.run(run_all(args))
    asyncio.run(pull_redraws())


if __name__ == "__main__":
    main()
